#!/usr/bin/env bash
# testhosts.sh: real local Linux test hosts (systemd-nspawn containers booting Debian bookworm with systemd
# and sshd) on one Linux bridge per "rig", for the EtcdCluster tests, the bench and the Hetzner Cloud API
# stand-in (tools/hcloud-standin, whose servers are hosts of a rig).
#
# Usage:
#   scripts/lab/testhosts.sh up   --rig NAME --count N [--private-prefix 10.1.1] [--public-prefix 198.18.1] [--serve DIR]
#   scripts/lab/testhosts.sh rig-create --rig NAME --public-prefix P [--serve DIR]
#   scripts/lab/testhosts.sh add-host   --rig NAME --id ID --hostname H --authorized-keys FILE
#                                       [--public-ip IP] [--private-ip IP/LEN]... [--user-data FILE]
#   scripts/lab/testhosts.sh start-host --rig NAME --id ID            # boot; waits for sshd
#   scripts/lab/testhosts.sh stop-host  --rig NAME --id ID [--hard yes] # clean poweroff (or power cut); disk kept
#   scripts/lab/testhosts.sh set-host-networks --rig NAME --id ID [--private-ip IP/LEN]...
#   scripts/lab/testhosts.sh remove-host --rig NAME --id ID
#   scripts/lab/testhosts.sh running-hosts --rig NAME                 # ids of running hosts
#   scripts/lab/testhosts.sh status --rig NAME
#   scripts/lab/testhosts.sh down --rig NAME
#   (--index K is another name for --id K)
#
# One model: a rig is a bridge carrying P.1/24 (and the HTTP server of --serve); its hosts are added by id.
# Host ID is machine NAME-ID with the given hostname and addresses; root's authorized_keys is exactly FILE
# (as cloud-init writes it); user data is stored at /var/lib/cloud/instance/user-data.txt and, when it is a
# script (#!), run once at first boot. For each private subnet a host is on, the bridge gets the subnet's
# first address. `up` is rig-create plus N hosts, booted: host K (1..N) is etcd-K with private IP
# ${private}.(10+K)/24 and public IP ${public}.(10+K), root logs in with the rig's own key, the HTTP server
# listens on ${private}.1; it prints hosts.json on stdout (and only that; progress goes to stderr).
# `down` removes it all.
#
# Needs root and the Debian packages debootstrap, systemd-container, iproute2, openssh-client (and python3
# for --serve).
#
# Layout:
#   $ETCD_CLUSTER_CACHE (default $HOME/.cache/etcd-cluster)
#     rootfs/bookworm-<hash>/    base rootfs (scripts/lib/rootfs.sh), the lower layer of every host
#     rigs/NAME/                 state of one rig:
#       rig.env                  settings of the rig (sourced by the other commands)
#       id_ed25519{,.pub}        the SSH key of a rig made by up (root on its hosts)
#       hosts.json               what up printed, kept current by start-host/stop-host
#       http.pid, http.log       the --serve HTTP server
#       bridge-nets              private-subnet addresses put on the bridge
#       host-ID/                 host ID: host.env (hostname, addresses), overlay upper/, work/, merged root/,
#                                nspawn.pid, console.log
#
# Environment (optional):
#   ETCD_CLUSTER_CACHE        cache/state root (default $HOME/.cache/etcd-cluster)
#   TESTHOSTS_MIRROR          Debian mirror (default: the one apt uses here)
#   TESTHOSTS_BOOT_TIMEOUT    seconds to wait for the hosts' sshd (default 60)
#   TESTHOSTS_STOP_TIMEOUT    seconds to wait for a clean poweroff (default 30)
#
# Exit codes: 0 ok; 1 failure; 2 usage error. `status` exits 0 only when the rig exists and every host is
# running and answers SSH.
set -euo pipefail
lib=$(dirname "${BASH_SOURCE[0]}")/../lib
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$lib/cli.sh"
# shellcheck source=scripts/lib/cache.sh
source "$lib/cache.sh"
# shellcheck source=scripts/lib/pidfile.sh
source "$lib/pidfile.sh"
# shellcheck source=scripts/lib/net.sh
source "$lib/net.sh"
# shellcheck source=scripts/lib/rootfs.sh
source "$lib/rootfs.sh"
# shellcheck source=scripts/lib/cgroup.sh
source "$lib/cgroup.sh"
# shellcheck source=scripts/lib/rig.sh
source "$lib/rig.sh"

