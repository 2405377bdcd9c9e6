#!/usr/bin/env bash
# scripts/lab/prometheus.sh - Prometheus and promtool for the monitoring tests, from Debian's `prometheus`
# package, extracted (not installed: installing it would start a Prometheus service on this machine).
#
# Usage:
#   scripts/lab/prometheus.sh install
#       Download the package apt would install (apt-get download) and extract it under
#       $ETCD_CLUSTER_CACHE/prometheus/<package version>/, once per version; print the directory that holds
#       the `prometheus` and `promtool` binaries. A second call only prints it.
#
# Used by the unit tests (promtool check rules, promtool test rules) and tests/e2e/faults.test.ts (a real
# Prometheus scraping the members). `npm test` (scripts/test-all.sh) calls `install`, so a cold machine has them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$here/../lib/cli.sh"
# shellcheck source=scripts/lib/cache.sh
source "$here/../lib/cache.sh"
# shellcheck source=scripts/lib/debs.sh
source "$here/../lib/debs.sh"
readonly CLI_NAME=prometheus

TMP="" DEB=""
install() {
  local version cache dir
  version=$(deb_candidate prometheus)
  cache=$(etcd_cluster_cache)
  dir=$cache/prometheus/${version//[^A-Za-z0-9.+_-]/_}
  if [[ -x $dir/usr/bin/promtool && -x $dir/usr/bin/prometheus ]]; then
    printf '%s\n' "$dir/usr/bin"
    return 0
  fi
  mkdir -p "$cache"
  TMP=$(mktemp -d "$cache/prometheus-download.XXXXXX") DEB=$(mktemp -d)
  trap 'rm -rf "$TMP" "$DEB"' EXIT
  deb_download "$DEB" "prometheus=$version"
  dpkg-deb -x "$DEB"/prometheus_*.deb "$TMP/root"
  "$TMP/root/usr/bin/promtool" --version >/dev/null || die "the extracted promtool does not run"
  "$TMP/root/usr/bin/prometheus" --version >/dev/null || die "the extracted prometheus does not run"
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$TMP/root" "$dir" # whole or not at all: a half-extracted tree is never seen as done
  log "Prometheus $version extracted to $dir"
  printf '%s\n' "$dir/usr/bin"
}

case ${1:-} in
  install) (($# == 1)) || usage_error "unexpected argument: $2"; install ;;
  -h | --help) cli_help ;;
  *) usage_error "missing or unknown command: ${1:-}" ;;
esac
