#!/usr/bin/env bash
# scripts/restore.sh - restore an etcd snapshot onto every member of an EtcdCluster, over SSH, from the
# operator's machine. The result is a new cluster (new cluster ID, new member IDs, a new initial-cluster
# token) with the same member names and peer URLs, holding the snapshot's data; `pulumi up` then has nothing
# to change. See docs/operations.md ("Restore from a snapshot").
#
# Usage:
#   scripts/restore.sh --snapshot FILE --members-json FILE [options]
#
#   --snapshot FILE        the snapshot (`etcdctl snapshot save`, a scheduled-*.db or pre-upgrade-*.db, or
#                          its copy from S3), on this machine
#   --members-json FILE    the stack's `members` output: `pulumi stack output members --json > members.json`
#                          ([{"name":..., "privateIp":..., "publicIp":...}, ...]; "-" reads stdin)
#   --ssh-key FILE         private key for SSH (default: ssh's own configuration)
#   --ssh-user USER        default root
#   --ssh-port PORT        default 22
#   --ssh-host-field F     which address to SSH to: publicIp (default) or privateIp
#   --ssh-option OPT       passed to ssh as -o OPT (repeatable), e.g. StrictHostKeyChecking=accept-new
#   --data-dir DIR         etcd data directory on the hosts (default /var/lib/etcd, the component's dataDir)
#   --snapshot-dir DIR     where the snapshot is copied on the hosts (default /var/backups/etcd)
#   --bump-revision N      added to the snapshot's revision (default 1000000000), with --mark-compacted, so
#                          that watchers (kube-apiserver) see a newer revision and re-list instead of missing
#                          or replaying events
#   --health-timeout S     seconds to wait for the restored cluster to be healthy (default 180)
#   --yes                  do not ask; needed when stdin is not a terminal
#
# What it does, and in which order (nothing is deleted; each step says what it did):
#   1. checks every host over SSH (etcd installed, the unit present) and copies the snapshot to each,
#      checked by sha256 and by `etcdutl snapshot status`;
#   2. stops etcd on every member (the cluster is down from here until step 4);
#   3. on every member: `etcdutl snapshot restore` into a fresh directory with that member's name and peer
#      URL, the whole initial cluster and a new token; the old data directory is moved aside to
#      <data-dir>.before-restore-<time>, the restored one takes its place (0700, owned by etcd);
#   4. starts etcd everywhere and waits until every member is started and healthy; prints the revision.
# Run it again after a failure: every run restores from the snapshot afresh and keeps what it replaces.
#
# Internally the script runs itself on the hosts (`bash -s -- --on-host ...` over SSH) for the host steps.
set -euo pipefail

PEER_PORT=2380
CLIENT_PORT=2379

# ---------------------------------------------------------------------------------------------------------
# Host side: run as root on a member, by the operator side below.

host_check() {
  local data_dir=$1
  [ -x /usr/local/bin/etcdutl ] || { echo "no /usr/local/bin/etcdutl on $(hostname): is etcd deployed here?" >&2; return 1; }
  [ -f /etc/systemd/system/etcd.service ] || { echo "no etcd.service on $(hostname)" >&2; return 1; }
  getent passwd etcd >/dev/null || { echo "no etcd user on $(hostname)" >&2; return 1; }
  echo "$(hostname): etcd $(/usr/local/bin/etcdutl version | sed -n 's/^etcdutl version: //p'), data dir $data_dir $([ -d "$data_dir/member" ] && echo present || echo absent), etcd $(systemctl is-active etcd.service || true)"
}

host_receive() {
  local dest=$1 sha=$2 got
  install -d -m 0700 -o etcd -g etcd "$(dirname "$dest")"
  (umask 077; cat >"$dest.part")
  got=$(sha256sum "$dest.part")
  got=${got%% *}
  if [ "$got" != "$sha" ]; then
    rm -f "$dest.part"
    echo "$(hostname): the snapshot arrived with sha256 $got, expected $sha" >&2
    return 1
  fi
  chown etcd:etcd "$dest.part"
  mv "$dest.part" "$dest"
  if ! status=$(/usr/local/bin/etcdutl snapshot status -w fields "$dest" 2>&1); then
    echo "$(hostname): etcdutl cannot read the snapshot: $status" >&2
    return 1
  fi
  echo "$(hostname): snapshot copied to $dest and verified: $(awk -F' : ' '$1 == "\"Revision\"" { r = $2 } $1 == "\"Keys\"" { k = $2 } END { print "revision " r ", " k " keys" }' <<<"$status")"
}

host_stop() {
  systemctl stop etcd.service
  echo "$(hostname): etcd stopped"
}

