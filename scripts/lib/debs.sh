# shellcheck shell=bash
# scripts/lib/debs.sh - Debian packages as .deb files for the test lab (downloaded, never installed here).
# Needs lib/cli.sh (die).

# deb_candidate PACKAGE: print the version apt would install; on a fresh machine, whose apt lists may not be
# there yet, update them first. Dies when apt knows no such package.
deb_candidate() {
  local version
  version=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  if [[ -z $version || $version == "(none)" ]]; then
    apt-get update -qq >&2 || die "apt-get update failed (as root?)"
    version=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  fi
  [[ -n $version && $version != "(none)" ]] || die "apt knows no package $1"
  printf '%s\n' "$version"
}

# deb_download DIR PACKAGE=VERSION...: download each package into DIR (made if missing) and check that it is
# one. apt downloads as its own user (_apt), who cannot enter root's home: DIR is opened to it.
deb_download() {
  local dir=$1 spec
  shift
  mkdir -p "$dir"
  chmod 0755 "$dir"
  chown _apt "$dir" 2>/dev/null || true
  for spec in "$@"; do
    (cd "$dir" && apt-get download -qq "$spec" >&2) || die "apt-get download $spec failed"
    dpkg-deb -I "$dir/${spec%%=*}_"*.deb >/dev/null || die "the downloaded ${spec%%=*} is not a package"
  done
}