readonly CLI_NAME=testhosts
readonly HTTP_PORT=8080
readonly CG_PREFIX=etcd-testhosts

CACHE_DIR=$(etcd_cluster_cache)
BOOT_TIMEOUT=${TESTHOSTS_BOOT_TIMEOUT:-60}
STOP_TIMEOUT=${TESTHOSTS_STOP_TIMEOUT:-30}

# Set by the options / load_rig.
RIG=""
COUNT=""
PRIVATE_PREFIX=10.1.1
PUBLIC_PREFIX=198.18.1
SERVE_DIR=""
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

# ---------------------------------------------------------------- arguments

on_option() {
  case $1 in
    --rig) RIG=$2 ;;
    --count) COUNT=$2 ;;
    --private-prefix) PRIVATE_PREFIX=$2 ;;
    --public-prefix) PUBLIC_PREFIX=$2 ;;
    --serve) SERVE_DIR=$2 ;;
    --id | --index) HOST_ID=$2 ;;
    --hostname) HOSTNAME_ARG=$2 ;;
    --public-ip) PUBLIC_IP=$2 ;;
    --private-ip) PRIVATE_IPS+=("$2") ;;
    --authorized-keys) KEYS_FILE=$2 ;;
    --user-data) USER_DATA_FILE=$2 ;;
    --hard)
      [[ $2 == yes || $2 == no ]] || usage_error "--hard takes yes or no"
      [[ $2 == no ]] || HARD_STOP=1 ;;
    *) return 1 ;;
  esac
}