host_restore() {
  local snapshot=$1 name=$2 peer_url=$3 initial_cluster=$4 token=$5 data_dir=$6 bump=$7 stamp=$8
  local fresh="$data_dir.restore-$stamp" aside="$data_dir.before-restore-$stamp"
  if systemctl is-active --quiet etcd.service; then
    echo "$(hostname): etcd is running; stop it on every member first" >&2
    return 1
  fi
  rm -rf "$fresh"
  /usr/local/bin/etcdutl snapshot restore "$snapshot" --name "$name" --initial-cluster "$initial_cluster" \
    --initial-cluster-token "$token" --initial-advertise-peer-urls "$peer_url" --data-dir "$fresh" \
    --bump-revision "$bump" --mark-compacted >"$fresh.log" 2>&1 || {
    cat "$fresh.log" >&2
    rm -rf "$fresh" "$fresh.log"
    echo "$(hostname): etcdutl snapshot restore failed; the data directory was not touched" >&2
    return 1
  }
  rm -f "$fresh.log"
  chown -R etcd:etcd "$fresh"
  chmod 0700 "$fresh"
  if [ -e "$data_dir" ]; then
    mv "$data_dir" "$aside"
    echo "$(hostname): the previous data directory is kept as $aside"
  fi
  mv "$fresh" "$data_dir"
  echo "$(hostname): restored $snapshot into $data_dir as member $name ($peer_url)"
}

host_start() {
  # --no-block: a member finishes starting only once a majority is up, so starting blocks on the others.
  systemctl start --no-block etcd.service
  echo "$(hostname): etcd starting"
}

host_wait() {
  local names=$1 timeout=$2 endpoints=$3 deadline list n
  deadline=$((SECONDS + timeout))
  n=$(tr ',' '\n' <<<"$names" | grep -c .)
  e() {
    /usr/local/bin/etcdctl --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt \
      --key=/etc/etcd/pki/healthcheck-client.key --dial-timeout=3s --command-timeout=5s --endpoints="$endpoints" "$@"
  }
  until e endpoint health >/dev/null 2>&1 && list=$(e member list 2>/dev/null) &&
    [ "$(grep -c ', started, ' <<<"$list")" -eq "$n" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "the restored cluster was not healthy within ${timeout}s; see journalctl -u etcd on the members" >&2
      e endpoint health >&2 || true
      return 1
    fi
    sleep 2
  done
  e member list -w table
  e endpoint status -w table
}

if [ "${1:-}" = --on-host ]; then
  shift
  step=$1
  shift
  # Every step but receive gets no stdin: under `bash -s` stdin is the rest of this script.
  case $step in
    check) host_check "$@" </dev/null ;;
    receive) host_receive "$@" ;;
    stop) host_stop </dev/null ;;
    restore) host_restore "$@" </dev/null ;;
    start) host_start </dev/null ;;
    wait) host_wait "$@" </dev/null ;;
    *) echo "unknown host step $step" >&2; exit 2 ;;
  esac
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------
# Operator side.

die() { printf 'restore: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'restore: %s\n' "$*"; }

snapshot="" members_json="" ssh_key="" ssh_user=root ssh_port=22 host_field=publicIp ssh_options=()
data_dir=/var/lib/etcd snapshot_dir=/var/backups/etcd bump=1000000000 health_timeout=180 yes=0
while (($#)); do
  case $1 in
    --yes) yes=1; shift; continue ;;
    -h | --help) sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;;
  esac
  (($# >= 2)) || die "option $1 needs a value (see --help)"
  case $1 in
    --snapshot) snapshot=$2 ;;
    --members-json) members_json=$2 ;;
    --ssh-key) ssh_key=$2 ;;
    --ssh-user) ssh_user=$2 ;;
    --ssh-port) ssh_port=$2 ;;
    --ssh-host-field) host_field=$2 ;;
    --ssh-option) ssh_options+=(-o "$2") ;;
    --data-dir) data_dir=$2 ;;
    --snapshot-dir) snapshot_dir=$2 ;;
    --bump-revision) bump=$2 ;;
    --health-timeout) health_timeout=$2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
