#!/usr/bin/env bash
# testhosts.sh: bring up and tear down N real local Linux test hosts
# (systemd-nspawn containers booting Debian bookworm with systemd and sshd)
# on one Linux bridge per "rig", for the EtcdCluster integration tests.
#
# Usage:
#   scripts/lab/testhosts.sh up   --rig NAME --count N [--private-prefix 10.1.1]
#                             [--public-prefix 198.18.1] [--serve DIR]
#   scripts/lab/testhosts.sh down --rig NAME
#   scripts/lab/testhosts.sh status --rig NAME
#   scripts/lab/testhosts.sh stop-host  --rig NAME --index K   # power host K off, keep its disk
#   scripts/lab/testhosts.sh start-host --rig NAME --index K   # boot host K again, same disk/addresses
#
# Hosts on demand (the Hetzner Cloud API stand-in, tools/hcloud-standin, makes each server one):
#   scripts/lab/testhosts.sh rig-create --rig NAME --public-prefix P [--serve DIR]
#   scripts/lab/testhosts.sh add-host   --rig NAME --id ID --hostname H --authorized-keys FILE
#                                   [--public-ip IP] [--private-ip IP/LEN]... [--user-data FILE]
#   scripts/lab/testhosts.sh start-host --rig NAME --id ID      # boot; waits for sshd
#   scripts/lab/testhosts.sh stop-host  --rig NAME --id ID [--hard yes]
#   scripts/lab/testhosts.sh set-host-networks --rig NAME --id ID [--private-ip IP/LEN]...
#   scripts/lab/testhosts.sh remove-host --rig NAME --id ID
#   scripts/lab/testhosts.sh running-hosts --rig NAME         # ids of running hosts
# A rig made by rig-create has no numbered hosts: its bridge carries P.1/24 (and
# the HTTP server of --serve on P.1), and, for each private subnet a host is on,
# the subnet's first address. Host ID is machine NAME-ID with the given
# hostname and addresses; root's authorized_keys is exactly FILE (as cloud-init
# writes it); user data is stored at /var/lib/cloud/instance/user-data.txt and,
# when it is a script (#!), run once at first boot. `down` removes it all.
#
# Needs root and the Debian packages debootstrap, systemd-container,
# iproute2, openssh-client (and python3 for --serve).
#
# Layout:
#   $ETCD_CLUSTER_CACHE (default $HOME/.cache/etcd-cluster)
#     rootfs/bookworm-<hash>/    base rootfs, built once by debootstrap, never
#                                written to afterwards (lower layer of every host)
#     rigs/NAME/                 state of one rig:
#       rig.env                  settings of the rig (sourced by down/status/...)
#       id_ed25519{,.pub}        the rig's SSH key (root on every host)
#       hosts.json               what `up` printed (read by the TypeScript tests)
#       http.pid, http.log       the --serve HTTP server
#       host-K/                  host K: overlay upper/, work/, merged root/,
#                                nspawn.pid, console.log
#       host-ID/host.env         an on-demand host's hostname and addresses
#       bridge-nets              subnet addresses add-host put on the bridge
#
# Host K (1..N): machine NAME-K, hostname etcd-K, private IP ${private}.(10+K),
# public IP ${public}.(10+K); the bridge has ${private}.1 and ${public}.1.
#
# `up` prints hosts.json on stdout (and only that); progress goes to stderr.
#
# Environment (optional):
#   ETCD_CLUSTER_CACHE        cache/state root (default $HOME/.cache/etcd-cluster)
#   TESTHOSTS_MIRROR          Debian mirror (default: the one apt uses here)
#   TESTHOSTS_BOOT_TIMEOUT    seconds to wait for all hosts' sshd (default 60)
#   TESTHOSTS_STOP_TIMEOUT    seconds to wait for a clean poweroff (default 30)
#
# Exit codes: 0 ok; 1 failure; 2 usage error. `status` exits 0 only when the
# rig exists and every host is running and answers SSH.
set -euo pipefail
# shellcheck source=scripts/lib/pidfile.sh # from the repository root, as scripts/test-all.sh runs it
source "$(dirname "${BASH_SOURCE[0]}")/../lib/pidfile.sh"

readonly SUITE=bookworm
readonly PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,ca-certificates,curl,tar,gzip
# Bump when customize_rootfs changes in a way its text does not show.
readonly CUSTOMIZE_VERSION=1
readonly HTTP_PORT=8080
readonly CG_PREFIX=etcd-testhosts

CACHE_DIR=${ETCD_CLUSTER_CACHE:-${HOME:-/root}/.cache/etcd-cluster}
BOOT_TIMEOUT=${TESTHOSTS_BOOT_TIMEOUT:-60}
STOP_TIMEOUT=${TESTHOSTS_STOP_TIMEOUT:-30}

# Set by parse_args / load_rig.
RIG=""
COUNT=""
PRIVATE_PREFIX=10.1.1
PUBLIC_PREFIX=198.18.1
SERVE_DIR=""
INDEX=""
HOST_ID=""
HOSTNAME_ARG=""
PUBLIC_IP=""
PRIVATE_IPS=()
KEYS_FILE=""
USER_DATA_FILE=""
HARD_STOP=0
HTTP_BIND=""
RIG_DIR=""
BRIDGE=""
ROOTFS=""
LOCK_FD=""

log() { printf 'testhosts: %s\n' "$*" >&2; }
die() { printf 'testhosts: error: %s\n' "$*" >&2; exit 1; }
usage_error() {
  printf 'testhosts: %s\n' "$*" >&2
  sed -n '6,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- arguments

parse_args() {
  while (($# > 0)); do
    local opt=$1 val
    case $opt in
      --*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
      --*)
        (($# >= 2)) || usage_error "option $opt needs a value"
        val=$2; shift 2 ;;
      *) usage_error "unexpected argument: $opt" ;;
    esac
    case $opt in
      --rig) RIG=$val ;;
      --count) COUNT=$val ;;
      --private-prefix) PRIVATE_PREFIX=$val ;;
      --public-prefix) PUBLIC_PREFIX=$val ;;
      --serve) SERVE_DIR=$val ;;
      --index) INDEX=$val ;;
      --id) HOST_ID=$val ;;
      --hostname) HOSTNAME_ARG=$val ;;
      --public-ip) PUBLIC_IP=$val ;;
      --private-ip) PRIVATE_IPS+=("$val") ;;
      --authorized-keys) KEYS_FILE=$val ;;
      --user-data) USER_DATA_FILE=$val ;;
      --hard)
        [[ $val == yes || $val == no ]] || usage_error "--hard takes yes or no"
        [[ $val == yes ]] && HARD_STOP=1 ;;
      *) usage_error "unknown option: $opt" ;;
    esac
  done
  [[ -n $RIG ]] || usage_error "--rig NAME is required"
  [[ $RIG =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] \
    || usage_error "rig name must match ^[a-z0-9][a-z0-9-]{0,31}\$: $RIG"
  RIG_DIR=$CACHE_DIR/rigs/$RIG
  BRIDGE=$(bridge_name "$RIG")
}

