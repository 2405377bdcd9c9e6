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
# .ci/run calls `download`, so a cold machine has them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$here/../lib/cli.sh"
# shellcheck source=scripts/lib/cache.sh
source "$here/../lib/cache.sh"
readonly CLI_NAME=debian-etcd
readonly PACKAGES=(etcd-server etcd-client)

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }

TMP=""
download() {
  local version cache dir p
  version=$(candidate etcd-server)
  if [[ -z $version || $version == "(none)" ]]; then
    # apt's lists may not be there yet on a fresh machine.
    apt-get update -qq >&2 || die "apt-get update failed (as root?)"
    version=$(candidate etcd-server)
  fi
  [[ -n $version && $version != "(none)" ]] || die "apt knows no package etcd-server"
  [[ $(candidate etcd-client) == "$version" ]] || die "etcd-client's candidate is not $version like etcd-server's"
  cache=$(etcd_cluster_cache)
  dir=$cache/debian-etcd/${version//[^A-Za-z0-9.+_-]/_}
  if [[ -f $dir/.complete ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  mkdir -p "$cache/debian-etcd"
  TMP=$(mktemp -d "$cache/debian-etcd/download.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  # apt downloads as its own user (_apt), who cannot enter root's home: the directory is opened to it.
  chmod 0755 "$TMP"
  chown _apt "$TMP" 2>/dev/null || true
  for p in "${PACKAGES[@]}"; do
    (cd "$TMP" && apt-get download -qq "$p=$version" >&2) || die "apt-get download $p=$version failed"
    dpkg-deb -I "$TMP/${p}_"*.deb >/dev/null || die "the downloaded $p is not a package"
  done
  touch "$TMP/.complete"
  rm -rf "$dir"
  mv "$TMP" "$dir" # whole or not at all
  chmod 0755 "$dir"
  log "etcd-server and etcd-client $version downloaded to $dir"
  printf '%s\n' "$dir"
}

case ${1:-} in
  download) (($# == 1)) || usage_error "unexpected argument: $2"; download ;;
  -h | --help) cli_help ;;
  *) usage_error "missing or unknown command: ${1:-}" ;;
esac