parse_args() {
  cli_options on_option "$@"
  [[ -n $RIG ]] || usage_error "--rig NAME is required"
  [[ $RIG =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] \
    || usage_error "rig name must match ^[a-z0-9][a-z0-9-]{0,31}\$: $RIG"
  RIG_DIR=$CACHE_DIR/rigs/$RIG
  BRIDGE=$(bridge_name "$RIG")
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

unlock_rig() {
  exec {LOCK_FD}>&-
  LOCK_FD=""
}

# ------------------------------------------------------------------ output

# hosts.json of a rig made by up: its hosts 1..COUNT, what they are and whether they run.
write_hosts_json() {
  local k pid first=1 tmp=$RIG_DIR/hosts.json.tmp key=$RIG_DIR/id_ed25519 HOST_HOSTNAME HOST_PUBLIC_IP HOST_PRIVATE_IPS
  {
    printf '{\n  "rig": %s,\n  "bridge": %s,\n' "$(json_str "$RIG")" "$(json_str "$BRIDGE")"
    printf '  "privatePrefix": %s,\n  "publicPrefix": %s,\n' "$(json_str "$PRIVATE_PREFIX")" "$(json_str "$PUBLIC_PREFIX")"
    printf '  "bridgePrivateIp": %s,\n  "bridgePublicIp": %s,\n' "$(json_str "$PRIVATE_PREFIX.1")" "$(json_str "$PUBLIC_PREFIX.1")"
    [[ -n $SERVE_DIR ]] && printf '  "serveUrl": %s,\n' "$(json_str "http://$HTTP_BIND:$HTTP_PORT")"
    printf '  "sshUser": "root",\n  "sshPrivateKeyPath": %s,\n  "hosts": [' "$(json_str "$key")"
    for ((k = 1; k <= COUNT; k++)); do
      host_env "$k"
      pid=$(pidfile_alive "$(host_dir "$k")/nspawn.pid" || echo null)
      ((first)) || printf ','
      first=0
      printf '\n    {"name": %s, "machine": %s, "privateIp": %s, "publicIp": %s, "sshUser": "root", "sshPrivateKeyPath": %s, "pid": %s}' \
        "$(json_str "$HOST_HOSTNAME")" "$(json_str "$(machine_name "$k")")" "$(json_str "${HOST_PRIVATE_IPS%/*}")" \
        "$(json_str "$HOST_PUBLIC_IP")" "$(json_str "$key")" "$pid"
    done
    printf '\n  ]\n}\n'
  } >"$tmp"
  mv -f "$tmp" "$RIG_DIR/hosts.json"
}

# ---------------------------------------------------------------- commands

# Tear everything of the rig down; safe after a partial up and when run twice.
teardown() {
  local id d
  local -a ids=()
  mapfile -t ids < <(rig_hosts)
  ((${#ids[@]} > 0)) && stop_hosts "${ids[@]}"
  stop_http
  for id in "${ids[@]}"; do
    d=$(host_dir "$id")
    umount_under "$d"
    if mountpoint -q "$d/root" 2>/dev/null; then
      log "warning: $d/root is still mounted; keeping $d"
      continue
    fi
    rm -rf --one-file-system "$d"
  done
  cgroup_remove_rig
  delete_bridge "$BRIDGE" "etcd-testhosts:$RIG" "$RIG_DIR/bridge.ours"
  # Anything left (a path we do not know of) is only removed when unmounted.
  umount_under "$RIG_DIR"
  rm -rf --one-file-system "$RIG_DIR"
}

CREATE_DONE=0
on_create_exit() {
  local rc=$?
  ((CREATE_DONE)) && return 0
  trap - EXIT INT TERM HUP
  log "creating rig $RIG failed (exit $rc); tearing it down"
  cleanup_build_tmp || true
  teardown || true
  exit "$rc"
}

# create_rig: the rig's state, rootfs and bridge with PUBLIC_PREFIX.1/24, under the rig lock; a failure from
# here until created_rig tears it all down again.
create_rig() {
  if [[ -n $SERVE_DIR ]]; then
    [[ -d $SERVE_DIR ]] || usage_error "--serve: no such directory: $SERVE_DIR"
    SERVE_DIR=$(cd "$SERVE_DIR" && pwd -P)
  fi
  need_root_and_tools debootstrap systemd-nspawn ip ssh ssh-keygen flock findmnt mountpoint setsid timeout nsenter
  [[ $CACHE_DIR == /* && $CACHE_DIR != *[,:[:space:]]* ]] \
    || die "ETCD_CLUSTER_CACHE must be an absolute path without spaces, commas or colons: $CACHE_DIR"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "overlayfs is not available"
  lock_rig
  if [[ -f $RIG_DIR/rig.env ]] || compgen -G "$RIG_DIR/host-*" >/dev/null; then
    die "rig $RIG already exists ($RIG_DIR); run '$0 down --rig $RIG' first"
  fi
  mkdir -p "$RIG_DIR"
  trap on_create_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  ensure_rootfs
  save_rig # before creating anything, so down knows what to remove
  create_bridge "$BRIDGE" "etcd-testhosts:$RIG" "$RIG_DIR/bridge.ours" "$PUBLIC_PREFIX.1/24"
  : >"$RIG_DIR/bridge-nets"
}

created_rig() {
  CREATE_DONE=1
  trap - EXIT INT TERM HUP
}

cmd_rig_create() {
  valid_prefix "$PUBLIC_PREFIX" || usage_error "bad --public-prefix: $PUBLIC_PREFIX (want A.B.C)"
  local t0=$SECONDS
  COUNT=0 PRIVATE_PREFIX="" HTTP_BIND=$PUBLIC_PREFIX.1
  create_rig
  [[ -n $SERVE_DIR ]] && start_http
  created_rig
  log "rig $RIG created: bridge $BRIDGE with $PUBLIC_PREFIX.1/24 in $((SECONDS - t0)) s"
  printf '{\n  "rig": %s,\n  "bridge": %s,\n  "publicPrefix": %s,\n  "bridgePublicIp": %s' "$(json_str "$RIG")" \
    "$(json_str "$BRIDGE")" "$(json_str "$PUBLIC_PREFIX")" "$(json_str "$PUBLIC_PREFIX.1")"
  [[ -z $SERVE_DIR ]] || printf ',\n  "serveUrl": %s' "$(json_str "http://$HTTP_BIND:$HTTP_PORT")"
  printf '\n}\n'
}

# up: rig-create, then hosts 1..COUNT (etcd-K, PRIVATE_PREFIX.(10+K)/24, PUBLIC_PREFIX.(10+K)) that root logs in
# to with the rig's own key, booted; prints hosts.json.
cmd_up() {
  if ! [[ $COUNT =~ ^[0-9]+$ ]] || ((COUNT < 1 || COUNT > 240)); then
    usage_error "--count must be 1..240"
  fi
  valid_prefix "$PRIVATE_PREFIX" || usage_error "bad --private-prefix: $PRIVATE_PREFIX (want A.B.C)"
  valid_prefix "$PUBLIC_PREFIX" || usage_error "bad --public-prefix: $PUBLIC_PREFIX (want A.B.C)"
  [[ $PRIVATE_PREFIX != "$PUBLIC_PREFIX" ]] || usage_error "private and public prefixes must differ"
  local t0=$SECONDS k
  local -a all=()
  HTTP_BIND=$PRIVATE_PREFIX.1
  create_rig
  ssh-keygen -q -t ed25519 -N '' -C "testhosts-$RIG" -f "$RIG_DIR/id_ed25519"
  for ((k = 1; k <= COUNT; k++)); do
    create_host "$k" "etcd-$k" "$RIG_DIR/id_ed25519.pub" "" "$PUBLIC_PREFIX.$((10 + k))" "$PRIVATE_PREFIX.$((10 + k))/24"
    all+=("$k")
  done
  [[ -n $SERVE_DIR ]] && start_http # on the private subnet's bridge address, there since host 1
  for k in "${all[@]}"; do boot_host "$k"; done
  wait_ssh "${all[@]}"
  write_hosts_json
  created_rig
  log "rig $RIG up: $COUNT hosts on $BRIDGE in $((SECONDS - t0)) s"
  cat "$RIG_DIR/hosts.json"
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
  need_rig
  if [[ -n $PUBLIC_IP ]] && ! nets_overlap "$PUBLIC_IP" 32 "$PUBLIC_PREFIX.0" 24; then
    die "--public-ip $PUBLIC_IP is outside the rig's public range $PUBLIC_PREFIX.0/24"
  fi
  create_host "$HOST_ID" "$HOSTNAME_ARG" "$KEYS_FILE" "$USER_DATA_FILE" "$PUBLIC_IP" "${PRIVATE_IPS[@]}"
  log "host $HOST_ID ($HOSTNAME_ARG) created: public ${PUBLIC_IP:-none}, private ${PRIVATE_IPS[*]:-none}"
}

cmd_start_host() {
  need_host_id
  need_root_and_tools systemd-nspawn ip ssh flock mountpoint setsid timeout
  lock_rig
  need_rig
  host_env "$HOST_ID"
  if pidfile_alive "$(host_dir "$HOST_ID")/nspawn.pid" >/dev/null; then
    log "host $HOST_ID is already running"
    return 0
  fi
  boot_host "$HOST_ID"
  unlock_rig # waiting needs no lock, and other hosts may boot meanwhile
  wait_ssh "$HOST_ID"
  if [[ -f $RIG_DIR/hosts.json ]]; then
    lock_rig
    write_hosts_json
  fi
  log "host $HOST_ID ($HOST_HOSTNAME) started"
}

cmd_stop_host() {
  need_host_id
  need_root_and_tools ip flock
  lock_rig
  need_rig
  host_env "$HOST_ID"
  stop_hosts "$HOST_ID"
  [[ ! -f $RIG_DIR/hosts.json ]] || write_hosts_json
  if ((HARD_STOP)); then log "host $HOST_ID stopped (power cut)"; else log "host $HOST_ID shut down"; fi
}

cmd_set_host_networks() {
  need_host_id
  local c
  for c in "${PRIVATE_IPS[@]}"; do valid_cidr "$c" || usage_error "bad --private-ip: $c (want IP/LEN, LEN 8..30)"; done
  need_root_and_tools ip flock mountpoint nsenter
  lock_rig
  need_rig
  host_env "$HOST_ID"
  [[ -n $HOST_PUBLIC_IP || ${#PRIVATE_IPS[@]} -gt 0 ]] || die "host $HOST_ID would have no address left"
  local d old=$HOST_PRIVATE_IPS leader a
  d=$(host_dir "$HOST_ID")
  write_host_env "$HOST_ID" "$HOST_HOSTNAME" "$HOST_PUBLIC_IP" "${PRIVATE_IPS[@]}"
  if ! sync_bridge_nets_checked; then
    # shellcheck disable=SC2086 # old is a space-separated list
    write_host_env "$HOST_ID" "$HOST_HOSTNAME" "$HOST_PUBLIC_IP" $old
    die "host $HOST_ID: the new private subnet cannot go on $BRIDGE"
  fi
  mount_host "$HOST_ID"
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
  need_rig
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
  local id
  while read -r id; do
    if pidfile_alive "$(host_dir "$id")/nspawn.pid" >/dev/null; then printf '%s\n' "$id"; fi
  done < <(rig_hosts)
  return 0
}

cmd_status() {
  if ! load_rig; then
    printf 'rig %s: not up (no %s)\n' "$RIG" "$RIG_DIR/rig.env"
    return 1
  fi
  local ok=0 id pid state ssh_state addr HOST_HOSTNAME HOST_PUBLIC_IP HOST_PRIVATE_IPS
  printf 'rig %s: bridge %s (%s), public %s.0/24, dir %s\n' "$RIG" "$BRIDGE" \
    "$([[ -e /sys/class/net/$BRIDGE ]] && echo present || echo MISSING)" "$PUBLIC_PREFIX" "$RIG_DIR"
  [[ -e /sys/class/net/$BRIDGE ]] || ok=1
  if [[ -n $SERVE_DIR ]]; then
    if pid=$(pidfile_alive "$RIG_DIR/http.pid"); then
      printf 'http: http://%s:%s serving %s (pid %s)\n' "$HTTP_BIND" "$HTTP_PORT" "$SERVE_DIR" "$pid"
    else
      printf 'http: NOT RUNNING\n'
      ok=1
    fi
  fi
  while read -r id; do
    [[ -f $(host_dir "$id")/host.env ]] || continue
    host_env "$id"
    addr=$(host_address "$id")
    if pid=$(pidfile_alive "$(host_dir "$id")/nspawn.pid"); then
      state="running pid=$pid"
      if ssh_ready "$addr"; then ssh_state=ok; else ssh_state=FAIL; ok=1; fi
    else
      state=stopped ssh_state=-
      ok=1
    fi
    printf '%s %s private=%s public=%s %s ssh=%s\n' "$(machine_name "$id")" "$HOST_HOSTNAME" \
      "${HOST_PRIVATE_IPS:-none}" "${HOST_PUBLIC_IP:-none}" "$state" "$ssh_state"
  done < <(rig_hosts)
  return "$ok"
}

cmd_down() {
  need_root_and_tools ip flock findmnt mountpoint
  if [[ ! -d $RIG_DIR ]]; then
    # Nothing recorded; still remove a bridge of ours if one is left (no marker: only by its alias).
    delete_bridge "$BRIDGE" "etcd-testhosts:$RIG" "$RIG_DIR/bridge.ours" 2>/dev/null || true
    cgroup_remove_rig
    log "rig $RIG: nothing to tear down"
    return 0
  fi
  lock_rig
  load_rig || true
  teardown
  log "rig $RIG down"
}

main() {
  (($# >= 1)) || usage_error "missing command"
  local cmd=$1
  shift
  case $cmd in
    -h | --help | help) cli_help; exit 0 ;;
  esac
  parse_args "$@"
  [[ $BOOT_TIMEOUT =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "TESTHOSTS_BOOT_TIMEOUT must be 1..9999 (seconds)"
  [[ $STOP_TIMEOUT =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "TESTHOSTS_STOP_TIMEOUT must be 1..9999 (seconds)"
  case $cmd in
    up) cmd_up ;;
    rig-create) cmd_rig_create ;;
    add-host) cmd_add_host ;;
    start-host) cmd_start_host ;;
    stop-host) cmd_stop_host ;;
    set-host-networks) cmd_set_host_networks ;;
    remove-host) cmd_remove_host ;;
    running-hosts) cmd_running_hosts ;;
    status) cmd_status ;;
    down) cmd_down ;;
    *) usage_error "unknown command: $cmd" ;;
  esac
}

main "$@"