valid_prefix() {
  local p=$1 o
  [[ $p =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
  IFS=. read -r -a o <<<"$p"
  ((10#${o[0]} <= 255 && 10#${o[1]} <= 255 && 10#${o[2]} <= 255))
}

bridge_name() {
  local name="etb-$1"
  if ((${#name} > 15)); then
    local h
    h=$(printf '%s' "$1" | sha256sum | cut -c1-5)
    name="etb-${1:0:5}-$h"
  fi
  printf '%s\n' "$name"
}

# ------------------------------------------------------------------ helpers

need_root_and_tools() {
  ((EUID == 0)) || die "must run as root"
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "missing command '$t' (apt-get install debootstrap systemd-container iproute2 openssh-client)"
  done
}

lock_rig() {
  mkdir -p "$CACHE_DIR/rigs"
  exec {LOCK_FD}>"$CACHE_DIR/rigs/.$RIG.lock"
  if ! flock -n "$LOCK_FD"; then
    log "another testhosts command holds rig $RIG; waiting (at most 300 s)"
    flock -w 300 "$LOCK_FD" || die "another testhosts command holds rig $RIG (waited 300 s)"
  fi
}

# Pid files (proc_starttime, write_pidfile, pidfile_alive) and json_str: scripts/lib/pidfile.sh.

ip2int() {
  local o
  IFS=. read -r -a o <<<"$1"
  printf '%s\n' $(((10#${o[0]} << 24) | (10#${o[1]} << 16) | (10#${o[2]} << 8) | 10#${o[3]}))
}

# Do the networks A/LA and B/LB overlap?
nets_overlap() {
  local a b l
  a=$(ip2int "$1") b=$(ip2int "$3")
  l=$(($2 < $4 ? $2 : $4))
  ((l == 0)) && return 0
  local mask=$(((0xffffffff << (32 - l)) & 0xffffffff))
  (((a & mask) == (b & mask)))
}

# Refuse prefixes that any interface address or (non-default) route already covers.
check_prefix_free() {
  check_cidr_free "$1.0" 24
}

check_cidr_free() { # NETWORK LEN
  local net=$1 want=$2 line dev cidr addr len
  while read -r _ dev _ cidr _; do
    addr=${cidr%/*} len=${cidr#*/}
    if nets_overlap "$addr" "$len" "$net" "$want"; then
      die "prefix $net/$want overlaps address $cidr on interface $dev; pick another --private-prefix/--public-prefix"
    fi
  done < <(ip -o -4 addr show)
  while read -r line; do
    cidr=${line%% *}
    case $cidr in default | unreachable | prohibit | blackhole | broadcast | local | multicast | throw) continue ;; esac
    [[ $cidr == */* ]] || cidr=$cidr/32
    [[ ${cidr%/*} =~ ^[0-9.]+$ ]] || continue
    if nets_overlap "${cidr%/*}" "${cidr#*/}" "$net" "$want"; then
      die "prefix $net/$want overlaps route '$line'; pick another prefix"
    fi
  done < <(ip -4 route show table main)
}

# Unmount everything mounted at or below DIR, deepest first.
umount_under() {
  local dir=$1 m i
  local -a mounts=()
  while read -r m; do
    m=$(printf '%b' "$m") # findmnt escapes spaces etc. as \x20
    [[ $m == "$dir" || $m == "$dir"/* ]] && mounts+=("$m")
  done < <(findmnt -rn -o TARGET 2>/dev/null || true)
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null \
      || log "warning: could not unmount ${mounts[i]}"
  done
}

# ------------------------------------------------------------------- rootfs

apt_mirror() {
  if [[ -n ${TESTHOSTS_MIRROR:-} ]]; then
    printf '%s\n' "$TESTHOSTS_MIRROR"
    return
  fi
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    while read -r uri; do
      uri=${uri%/}
      if [[ $uri =~ ^https?://[^[:space:]]+/debian$ ]]; then
        printf '%s\n' "$uri"
        return
      fi
    done < <(sed -nE -e 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' \
      -e 's/^[[:space:]]*URIs:[[:space:]]*//p' "$f" | tr ' ' '\n')
  done
  die "no Debian mirror found in /etc/apt/sources.list{,.d}; set TESTHOSTS_MIRROR"
}

# Everything done to the debootstrapped tree before it becomes the cached
# base rootfs. Its text is part of the cache key.
customize_rootfs() {
  local r=$1
  # Per-host identity is written by prepare_host: no shared host keys or ids.
  rm -f "$r"/etc/ssh/ssh_host_*
  : >"$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id"
  ln -s /etc/machine-id "$r/var/lib/dbus/machine-id"
  printf 'localhost\n' >"$r/etc/hostname" # debootstrap copied the build machine's
  printf '# testhosts: no DNS on test hosts\n' >"$r/etc/resolv.conf"
  : >"$r/etc/motd"
  # Locale-free: no locales package, C.UTF-8 everywhere, accept no LANG/LC_* from clients.
  printf 'LANG=C.UTF-8\n' >"$r/etc/locale.conf"
  printf 'LANG=C.UTF-8\n' >"$r/etc/default/locale"
  sed -i -E '/^[[:space:]]*AcceptEnv/d' "$r/etc/ssh/sshd_config"
  mkdir -p "$r/etc/ssh/sshd_config.d"
  cat >"$r/etc/ssh/sshd_config.d/10-testhosts.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
PrintLastLog no
EOF
  systemctl --root="$r" enable systemd-networkd.service ssh.service
  systemctl --root="$r" set-default multi-user.target
  # Nothing that slows the boot, waits on a console or reaches for the network.
  systemctl --root="$r" mask \
    apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
    dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    console-getty.service container-getty@.service getty@.service serial-getty@.service \
    getty.target systemd-timesyncd.service
  rm -f "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin
  find "$r/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete 2>/dev/null || true
  printf 'suite=%s\npackages=%s\ncustomize=%s\n' "$SUITE" "$PACKAGES" "$CUSTOMIZE_VERSION" \
    >"$r/etc/etcd-testhosts-rootfs"
}

rootfs_key() {
  {
    printf '%s\n%s\n%s\n' "$SUITE" "$PACKAGES" "$CUSTOMIZE_VERSION"
    declare -f customize_rootfs
  } | sha256sum | cut -c1-12
}

BUILD_TMP=""
BUILD_PID=""
cleanup_build_tmp() { # after a failed build: keep only its log
  local i
  if [[ -n $BUILD_PID ]] && kill -0 "$BUILD_PID" 2>/dev/null; then
    # debootstrap runs in a session (and process group) of its own: stop it all.
    kill -TERM -- "-$BUILD_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 -- "-$BUILD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$BUILD_PID" 2>/dev/null || true
    wait "$BUILD_PID" 2>/dev/null || true
  fi
  BUILD_PID=""
  [[ -n $BUILD_TMP && -d $BUILD_TMP ]] || return 0
  log "rootfs build failed; last lines of $BUILD_TMP.log:"
  tail -n 30 "$BUILD_TMP.log" >&2 || true
  umount_under "$BUILD_TMP"
  rm -rf --one-file-system "$BUILD_TMP"
  BUILD_TMP=""
}

# Sets ROOTFS to the cached base rootfs, building it first if needed.
ensure_rootfs() {
  local base=$CACHE_DIR/rootfs key
  key=$(rootfs_key)
  ROOTFS=$base/$SUITE-$key
  [[ -f $ROOTFS/etc/etcd-testhosts-rootfs ]] && return 0
  mkdir -p "$base"
  local fd
  exec {fd}>"$base/.build.lock"
  if ! flock -n "$fd"; then
    log "another up is building the rootfs; waiting for it (at most 900 s)"
    flock -w 900 "$fd" || die "timed out waiting for $base/.build.lock"
  fi
  if [[ -f $ROOTFS/etc/etcd-testhosts-rootfs ]]; then
    exec {fd}>&-
    return 0
  fi
  # Remove what killed builds left (we hold the lock: nobody else is building).
  local old
  for old in "$base"/.tmp-*; do
    [[ -e $old ]] || continue
    [[ -d $old ]] && umount_under "$old"
    rm -rf --one-file-system "$old"
  done
  [[ -e $ROOTFS ]] && rm -rf --one-file-system "$ROOTFS" # incomplete
  local mirror t0=$SECONDS
  mirror=$(apt_mirror)
  BUILD_TMP=$(mktemp -d "$base/.tmp-$SUITE-$key.XXXXXX")
  log "building base rootfs $ROOTFS from $mirror (log: $BUILD_TMP.log)"
  # In the background so that a signal to up is handled at once; a failure
  # exits, and up's EXIT trap runs cleanup_build_tmp.
  # It keeps the build lock (a killed up's orphan still owns the temp dir),
  # not the rig lock.
  (
    [[ -n $LOCK_FD ]] && exec {LOCK_FD}>&-
    exec setsid debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$BUILD_TMP/root" "$mirror"
  ) </dev/null >"$BUILD_TMP.log" 2>&1 &
  BUILD_PID=$!
  wait "$BUILD_PID"
  BUILD_PID=""
  umount_under "$BUILD_TMP"
  customize_rootfs "$BUILD_TMP/root" >>"$BUILD_TMP.log" 2>&1
  mv -T "$BUILD_TMP/root" "$ROOTFS" # atomic: the key file only appears complete
  rm -rf --one-file-system "$BUILD_TMP" "$BUILD_TMP.log"
  BUILD_TMP=""
  exec {fd}>&-
  log "base rootfs built in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- rig state

save_rig() {
  {
    printf 'COUNT=%q\n' "$COUNT"
    printf 'PRIVATE_PREFIX=%q\n' "$PRIVATE_PREFIX"
    printf 'PUBLIC_PREFIX=%q\n' "$PUBLIC_PREFIX"
    printf 'SERVE_DIR=%q\n' "$SERVE_DIR"
    printf 'HTTP_BIND=%q\n' "$HTTP_BIND"
    printf 'BRIDGE=%q\n' "$BRIDGE"
    printf 'ROOTFS=%q\n' "$ROOTFS"
  } >"$RIG_DIR/rig.env.tmp"
  mv -f "$RIG_DIR/rig.env.tmp" "$RIG_DIR/rig.env"
}

load_rig() {
  [[ -f $RIG_DIR/rig.env ]] || return 1
  # shellcheck source=/dev/null
  source "$RIG_DIR/rig.env"
}

machine_name() { printf '%s-%s\n' "$RIG" "$1"; }
host_dir() { printf '%s/host-%s\n' "$RIG_DIR" "$1"; }
private_ip() { printf '%s.%s\n' "$PRIVATE_PREFIX" $((10 + $1)); }
public_ip() { printf '%s.%s\n' "$PUBLIC_PREFIX" $((10 + $1)); }

# Host indices that have state in the rig dir (works after a partial up).
rig_indices() {
  local d
  for d in "$RIG_DIR"/host-*; do
    [[ -d $d ]] && printf '%s\n' "${d##*/host-}"
  done | sort -n
}

# Every background process of a rig runs in a cgroup of its own, UNIT being
# the machine name or "http": $CG_PREFIX/RIG/UNIT in each hierarchy nspawn
# uses. That lets down kill exactly what the rig started, even what a killed
# up never recorded. And nspawn needs it: with --keep-unit it puts itself in
# ./supervisor and the container in ./payload of the cgroup it was started in,
# so two containers started from one cgroup would share one payload cgroup.
cgroup_roots() {
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    printf '%s\n' /sys/fs/cgroup
  else
    local h
    for h in unified systemd; do
      [[ -f /sys/fs/cgroup/$h/cgroup.procs ]] && printf '%s\n' "/sys/fs/cgroup/$h"
    done
  fi
  return 0
}

unit_cgroups() { # UNIT
  local r
  while read -r r; do
    printf '%s/%s/%s/%s\n' "$r" "$CG_PREFIX" "$RIG" "$1"
  done < <(cgroup_roots)
}

cgroup_enter() { # UNIT: move the calling (sub)shell into UNIT's cgroups
  local cg
  while read -r cg; do
    mkdir -p "$cg"
    echo "$BASHPID" >"$cg/cgroup.procs"
  done < <(unit_cgroups "$1")
}

cgroup_pids() { # UNIT: all pids in UNIT's cgroup trees
  local cg
  while read -r cg; do
    [[ -d $cg ]] || continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
  done < <(unit_cgroups "$1") | sort -un
}

cgroup_kill() { # UNIT: SIGKILL everything in UNIT's cgroups
  local cg pid
  while read -r cg; do
    [[ -f $cg/cgroup.kill ]] && { echo 1 >"$cg/cgroup.kill"; } 2>/dev/null
  done < <(unit_cgroups "$1")
  while read -r pid; do
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
  done < <(cgroup_pids "$1")
  return 0
}

cgroup_wait_empty() { # UNIT: wait (at most 10 s) until UNIT has no process left
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -z $(cgroup_pids "$1") ]] && return 0
    sleep 0.1
  done
  log "warning: cgroup $1 of rig $RIG still has processes: $(cgroup_pids "$1" | tr '\n' ' ')"
  return 1
}

cgroup_remove() { # UNIT: remove UNIT's (empty) cgroup directories
  local cg
  while read -r cg; do
    [[ -d $cg ]] || continue
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done < <(unit_cgroups "$1")
  return 0
}

cgroup_remove_rig() { # kill what is left in any cgroup of the rig, remove them all
  local r u
  while read -r r; do
    for u in "$r/$CG_PREFIX/$RIG"/*/; do
      [[ -d $u ]] || continue
      u=${u%/}
      u=${u##*/}
      cgroup_kill "$u"
      cgroup_wait_empty "$u" || true
      cgroup_remove "$u"
    done
    rmdir "$r/$CG_PREFIX/$RIG" 2>/dev/null || true
    rmdir "$r/$CG_PREFIX" 2>/dev/null || true
  done < <(cgroup_roots)
  return 0
}

# ------------------------------------------------------------------- network

create_bridge() {
  [[ -e /sys/class/net/$BRIDGE ]] && die "interface $BRIDGE already exists; run '$0 down --rig $RIG' or pick another rig name"
  [[ -z $PRIVATE_PREFIX ]] || check_prefix_free "$PRIVATE_PREFIX"
  check_prefix_free "$PUBLIC_PREFIX"
  : >"$RIG_DIR/bridge.ours" # before creating it, so a killed up still deletes it
  ip link add name "$BRIDGE" type bridge
  ip link set dev "$BRIDGE" alias "etcd-testhosts:$RIG"
  if [[ -w /proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6 ]]; then
    echo 1 >"/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6"
  fi
  [[ -z $PRIVATE_PREFIX ]] || ip addr add "$PRIVATE_PREFIX.1/24" dev "$BRIDGE"
  ip addr add "$PUBLIC_PREFIX.1/24" dev "$BRIDGE"
  ip link set dev "$BRIDGE" up
}

delete_bridge() {
  [[ -e /sys/class/net/$BRIDGE ]] || { rm -f "$RIG_DIR/bridge.ours"; return 0; }
  local alias=""
  alias=$(cat "/sys/class/net/$BRIDGE/ifalias" 2>/dev/null || true)
  if [[ $alias == "etcd-testhosts:$RIG" || -f $RIG_DIR/bridge.ours ]]; then
    ip link del dev "$BRIDGE" || log "warning: could not delete bridge $BRIDGE"
  else
    log "warning: $BRIDGE exists but was not created by this rig; left alone"
  fi
  rm -f "$RIG_DIR/bridge.ours"
}

# ------------------------------------------------------------------- hosts

prepare_host() { # K: overlay on the base rootfs plus the host's identity
  local k=$1 d root
  d=$(host_dir "$k")
  root=$d/root
  mkdir -p "$d/upper" "$d/work" "$root"
  mountpoint -q "$root" \
    || mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$root"
  printf 'etcd-%s\n' "$k" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tetcd-%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$k" \
    >"$root/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
  echo >>"$root/etc/machine-id"
  rm -f "$root"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@etcd-$k" -f "$root/etc/ssh/ssh_host_ed25519_key"
  install -d -m 700 "$root/root/.ssh"
  install -m 600 "$RIG_DIR/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  mkdir -p "$root/etc/systemd/network"
  cat >"$root/etc/systemd/network/10-static.network" <<EOF
# testhosts: sorts before 80-container-host0.network (which would run DHCP)
[Match]
Name=host0

[Network]
Address=$(private_ip "$k")/24
Address=$(public_ip "$k")/24
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
}

boot_host() { # K: start nspawn in the background, in its own cgroup
  local k=$1 d machine pid i
  d=$(host_dir "$k")
  machine=$(machine_name "$k")
  mountpoint -q "$d/root" || die "host $k: $d/root is not mounted"
  pidfile_alive "$d/nspawn.pid" >/dev/null && die "host $k ($machine) is already running"
  cgroup_kill "$machine" # leftovers of a crashed container must not share its cgroup
  cgroup_wait_empty "$machine" || die "host $k: old processes will not die"
  (
    cgroup_enter "$machine"
    [[ -n $LOCK_FD ]] && exec {LOCK_FD}>&- # the children must not hold the rig lock
    exec setsid systemd-nspawn --boot --register=no --keep-unit --settings=false \
      --network-bridge="$BRIDGE" -D "$d/root" -M "$machine" --hostname="$(host_hostname "$k")" \
      --kill-signal=SIGRTMIN+4 --console=read-only --link-journal=no \
      --resolv-conf=off --timezone=off
  ) </dev/null >>"$d/console.log" 2>&1 &
  pid=$!
  write_pidfile "$d/nspawn.pid" "$pid" || true
  # $! is the subshell, which execs setsid, which execs nspawn (not a group
  # leader, so setsid does not fork): the same pid and start time throughout.
  for ((i = 0; i < 50; i++)); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd-nspawn ]] && break
    proc_starttime "$pid" >/dev/null || break
    sleep 0.1
  done
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd-nspawn ]] || {
    tail -n 20 "$d/console.log" >&2 || true
    die "host $k: systemd-nspawn did not start (log: $d/console.log)"
  }
}

ssh_opts() {
  printf '%s\n' -F /dev/null -i "$RIG_DIR/id_ed25519" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=2 -o LogLevel=ERROR
}

ssh_ok() { # K
  local -a o
  mapfile -t o < <(ssh_opts)
  timeout 10 ssh "${o[@]}" "root@$(public_ip "$1")" true </dev/null >/dev/null 2>&1
}

wait_ssh() { # K...: every given host answers SSH within BOOT_TIMEOUT seconds
  local -a pending=("$@") still
  local k d deadline=$((SECONDS + BOOT_TIMEOUT)) rounds=0
  while ((${#pending[@]} > 0)); do
    still=()
    for k in "${pending[@]}"; do
      d=$(host_dir "$k")
      if ! pidfile_alive "$d/nspawn.pid" >/dev/null; then
        tail -n 30 "$d/console.log" >&2 || true
        die "host $k ($(machine_name "$k")) exited while booting (log: $d/console.log)"
      fi
      if timeout 1 bash -c "</dev/tcp/$(public_ip "$k")/22" 2>/dev/null && ssh_ok "$k"; then
        log "host $k ($(machine_name "$k"), $(public_ip "$k")) answers SSH after $((SECONDS - deadline + BOOT_TIMEOUT)) s"
      else
        still+=("$k")
      fi
    done
    pending=("${still[@]}")
    ((${#pending[@]} == 0)) && break
    rounds=$((rounds + 1))
    if ((SECONDS >= deadline || rounds > BOOT_TIMEOUT * 4)); then
      for k in "${pending[@]}"; do
        log "host $k did not answer SSH; last console lines:"
        tail -n 30 "$(host_dir "$k")/console.log" >&2 || true
      done
      die "hosts ${pending[*]} did not answer SSH within $BOOT_TIMEOUT s"
    fi
    sleep 0.25
  done
}

# Power the given hosts off (SIGTERM makes nspawn send its --kill-signal,
# SIGRTMIN+4, i.e. a clean poweroff, to the container's systemd), wait, then
# SIGKILL whatever is left in their cgroups. Disks and mounts stay.
stop_hosts() {
  local k d pid i machine
  local -a waiting=()
  for k in "$@"; do
    d=$(host_dir "$k")
    if pid=$(pidfile_alive "$d/nspawn.pid"); then
      if ((HARD_STOP)); then
        kill -KILL "$pid" 2>/dev/null || true # power cut: no clean shutdown
      else
        kill -TERM "$pid" 2>/dev/null || true
      fi
      waiting+=("$k")
    fi
  done
  for ((i = 0; i < STOP_TIMEOUT * 10 && ${#waiting[@]} > 0; i++)); do
    local -a still=()
    for k in "${waiting[@]}"; do
      pidfile_alive "$(host_dir "$k")/nspawn.pid" >/dev/null && still+=("$k")
    done
    waiting=("${still[@]}")
    ((${#waiting[@]} == 0)) && break
    sleep 0.1
  done
  for k in "$@"; do
    d=$(host_dir "$k")
    machine=$(machine_name "$k")
    if pid=$(pidfile_alive "$d/nspawn.pid"); then
      log "host $k did not power off within $STOP_TIMEOUT s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    cgroup_kill "$machine" # also what a killed up started but never recorded
    cgroup_wait_empty "$machine" || true
    rm -f "$d/nspawn.pid"
    cgroup_remove "$machine"
  done
}

# ------------------------------------------------------------------ http

start_http() {
  local py ip=${HTTP_BIND:-$PRIVATE_PREFIX.1} pid i
  py=/usr/bin/python3
  [[ -x $py ]] || py=$(command -v python3) || die "--serve needs python3"
  (
    cgroup_enter http
    [[ -n $LOCK_FD ]] && exec {LOCK_FD}>&-
    exec setsid "$py" -m http.server --bind "$ip" "$HTTP_PORT" --directory "$SERVE_DIR"
  ) </dev/null >"$RIG_DIR/http.log" 2>&1 &
  pid=$!
  write_pidfile "$RIG_DIR/http.pid" "$pid" || die "HTTP server exited at once: $(cat "$RIG_DIR/http.log")"
  for ((i = 0; i < 100; i++)); do
    timeout 1 bash -c "</dev/tcp/$ip/$HTTP_PORT" 2>/dev/null && return 0
    pidfile_alive "$RIG_DIR/http.pid" >/dev/null || break
    sleep 0.1
  done
  cat "$RIG_DIR/http.log" >&2 || true
  die "HTTP server on $ip:$HTTP_PORT did not come up"
}

stop_http() {
  local pid i
  if pid=$(pidfile_alive "$RIG_DIR/http.pid"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pidfile_alive "$RIG_DIR/http.pid" >/dev/null || break
      sleep 0.1
    done
    if pid=$(pidfile_alive "$RIG_DIR/http.pid"); then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  cgroup_kill http
  cgroup_wait_empty http || true
  cgroup_remove http
  rm -f "$RIG_DIR/http.pid"
}

# ------------------------------------------------------------------ output

write_hosts_json() {
  local k d pid first=1 tmp=$RIG_DIR/hosts.json.tmp key=$RIG_DIR/id_ed25519
  {
    printf '{\n  "rig": %s,\n  "bridge": %s,\n' "$(json_str "$RIG")" "$(json_str "$BRIDGE")"
    printf '  "privatePrefix": %s,\n  "publicPrefix": %s,\n' "$(json_str "$PRIVATE_PREFIX")" "$(json_str "$PUBLIC_PREFIX")"
    printf '  "bridgePrivateIp": %s,\n  "bridgePublicIp": %s,\n' "$(json_str "$PRIVATE_PREFIX.1")" "$(json_str "$PUBLIC_PREFIX.1")"
    [[ -n $SERVE_DIR ]] && printf '  "serveUrl": %s,\n' "$(json_str "http://${HTTP_BIND:-$PRIVATE_PREFIX.1}:$HTTP_PORT")"
    printf '  "sshUser": "root",\n  "sshPrivateKeyPath": %s,\n  "hosts": [' "$(json_str "$key")"
    for ((k = 1; k <= COUNT; k++)); do
      d=$(host_dir "$k")
      pid=$(pidfile_alive "$d/nspawn.pid" || echo null)
      ((first)) || printf ','
      first=0
      printf '\n    {"name": %s, "machine": %s, "privateIp": %s, "publicIp": %s, "sshUser": "root", "sshPrivateKeyPath": %s, "pid": %s}' \
        "$(json_str "etcd-$k")" "$(json_str "$(machine_name "$k")")" "$(json_str "$(private_ip "$k")")" \
        "$(json_str "$(public_ip "$k")")" "$(json_str "$key")" "$pid"
    done
    printf '\n  ]\n}\n'
  } >"$tmp"
  mv -f "$tmp" "$RIG_DIR/hosts.json"
}

# ---------------------------------------------------------------- commands

# Tear everything of the rig down; safe after a partial up and when run twice.
teardown() {
  local k d
  local -a idx=()
  mapfile -t idx < <(rig_indices)
  ((${#idx[@]} > 0)) && stop_hosts "${idx[@]}"
  stop_http
  for k in "${idx[@]}"; do
    d=$(host_dir "$k")
    umount_under "$d"
    if mountpoint -q "$d/root" 2>/dev/null; then
      log "warning: $d/root is still mounted; keeping $d"
      continue
    fi
    rm -rf --one-file-system "$d"
  done
  cgroup_remove_rig
  delete_bridge
  # Anything left (a path we do not know of) is only removed when unmounted.
  umount_under "$RIG_DIR"
  rm -rf --one-file-system "$RIG_DIR"
}

UP_DONE=0
on_up_exit() {
  local rc=$?
  ((UP_DONE)) && return 0
  trap - EXIT INT TERM HUP
  log "up failed (exit $rc); tearing rig $RIG down"
  cleanup_build_tmp || true
  teardown || true
  exit "$rc"
}

cmd_up() {
  if ! [[ $COUNT =~ ^[0-9]+$ ]] || ((COUNT < 1 || COUNT > 240)); then
    usage_error "--count must be 1..240"
  fi
  valid_prefix "$PRIVATE_PREFIX" || usage_error "bad --private-prefix: $PRIVATE_PREFIX (want A.B.C)"
  valid_prefix "$PUBLIC_PREFIX" || usage_error "bad --public-prefix: $PUBLIC_PREFIX (want A.B.C)"
  [[ $PRIVATE_PREFIX != "$PUBLIC_PREFIX" ]] || usage_error "private and public prefixes must differ"
  if [[ -n $SERVE_DIR ]]; then
    [[ -d $SERVE_DIR ]] || usage_error "--serve: no such directory: $SERVE_DIR"
    SERVE_DIR=$(cd "$SERVE_DIR" && pwd -P)
  fi
  need_root_and_tools debootstrap systemd-nspawn ip ssh ssh-keygen flock findmnt mountpoint setsid timeout
  [[ $CACHE_DIR == /* && $CACHE_DIR != *[,:[:space:]]* ]] \
    || die "ETCD_CLUSTER_CACHE must be an absolute path without spaces, commas or colons: $CACHE_DIR"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "overlayfs is not available"

  local t0=$SECONDS k
  lock_rig
  if [[ -f $RIG_DIR/rig.env ]] || compgen -G "$RIG_DIR/host-*" >/dev/null; then
    die "rig $RIG already exists ($RIG_DIR); run '$0 down --rig $RIG' first"
  fi
  mkdir -p "$RIG_DIR"
  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP

  ensure_rootfs
  save_rig # before creating anything, so down knows what to remove
  rm -f "$RIG_DIR/id_ed25519" "$RIG_DIR/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C "testhosts-$RIG" -f "$RIG_DIR/id_ed25519"
  create_bridge
  [[ -n $SERVE_DIR ]] && start_http
  for ((k = 1; k <= COUNT; k++)); do prepare_host "$k"; done
  for ((k = 1; k <= COUNT; k++)); do boot_host "$k"; done
  local -a all=()
  for ((k = 1; k <= COUNT; k++)); do all+=("$k"); done
  wait_ssh "${all[@]}"
  write_hosts_json
  UP_DONE=1
  trap - EXIT INT TERM HUP
  log "rig $RIG up: $COUNT hosts on $BRIDGE in $((SECONDS - t0)) s"
  cat "$RIG_DIR/hosts.json"
}

cmd_down() {
  need_root_and_tools ip flock findmnt mountpoint
  if [[ ! -d $RIG_DIR ]]; then
    # Nothing recorded; still remove a bridge of ours if one is left.
    delete_bridge_if_ours_only
    cgroup_remove_rig
    log "rig $RIG: nothing to tear down"
    return 0
  fi
  lock_rig
  load_rig || true
  teardown
  log "rig $RIG down"
}

delete_bridge_if_ours_only() {
  [[ -e /sys/class/net/$BRIDGE ]] || return 0
  if [[ $(cat "/sys/class/net/$BRIDGE/ifalias" 2>/dev/null || true) == "etcd-testhosts:$RIG" ]]; then
    ip link del dev "$BRIDGE" || true
  fi
}

need_index() {
  load_rig || die "rig $RIG does not exist (no $RIG_DIR/rig.env)"
  if ! [[ $INDEX =~ ^[0-9]+$ ]] || ((INDEX < 1 || INDEX > COUNT)); then
    usage_error "--index must be 1..$COUNT"
  fi
}

cmd_stop_host() {
  need_root_and_tools ip flock
  lock_rig
  need_index
  stop_hosts "$INDEX"
  write_hosts_json
  log "host $INDEX ($(machine_name "$INDEX")) stopped"
}

cmd_start_host() {
  need_root_and_tools systemd-nspawn ip ssh flock mountpoint setsid timeout
  lock_rig
  need_index
  [[ -e /sys/class/net/$BRIDGE ]] || die "bridge $BRIDGE is gone; run down and up again"
  pidfile_alive "$(host_dir "$INDEX")/nspawn.pid" >/dev/null && die "host $INDEX is already running"
  prepare_mount_only "$INDEX"
  boot_host "$INDEX"
  wait_ssh "$INDEX"
  write_hosts_json
  log "host $INDEX ($(machine_name "$INDEX")) started"
}

prepare_mount_only() { # K: remount the overlay if it is gone (same disk)
  local d
  d=$(host_dir "$1")
  [[ -d $d/upper ]] || die "host $1 has no disk ($d/upper)"
  mountpoint -q "$d/root" \
    || mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$d/root"
}

cmd_status() {
  if ! load_rig; then
    printf 'rig %s: not up (no %s)\n' "$RIG" "$RIG_DIR/rig.env"
    return 1
  fi
  local ok=0 k d pid state ssh_state
  printf 'rig %s: bridge %s (%s), private %s.0/24, public %s.0/24, dir %s\n' "$RIG" "$BRIDGE" \
    "$([[ -e /sys/class/net/$BRIDGE ]] && echo present || echo MISSING)" \
    "$PRIVATE_PREFIX" "$PUBLIC_PREFIX" "$RIG_DIR"
  [[ -e /sys/class/net/$BRIDGE ]] || ok=1
  if [[ -n $SERVE_DIR ]]; then
    if pid=$(pidfile_alive "$RIG_DIR/http.pid"); then
      printf 'http: http://%s:%s serving %s (pid %s)\n' "${HTTP_BIND:-$PRIVATE_PREFIX.1}" "$HTTP_PORT" "$SERVE_DIR" "$pid"
    else
      printf 'http: NOT RUNNING\n'
      ok=1
    fi
  fi
  for ((k = 1; k <= COUNT; k++)); do
    d=$(host_dir "$k")
    if pid=$(pidfile_alive "$d/nspawn.pid"); then
      state="running pid=$pid"
      if ssh_ok "$k"; then ssh_state=ok; else ssh_state=FAIL; ok=1; fi
    else
      state=stopped ssh_state=-
      ok=1
    fi
    printf '%s etcd-%s private=%s public=%s %s ssh=%s\n' "$(machine_name "$k")" "$k" \
      "$(private_ip "$k")" "$(public_ip "$k")" "$state" "$ssh_state"
  done
  if ((COUNT == 0)); then # a rig from rig-create: its on-demand hosts
    for d in "$RIG_DIR"/host-*; do
      [[ -f $d/host.env ]] || continue
      k=${d##*/host-}
      (
        # shellcheck source=/dev/null
        source "$d/host.env"
        state=stopped
        if pid=$(pidfile_alive "$d/nspawn.pid"); then state="running pid=$pid"; fi
        printf '%s %s private=%s public=%s %s\n' "$(machine_name "$k")" "$HOST_HOSTNAME" \
          "${HOST_PRIVATE_IPS:-none}" "${HOST_PUBLIC_IP:-none}" "$state"
      )
    done
  fi
  return "$ok"
}

# ------------------------------------------------------- hosts on demand

# Hostname of host K: from its host.env (on-demand hosts), else etcd-K.
host_hostname() {
  local f
  f=$(host_dir "$1")/host.env
  if [[ -f $f ]]; then
    (
      # shellcheck source=/dev/null
      source "$f"
      printf '%s\n' "$HOST_HOSTNAME"
    )
  else
    printf 'etcd-%s\n' "$1"
  fi
}

int2ip() {
  printf '%s.%s.%s.%s\n' $((($1 >> 24) & 255)) $((($1 >> 16) & 255)) $((($1 >> 8) & 255)) $(($1 & 255))
}

valid_ip() {
  local o
  [[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
  IFS=. read -r -a o <<<"$1"
  ((10#${o[0]} <= 255 && 10#${o[1]} <= 255 && 10#${o[2]} <= 255 && 10#${o[3]} <= 255))
}

valid_cidr() { # IP/LEN with LEN 8..30
  [[ $1 == */* ]] || return 1
  valid_ip "${1%/*}" && [[ ${1#*/} =~ ^[0-9]{1,2}$ ]] && ((10#${1#*/} >= 8 && 10#${1#*/} <= 30))
}

# The bridge address for the subnet of IP/LEN: the subnet's first address, same length.
subnet_gateway() {
  local ip len n mask
  ip=$(ip2int "${1%/*}") len=${1#*/}
  mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
  n=$((ip & mask))
  printf '%s/%s\n' "$(int2ip $((n + 1)))" "$len"
}

need_dynamic_rig() {
  load_rig || die "rig $RIG does not exist (no $RIG_DIR/rig.env); run rig-create first"
  [[ $COUNT == 0 ]] || die "rig $RIG was made by up (numbered hosts); on-demand hosts need a rig from rig-create"
  [[ -e /sys/class/net/$BRIDGE ]] || die "bridge $BRIDGE is gone; run down and rig-create again"
}

need_host_id() {
  [[ $HOST_ID =~ ^[1-9][0-9]{0,11}$ ]] || usage_error "--id must be a positive integer of at most 12 digits"
}

load_host_env() { # sets HOST_HOSTNAME HOST_PUBLIC_IP HOST_PRIVATE_IPS of host HOST_ID
  local f
  f=$(host_dir "$HOST_ID")/host.env
  [[ -f $f ]] || die "rig $RIG has no host $HOST_ID"
  # shellcheck source=/dev/null
  source "$f"
}

write_host_env() { # ID HOSTNAME PUBLIC_IP PRIVATE_IPS...
  local d
  d=$(host_dir "$1")
  {
    printf 'HOST_HOSTNAME=%q\n' "$2"
    printf 'HOST_PUBLIC_IP=%q\n' "$3"
    printf 'HOST_PRIVATE_IPS=%q\n' "${*:4}"
  } >"$d/host.env.tmp"
  mv -f "$d/host.env.tmp" "$d/host.env"
}

# The host's systemd-networkd configuration: one interface, every address on it.
write_host_network() { # ROOT PUBLIC_IP PRIVATE_CIDRS...
  local root=$1 pub=$2 a
  shift 2
  {
    printf '# testhosts: sorts before 80-container-host0.network (which would run DHCP)\n'
    printf '[Match]\nName=host0\n\n[Network]\n'
    [[ -z $pub ]] || printf 'Address=%s/24\n' "$pub"
    for a in "$@"; do printf 'Address=%s\n' "$a"; done
    printf 'LinkLocalAddressing=no\nIPv6AcceptRA=no\n'
  } >"$root/etc/systemd/network/10-static.network"
}

# Put on the bridge the gateway address of every private subnet some host is on; take off the ones no
# host needs any more (only those this rig added). Runs under the rig lock.
sync_bridge_nets() {
  local f gw cidr net len
  local -a want=() have=() kept=()
  for f in "$RIG_DIR"/host-*/host.env; do
    [[ -f $f ]] || continue
    local HOST_PRIVATE_IPS=""
    # shellcheck source=/dev/null
    source "$f"
    for cidr in $HOST_PRIVATE_IPS; do
      gw=$(subnet_gateway "$cidr")
      [[ " ${want[*]} " == *" $gw "* ]] || want+=("$gw")
    done
  done
  [[ -f $RIG_DIR/bridge-nets ]] && mapfile -t have <"$RIG_DIR/bridge-nets"
  for gw in "${have[@]}"; do
    [[ -n $gw ]] || continue
    if [[ " ${want[*]} " != *" $gw "* ]]; then
      ip addr del "$gw" dev "$BRIDGE" 2>/dev/null || log "warning: could not remove $gw from $BRIDGE"
      log "bridge $BRIDGE: removed $gw"
    fi
  done
  for gw in "${want[@]}"; do
    if [[ " ${have[*]} " != *" $gw "* ]]; then
      len=${gw#*/}
      net=$(int2ip $(($(ip2int "${gw%/*}") - 1)))
      check_cidr_free "$net" "$len"
      ip addr add "$gw" dev "$BRIDGE"
      log "bridge $BRIDGE: added $gw"
    fi
    kept+=("$gw")
  done
  if ((${#kept[@]} > 0)); then printf '%s\n' "${kept[@]}"; fi >"$RIG_DIR/bridge-nets.tmp"
  mv -f "$RIG_DIR/bridge-nets.tmp" "$RIG_DIR/bridge-nets"
}

# sync_bridge_nets in a subshell: its die (a subnet that overlaps something) becomes a return code.
sync_bridge_nets_checked() {
  (sync_bridge_nets)
}

cmd_rig_create() {
  valid_prefix "$PUBLIC_PREFIX" || usage_error "bad --public-prefix: $PUBLIC_PREFIX (want A.B.C)"
  if [[ -n $SERVE_DIR ]]; then
    [[ -d $SERVE_DIR ]] || usage_error "--serve: no such directory: $SERVE_DIR"
    SERVE_DIR=$(cd "$SERVE_DIR" && pwd -P)
  fi
  need_root_and_tools debootstrap systemd-nspawn ip ssh-keygen flock findmnt mountpoint setsid timeout nsenter
  [[ $CACHE_DIR == /* && $CACHE_DIR != *[,:[:space:]]* ]] \
    || die "ETCD_CLUSTER_CACHE must be an absolute path without spaces, commas or colons: $CACHE_DIR"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "overlayfs is not available"
  local t0=$SECONDS
  lock_rig
  if [[ -f $RIG_DIR/rig.env ]] || compgen -G "$RIG_DIR/host-*" >/dev/null; then
    die "rig $RIG already exists ($RIG_DIR); run '$0 down --rig $RIG' first"
  fi
  mkdir -p "$RIG_DIR"
  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  COUNT=0 PRIVATE_PREFIX="" HTTP_BIND=$PUBLIC_PREFIX.1
  ensure_rootfs
  save_rig
  create_bridge
  : >"$RIG_DIR/bridge-nets"
  [[ -n $SERVE_DIR ]] && start_http
  UP_DONE=1
  trap - EXIT INT TERM HUP
  log "rig $RIG created: bridge $BRIDGE with $PUBLIC_PREFIX.1/24 in $((SECONDS - t0)) s"
  printf '{\n  "rig": %s,\n  "bridge": %s,\n  "publicPrefix": %s,\n  "bridgePublicIp": %s' "$(json_str "$RIG")" \
    "$(json_str "$BRIDGE")" "$(json_str "$PUBLIC_PREFIX")" "$(json_str "$PUBLIC_PREFIX.1")"
  [[ -z $SERVE_DIR ]] || printf ',\n  "serveUrl": %s' "$(json_str "http://$HTTP_BIND:$HTTP_PORT")"
  printf '\n}\n'
}

cmd_add_host() {
  need_host_id
  [[ $HOSTNAME_ARG =~ ^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$ ]] || usage_error "--hostname must be a host name"
  [[ -n $KEYS_FILE && -f $KEYS_FILE ]] || usage_error "--authorized-keys FILE is required"
  [[ -z $USER_DATA_FILE || -f $USER_DATA_FILE ]] || usage_error "--user-data: no such file: $USER_DATA_FILE"
  [[ -z $PUBLIC_IP ]] || valid_ip "$PUBLIC_IP" || usage_error "bad --public-ip: $PUBLIC_IP"
  local c
  for c in "${PRIVATE_IPS[@]}"; do valid_cidr "$c" || usage_error "bad --private-ip: $c (want IP/LEN, LEN 8..30)"; done
  [[ -n $PUBLIC_IP || ${#PRIVATE_IPS[@]} -gt 0 ]] || usage_error "a host needs --public-ip or --private-ip"
  need_root_and_tools ip ssh-keygen flock mountpoint
  lock_rig
  need_dynamic_rig
  if [[ -n $PUBLIC_IP ]] && ! nets_overlap "$PUBLIC_IP" 32 "$PUBLIC_PREFIX.0" 24; then
    die "--public-ip $PUBLIC_IP is outside the rig's public range $PUBLIC_PREFIX.0/24"
  fi
  local d root
  d=$(host_dir "$HOST_ID")
  [[ ! -e $d ]] || die "rig $RIG already has host $HOST_ID"
  root=$d/root
  mkdir -p "$d/upper" "$d/work" "$root"
  write_host_env "$HOST_ID" "$HOSTNAME_ARG" "$PUBLIC_IP" "${PRIVATE_IPS[@]}"
  if ! sync_bridge_nets_checked; then
    rm -rf --one-file-system "$d"
    sync_bridge_nets || true
    die "host $HOST_ID: its private subnet cannot go on $BRIDGE"
  fi
  mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$root"
  printf '%s\n' "$HOSTNAME_ARG" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$HOSTNAME_ARG" >"$root/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
  echo >>"$root/etc/machine-id"
  rm -f "$root"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@$HOSTNAME_ARG" -f "$root/etc/ssh/ssh_host_ed25519_key"
  # As cloud-init does: the server's SSH keys, and only them, for root.
  install -d -m 700 "$root/root/.ssh"
  install -m 600 "$KEYS_FILE" "$root/root/.ssh/authorized_keys"
  mkdir -p "$root/etc/systemd/network"
  write_host_network "$root" "$PUBLIC_IP" "${PRIVATE_IPS[@]}"
  if [[ -n $USER_DATA_FILE ]]; then
    install -d -m 700 "$root/var/lib/cloud" "$root/var/lib/cloud/instance" "$root/var/lib/cloud/instance/scripts"
    install -m 600 "$USER_DATA_FILE" "$root/var/lib/cloud/instance/user-data.txt"
    if [[ $(head -c 2 "$USER_DATA_FILE") == '#!' ]]; then
      install -m 700 "$USER_DATA_FILE" "$root/var/lib/cloud/instance/scripts/part-001"
      cat >"$root/etc/systemd/system/testhosts-user-data.service" <<'EOF'
[Unit]
Description=Run the server's user data script once (as cloud-init would)
After=network.target
ConditionPathExists=!/var/lib/cloud/instance/boot-finished

[Service]
Type=oneshot
ExecStart=/var/lib/cloud/instance/scripts/part-001
ExecStartPost=/usr/bin/touch /var/lib/cloud/instance/boot-finished

[Install]
WantedBy=multi-user.target
EOF
      mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
      ln -sf ../testhosts-user-data.service "$root/etc/systemd/system/multi-user.target.wants/testhosts-user-data.service"
    fi
  fi
  log "host $HOST_ID ($HOSTNAME_ARG) created: public ${PUBLIC_IP:-none}, private ${PRIVATE_IPS[*]:-none}"
}

# Is the host's sshd up? Reads the SSH banner (no login: the rig's key is not authorized there).
sshd_answers() { # IP
  local banner
  # shellcheck disable=SC2016 # $1 expands in the inner bash
  banner=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/22" && head -c 8 <&3' _ "$1" 2>/dev/null) || return 1
  [[ $banner == SSH-2.0- ]]
}

cmd_start_dynamic() {
  need_host_id
  need_root_and_tools systemd-nspawn ip flock mountpoint setsid timeout
  lock_rig
  need_dynamic_rig
  load_host_env
  local d addr deadline
  d=$(host_dir "$HOST_ID")
  if pidfile_alive "$d/nspawn.pid" >/dev/null; then
    log "host $HOST_ID is already running"
    return 0
  fi
  prepare_mount_only "$HOST_ID"
  boot_host "$HOST_ID"
  # The rig lock is not needed to wait, and other hosts may boot meanwhile.
  exec {LOCK_FD}>&-
  LOCK_FD=""
  addr=$HOST_PUBLIC_IP
  if [[ -z $addr ]]; then
    addr=${HOST_PRIVATE_IPS%% *}
    addr=${addr%/*}
  fi
  deadline=$((SECONDS + BOOT_TIMEOUT))
  until sshd_answers "$addr"; do
    if ! pidfile_alive "$d/nspawn.pid" >/dev/null; then
      tail -n 30 "$d/console.log" >&2 || true
      die "host $HOST_ID exited while booting (log: $d/console.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$d/console.log" >&2 || true
      die "host $HOST_ID: sshd on $addr did not answer within $BOOT_TIMEOUT s"
    fi
    sleep 0.25
  done
  log "host $HOST_ID ($HOST_HOSTNAME, $addr) answers SSH"
}

cmd_stop_dynamic() {
  need_host_id
  need_root_and_tools ip flock
  lock_rig
  need_dynamic_rig
  load_host_env
  stop_hosts "$HOST_ID"
  if ((HARD_STOP)); then log "host $HOST_ID stopped (power cut)"; else log "host $HOST_ID shut down"; fi
}

# PID 1 of a running host (the child of its systemd-nspawn), in this machine's pid namespace.
host_leader() { # K
  local pid child
  pid=$(pidfile_alive "$(host_dir "$1")/nspawn.pid") || return 1
  child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null) || return 1
  child=${child%% *}
  [[ $child =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$child"
}

cmd_set_host_networks() {
  need_host_id
  local c
  for c in "${PRIVATE_IPS[@]}"; do valid_cidr "$c" || usage_error "bad --private-ip: $c (want IP/LEN, LEN 8..30)"; done
  need_root_and_tools ip flock mountpoint nsenter
  lock_rig
  need_dynamic_rig
  load_host_env
  [[ -n $HOST_PUBLIC_IP || ${#PRIVATE_IPS[@]} -gt 0 ]] || die "host $HOST_ID would have no address left"
  local d old=$HOST_PRIVATE_IPS leader a
  d=$(host_dir "$HOST_ID")
  write_host_env "$HOST_ID" "$HOST_HOSTNAME" "$HOST_PUBLIC_IP" "${PRIVATE_IPS[@]}"
  if ! sync_bridge_nets_checked; then
    # shellcheck disable=SC2086 # old is a space-separated list
    write_host_env "$HOST_ID" "$HOST_HOSTNAME" "$HOST_PUBLIC_IP" $old
    die "host $HOST_ID: the new private subnet cannot go on $BRIDGE"
  fi
  prepare_mount_only "$HOST_ID"
  write_host_network "$d/root" "$HOST_PUBLIC_IP" "${PRIVATE_IPS[@]}"
  # A running host gets the change at once (as a hot-plugged private interface would), in its own
  # network namespace; its networkd file says the same for the next boot.
  if leader=$(host_leader "$HOST_ID"); then
    for a in $old; do
      [[ " ${PRIVATE_IPS[*]} " == *" $a "* ]] || nsenter -t "$leader" -n ip addr del "$a" dev host0 2>/dev/null || true
    done
    for a in "${PRIVATE_IPS[@]}"; do
      [[ " $old " == *" $a "* ]] || nsenter -t "$leader" -n ip addr replace "$a" dev host0
    done
  fi
  log "host $HOST_ID: private addresses now ${PRIVATE_IPS[*]:-none}"
}

cmd_remove_host() {
  need_host_id
  need_root_and_tools ip flock findmnt mountpoint
  lock_rig
  need_dynamic_rig
  local d
  d=$(host_dir "$HOST_ID")
  if [[ ! -d $d ]]; then
    log "rig $RIG has no host $HOST_ID; nothing to remove"
    return 0
  fi
  HARD_STOP=1 # a deleted server is gone at once
  stop_hosts "$HOST_ID"
  umount_under "$d"
  if mountpoint -q "$d/root" 2>/dev/null; then die "host $HOST_ID: $d/root is still mounted"; fi
  rm -rf --one-file-system "$d"
  sync_bridge_nets
  log "host $HOST_ID removed"
}

cmd_running_hosts() {
  load_rig || die "rig $RIG does not exist"
  local d
  for d in "$RIG_DIR"/host-*; do
    [[ -d $d ]] || continue
    if pidfile_alive "$d/nspawn.pid" >/dev/null; then printf '%s\n' "${d##*/host-}"; fi
  done
  return 0
}

main() {
  (($# >= 1)) || usage_error "missing command"
  local cmd=$1
  shift
  case $cmd in
    -h | --help | help) sed -n '2,59p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
  parse_args "$@"
  [[ $BOOT_TIMEOUT =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "TESTHOSTS_BOOT_TIMEOUT must be 1..9999 (seconds)"
  [[ $STOP_TIMEOUT =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "TESTHOSTS_STOP_TIMEOUT must be 1..9999 (seconds)"
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    stop-host) if [[ -n $HOST_ID ]]; then cmd_stop_dynamic; else cmd_stop_host; fi ;;
    start-host) if [[ -n $HOST_ID ]]; then cmd_start_dynamic; else cmd_start_host; fi ;;
    rig-create) cmd_rig_create ;;
    add-host) cmd_add_host ;;
    set-host-networks) cmd_set_host_networks ;;
    remove-host) cmd_remove_host ;;
    running-hosts) cmd_running_hosts ;;
    *) usage_error "unknown command: $cmd" ;;
  esac
}

main "$@"
