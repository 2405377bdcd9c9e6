# shellcheck shell=bash
# scripts/lib/rig.sh - a test rig's state, its hosts (disk, network, boot, SSH, poweroff) and its HTTP server:
# the pieces scripts/lab/testhosts.sh's commands are made of. Uses testhosts.sh's settings (RIG, RIG_DIR,
# BRIDGE, ROOTFS, LOCK_FD, HTTP_*, *_TIMEOUT, HARD_STOP) and lib/{cli,pidfile,net,cgroup}.sh.

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

need_rig() {
  load_rig || die "rig $RIG does not exist (no $RIG_DIR/rig.env); run up or rig-create first"
  [[ -e /sys/class/net/$BRIDGE ]] || die "bridge $BRIDGE is gone; run down and create the rig again"
}

machine_name() { printf '%s-%s\n' "$RIG" "$1"; }
host_dir() { printf '%s/host-%s\n' "$RIG_DIR" "$1"; }

# Host ids that have state in the rig dir (works after a partial up).
rig_hosts() {
  local d
  for d in "$RIG_DIR"/host-*; do
    [[ -d $d ]] && printf '%s\n' "${d##*/host-}"
  done | sort -n
}

need_host_id() {
  [[ $HOST_ID =~ ^[1-9][0-9]{0,11}$ ]] || usage_error "--id must be a positive integer of at most 12 digits"
}

