#!/usr/bin/env bash
# scripts/lab/debian-etcd.sh - Debian's etcd packages (etcd-server, etcd-client) as .deb files, for
# tests/e2e/adopt.test.ts, which builds a cluster on test hosts the way people do by hand and then adopts it.
# The test hosts have no network beyond their bridge, so the test copies these files in.
#
# Usage:
#   scripts/lab/debian-etcd.sh download
#       Download the packages apt would install (apt-get download) into
#       $ETCD_CLUSTER_CACHE/debian-etcd/<package version>/, once per version; print that directory.
#       A second call only prints it.
#
# `npm test` (scripts/test-all.sh) calls `download`, so a cold machine has them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$here/../lib/cli.sh"
# shellcheck source=scripts/lib/cache.sh
source "$here/../lib/cache.sh"
# shellcheck source=scripts/lib/debs.sh
source "$here/../lib/debs.sh"
readonly CLI_NAME=debian-etcd
readonly PACKAGES=(etcd-server etcd-client)

TMP=""
download() {
  local version cache dir
  version=$(deb_candidate etcd-server)
  [[ $(deb_candidate etcd-client) == "$version" ]] || die "etcd-client's candidate is not $version like etcd-server's"
  cache=$(etcd_cluster_cache)
  dir=$cache/debian-etcd/${version//[^A-Za-z0-9.+_-]/_}
  if [[ -f $dir/.complete ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  mkdir -p "$cache/debian-etcd"
  TMP=$(mktemp -d "$cache/debian-etcd/download.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  deb_download "$TMP" "${PACKAGES[@]/%/=$version}"
  touch "$TMP/.complete"
  rm -rf "$dir"
  mv "$TMP" "$dir" # whole or not at all
  log "etcd-server and etcd-client $version downloaded to $dir"
  printf '%s\n' "$dir"
}

case ${1:-} in
  download) (($# == 1)) || usage_error "unexpected argument: $2"; download ;;
  -h | --help) cli_help ;;
  *) usage_error "missing or unknown command: ${1:-}" ;;
esac