[[ -n $snapshot && -f $snapshot ]] || die "--snapshot FILE is required and must exist"
[[ -n $members_json ]] || die "--members-json FILE is required (pulumi stack output members --json > members.json)"
[[ $host_field == publicIp || $host_field == privateIp ]] || die "--ssh-host-field must be publicIp or privateIp"
[[ $bump =~ ^[0-9]+$ && $health_timeout =~ ^[0-9]+$ && $ssh_port =~ ^[0-9]+$ ]] || die "--bump-revision, --health-timeout and --ssh-port take numbers"
[[ $data_dir == /* && $snapshot_dir == /* ]] || die "--data-dir and --snapshot-dir must be absolute paths"

# members: "name privateIp sshHost" per line, from the JSON (node or python3 reads it).
if [[ $members_json == - ]]; then json=$(cat); else json=$(<"$members_json"); fi
parse_members() {
  local field=$1
  if command -v node >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # JavaScript
    node -e 'const f=process.argv[1];let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const m of JSON.parse(s))console.log(m.name,m.privateIp,m[f]??m.privateIp)})' "$field"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys
for m in json.load(sys.stdin): print(m["name"], m["privateIp"], m.get(sys.argv[1]) or m["privateIp"])' "$field"
  else
    die "reading --members-json needs node or python3"
  fi
}
mapfile -t members < <(parse_members "$host_field" <<<"$json")
((${#members[@]} > 0)) || die "no members in $members_json"
names=() ips=() hosts=()
for line in "${members[@]}"; do
  read -r name ip host <<<"$line"
  [[ $name =~ ^[a-z0-9-]+$ && $ip =~ ^[0-9a-fA-F.:]+$ && -n $host ]] || die "cannot use member line: $line"
  names+=("$name") ips+=("$ip") hosts+=("$host")
done

url_host() { if [[ $1 == *:* ]]; then printf '[%s]' "$1"; else printf '%s' "$1"; fi; }
initial_cluster="" client_urls=""
for i in "${!names[@]}"; do
  initial_cluster+="${initial_cluster:+,}${names[i]}=https://$(url_host "${ips[i]}"):$PEER_PORT"
  client_urls+="${client_urls:+,}https://$(url_host "${ips[i]}"):$CLIENT_PORT"
done
stamp=$(date -u +%Y%m%dT%H%M%SZ)
token="restored-$stamp-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
remote_snapshot="$snapshot_dir/restore-$stamp.db"
sha=$(sha256sum "$snapshot")
sha=${sha%% *}

ssh_cmd=(ssh -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=10 "${ssh_options[@]}")
[[ -n $ssh_key ]] && ssh_cmd+=(-i "$ssh_key")
# on_host I STEP ARGS...: run this script's host STEP on member I as root; its stdin is forwarded.
on_host() {
  local i=$1 args
  shift
  args=$(printf '%q ' "$@")
  local sudo=""
  [[ $ssh_user == root ]] || sudo="sudo "
  # The script itself goes first on stdin (bash -s reads it), so STEP's own stdin cannot be used: send
  # data with on_host_data.
  "${ssh_cmd[@]}" "$ssh_user@${hosts[i]}" "${sudo}bash -s -- --on-host $args" <"$0"
}
# on_host_data I FILE STEP ARGS...: as on_host, with FILE as STEP's stdin (the script is sent first, as a file).
on_host_data() {
  local i=$1 file=$2 args sudo="" tmp
  shift 2
  args=$(printf '%q ' "$@")
  [[ $ssh_user == root ]] || sudo="sudo "
  tmp=$("${ssh_cmd[@]}" "$ssh_user@${hosts[i]}" "${sudo}mktemp /root/.etcd-restore.XXXXXX")
  "${ssh_cmd[@]}" "$ssh_user@${hosts[i]}" "${sudo}tee $tmp >/dev/null" <"$0"
  "${ssh_cmd[@]}" "$ssh_user@${hosts[i]}" "${sudo}bash $tmp --on-host $args; rc=\$?; ${sudo}rm -f $tmp; exit \$rc" <"$file"
}

log "snapshot $snapshot (sha256 $sha, $(stat -c %s "$snapshot") bytes)"
log "members: ${names[*]}; initial cluster $initial_cluster"
log "new initial-cluster token $token; revisions bumped by $bump and marked compacted"
for i in "${!names[@]}"; do
  on_host "$i" check "$data_dir" | sed "s/^/restore: [${names[i]}] /"
done
if ((!yes)); then
  [[ -t 0 ]] || die "stdin is not a terminal: pass --yes to go ahead"
  read -r -p "Stop etcd on all ${#names[@]} members and restore this snapshot? Type 'restore' to go ahead: " answer
  [[ $answer == restore ]] || die "not confirmed; nothing changed"
fi

started=$SECONDS
log "1/4 copying the snapshot to every member"
for i in "${!names[@]}"; do
  on_host_data "$i" "$snapshot" receive "$remote_snapshot" "$sha" | sed "s/^/restore: [${names[i]}] /"
done
log "2/4 stopping etcd on every member"
for i in "${!names[@]}"; do
  on_host "$i" stop | sed "s/^/restore: [${names[i]}] /"
done
log "3/4 restoring on every member"
for i in "${!names[@]}"; do
  on_host "$i" restore "$remote_snapshot" "${names[i]}" "https://$(url_host "${ips[i]}"):$PEER_PORT" "$initial_cluster" "$token" \
    "$data_dir" "$bump" "$stamp" | sed "s/^/restore: [${names[i]}] /"
done
log "4/4 starting etcd on every member"
for i in "${!names[@]}"; do
  on_host "$i" start | sed "s/^/restore: [${names[i]}] /"
done
on_host 0 wait "$(IFS=,; echo "${names[*]}")" "$health_timeout" "$client_urls"
log "restored in $((SECONDS - started)) s: every member started and healthy. The replaced data directories are kept as $data_dir.before-restore-$stamp on each member; remove them once you are satisfied."
log "next: pulumi up (expect no changes); clients reconnect by themselves, watchers re-list (the revision moved forward by $bump)."