# host_env ID: sets HOST_HOSTNAME HOST_PUBLIC_IP HOST_PRIVATE_IPS (space-separated IP/LEN) of host ID.
host_env() {
  local f
  f=$(host_dir "$1")/host.env
  [[ -f $f ]] || die "rig $RIG has no host $1"
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

# host_address ID: where the host's sshd listens: its public address, else its first private one.
host_address() {
  local HOST_HOSTNAME HOST_PUBLIC_IP HOST_PRIVATE_IPS a
  host_env "$1"
  a=${HOST_PRIVATE_IPS%% *}
  printf '%s\n' "${HOST_PUBLIC_IP:-${a%/*}}"
}

# ------------------------------------------------------------------- hosts

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

# mount_host ID: mount the host's overlay on the base rootfs unless it is mounted (same disk after a reboot).
mount_host() {
  local d
  d=$(host_dir "$1")
  [[ -d $d/upper ]] || die "host $1 has no disk ($d/upper)"
  mountpoint -q "$d/root" \
    || mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$d/root"
}

# create_host ID HOSTNAME KEYS_FILE USER_DATA_FILE PUBLIC_IP PRIVATE_CIDR...: the host's disk (an overlay on the
# base rootfs) with its identity, root's authorized_keys, network and user data; not booted. Under the rig lock.
create_host() {
  local id=$1 name=$2 keys=$3 user_data=$4 pub=$5 d root
  shift 5
  d=$(host_dir "$id")
  [[ ! -e $d ]] || die "rig $RIG already has host $id"
  root=$d/root
  mkdir -p "$d/upper" "$d/work" "$root"
  write_host_env "$id" "$name" "$pub" "$@"
  if ! sync_bridge_nets_checked; then
    rm -rf --one-file-system "$d"
    sync_bridge_nets || true
    die "host $id: its private subnet cannot go on $BRIDGE"
  fi
  mount_host "$id"
  printf '%s\n' "$name" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" >"$root/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
  echo >>"$root/etc/machine-id"
  rm -f "$root"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$root/etc/ssh/ssh_host_ed25519_key"
  # As cloud-init does: the server's SSH keys, and only them, for root.
  install -d -m 700 "$root/root/.ssh"
  install -m 600 "$keys" "$root/root/.ssh/authorized_keys"
  mkdir -p "$root/etc/systemd/network"
  write_host_network "$root" "$pub" "$@"
  [[ -z $user_data ]] || install_user_data "$root" "$user_data"
}

install_user_data() { # ROOT FILE
  local root=$1 file=$2
  install -d -m 700 "$root/var/lib/cloud" "$root/var/lib/cloud/instance" "$root/var/lib/cloud/instance/scripts"
  install -m 600 "$file" "$root/var/lib/cloud/instance/user-data.txt"
  [[ $(head -c 2 "$file") == '#!' ]] || return 0
  install -m 700 "$file" "$root/var/lib/cloud/instance/scripts/part-001"
  cat >"$root/etc/systemd/system/testhosts-user-data.service" <<'UNIT'
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
UNIT
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -sf ../testhosts-user-data.service "$root/etc/systemd/system/multi-user.target.wants/testhosts-user-data.service"
}

boot_host() { # ID: start nspawn in the background, in its own cgroup
  local id=$1 d machine pid i HOST_HOSTNAME HOST_PUBLIC_IP HOST_PRIVATE_IPS
  host_env "$id"
  d=$(host_dir "$id")
  machine=$(machine_name "$id")
  mount_host "$id"
  pidfile_alive "$d/nspawn.pid" >/dev/null && die "host $id ($machine) is already running"
  cgroup_kill "$machine" # leftovers of a crashed container must not share its cgroup
  cgroup_wait_empty "$machine" || die "host $id: old processes will not die"
  (
    cgroup_enter "$machine"
    [[ -n $LOCK_FD ]] && exec {LOCK_FD}>&- # the children must not hold the rig lock
    exec setsid systemd-nspawn --boot --register=no --keep-unit --settings=false \
      --network-bridge="$BRIDGE" -D "$d/root" -M "$machine" --hostname="$HOST_HOSTNAME" \
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
    die "host $id: systemd-nspawn did not start (log: $d/console.log)"
  }
}

# Is the host's sshd up? Reads the SSH banner (no login: the rig may hold no key the host accepts).
sshd_answers() { # IP
  local banner
  timeout 1 bash -c "</dev/tcp/$1/22" 2>/dev/null || return 1 # quick while the host is not up yet
  # shellcheck disable=SC2016 # $1 expands in the inner bash
  banner=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/22" && head -c 8 <&3' _ "$1" 2>/dev/null) || return 1
  [[ $banner == SSH-2.0- ]]
}

# Does root log in with the rig's key (a rig made by up)?
ssh_login_ok() { # IP
  timeout 10 ssh -F /dev/null -i "$RIG_DIR/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o BatchMode=yes -o ConnectTimeout=2 -o LogLevel=ERROR "root@$1" true </dev/null >/dev/null 2>&1
}

# What "answers SSH" means on this rig: root logs in with the rig's key if it has one, else sshd answers.
ssh_ready() { # IP
  sshd_answers "$1" && { [[ ! -f $RIG_DIR/id_ed25519 ]] || ssh_login_ok "$1"; }
}

wait_ssh() { # ID...: every given host answers SSH within BOOT_TIMEOUT seconds
  local -a pending=("$@") still
  local id d addr deadline=$((SECONDS + BOOT_TIMEOUT))
  while ((${#pending[@]} > 0)); do
    still=()
    for id in "${pending[@]}"; do
      d=$(host_dir "$id")
      if ! pidfile_alive "$d/nspawn.pid" >/dev/null; then
        tail -n 30 "$d/console.log" >&2 || true
        die "host $id ($(machine_name "$id")) exited while booting (log: $d/console.log)"
      fi
      addr=$(host_address "$id")
      if ssh_ready "$addr"; then
        log "host $id ($(machine_name "$id"), $addr) answers SSH after $((SECONDS - deadline + BOOT_TIMEOUT)) s"
      else
        still+=("$id")
      fi
    done
    pending=("${still[@]}")
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for id in "${pending[@]}"; do
        log "host $id did not answer SSH; last console lines:"
        tail -n 30 "$(host_dir "$id")/console.log" >&2 || true
      done
      die "hosts ${pending[*]} did not answer SSH within $BOOT_TIMEOUT s"
    fi
    sleep 0.25
  done
}

# Power the given hosts off (SIGTERM makes nspawn send its --kill-signal,
# SIGRTMIN+4, i.e. a clean poweroff, to the container's systemd), wait, then
# SIGKILL whatever is left in their cgroups. Disks and mounts stay.
stop_hosts() { # ID...
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

# PID 1 of a running host (the child of its systemd-nspawn), in this machine's pid namespace.
host_leader() { # K
  local pid child
  pid=$(pidfile_alive "$(host_dir "$1")/nspawn.pid") || return 1
  child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null) || return 1
  child=${child%% *}
  [[ $child =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$child"
}

# ------------------------------------------------------------------ http

start_http() {
  local py ip=$HTTP_BIND pid i
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
