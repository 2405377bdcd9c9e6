# shellcheck shell=bash
# scripts/lib/net.sh - IPv4 addresses and the Linux bridge of a test rig (scripts/lab/testhosts.sh).
# Needs log and die (lib/cli.sh).

ip2int() {
  local o
  IFS=. read -r -a o <<<"$1"
  printf '%s\n' $(((10#${o[0]} << 24) | (10#${o[1]} << 16) | (10#${o[2]} << 8) | 10#${o[3]}))
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

valid_prefix() {
  local p=$1 o
  [[ $p =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
  IFS=. read -r -a o <<<"$p"
  ((10#${o[0]} <= 255 && 10#${o[1]} <= 255 && 10#${o[2]} <= 255))
}

valid_cidr() { # IP/LEN with LEN 8..30
  [[ $1 == */* ]] || return 1
  valid_ip "${1%/*}" && [[ ${1#*/} =~ ^[0-9]{1,2}$ ]] && ((10#${1#*/} >= 8 && 10#${1#*/} <= 30))
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

# The bridge address for the subnet of IP/LEN: the subnet's first address, same length.
subnet_gateway() {
  local ip len n mask
  ip=$(ip2int "${1%/*}") len=${1#*/}
  mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
  n=$((ip & mask))
  printf '%s/%s\n' "$(int2ip $((n + 1)))" "$len"
}

# check_cidr_free NETWORK LEN: die when an interface address or a (non-default) route of this machine overlaps
# NETWORK/LEN.
check_cidr_free() {
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


# bridge_name RIG: the rig's bridge, etb-RIG (shortened with a hash to the 15 characters Linux allows).
bridge_name() {
  local name="etb-$1"
  if ((${#name} > 15)); then
    local h
    h=$(printf '%s' "$1" | sha256sum | cut -c1-5)
    name="etb-${1:0:5}-$h"
  fi
  printf '%s\n' "$name"
}

# create_bridge BRIDGE TAG MARKER CIDR: a new bridge named BRIDGE carrying CIDR, its alias TAG; MARKER is
# written before it exists, so that a killed caller still deletes it (delete_bridge).
create_bridge() {
  local bridge=$1 tag=$2 marker=$3 cidr=$4
  [[ -e /sys/class/net/$bridge ]] && die "interface $bridge already exists; take its rig down or pick another rig name"
  check_cidr_free "$(int2ip $(($(ip2int "${cidr%/*}") - 1)))" "${cidr#*/}"
  : >"$marker"
  ip link add name "$bridge" type bridge
  ip link set dev "$bridge" alias "$tag"
  if [[ -w /proc/sys/net/ipv6/conf/$bridge/disable_ipv6 ]]; then
    echo 1 >"/proc/sys/net/ipv6/conf/$bridge/disable_ipv6"
  fi
  ip addr add "$cidr" dev "$bridge"
  ip link set dev "$bridge" up
}

# delete_bridge BRIDGE TAG MARKER: delete BRIDGE if it is ours (alias TAG, or MARKER exists); remove MARKER.
delete_bridge() {
  local bridge=$1 tag=$2 marker=$3
  if [[ -e /sys/class/net/$bridge ]]; then
    if [[ $(cat "/sys/class/net/$bridge/ifalias" 2>/dev/null || true) == "$tag" || -f $marker ]]; then
      ip link del dev "$bridge" || log "warning: could not delete bridge $bridge"
    else
      log "warning: $bridge exists but was not created by this rig; left alone"
    fi
  fi
  rm -f "$marker"
}
