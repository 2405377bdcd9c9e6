#!/usr/bin/env bash
# Debian packages the project needs: shellcheck (tests), openssl and curl, rclone (the backup test decrypts an
# uploaded snapshot with it, as an operator would), and for the local test hosts debootstrap, systemd-nspawn
# (systemd-container), iproute2 and python3 (serves the etcd tarball).
# Installs only what is missing, so a second run does not touch apt.
set -euo pipefail
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
readonly CLI_NAME=install-deps # the prefix of its messages (die, log)
cli_answer_help "$@"
(($# == 0)) || die "unexpected argument: $1 (see --help)"
needed=(debootstrap systemd-container shellcheck iproute2 openssl curl python3 xz-utils openssh-client util-linux rclone)
missing=()
for pkg in "${needed[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "Debian packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
