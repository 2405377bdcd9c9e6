#!/usr/bin/env bash
# scripts/restore.sh - restore an etcd snapshot onto every member of an EtcdCluster, over SSH, from the
# operator's machine. The result is a new cluster (new cluster ID, new member IDs, a new initial-cluster
# token) with the same member names and peer URLs, holding the snapshot's data; `pulumi up` then has nothing
# to change. See docs/operations.md ("Restore from a snapshot").
# With --from-member NAME instead of --snapshot, after a majority of members is lost: member NAME's own data
# becomes a one-member cluster (etcd's --force-new-cluster), which the lost members then re-join; see
# docs/operations.md ("Quorum lost").
#
# Usage:
#   scripts/restore.sh --snapshot FILE --members-json FILE [options]
#   scripts/restore.sh --from-member NAME --members-json FILE [options]
#
#   --snapshot FILE        the snapshot (`etcdctl snapshot save`, a scheduled-*.db or pre-upgrade-*.db, or
#                          its copy from S3), on this machine
#   --from-member NAME     the member whose data survived the loss of the majority (refused while any member
#                          still serves a linearizable read, or when NAME has no data)
#   --members-json FILE    the stack's `members` output: `pulumi stack output members --json > members.json`
#                          ([{"name":..., "privateIp":..., "publicIp":...}, ...]; "-" reads stdin)
#   --ssh-key FILE         private key for SSH (default: ssh's own configuration)
#   --ssh-user USER        default root
#   --ssh-port PORT        default 22
#   --ssh-host-field F     which address to SSH to: publicIp (default) or privateIp
#   --ssh-option OPT       passed to ssh as -o OPT (repeatable), e.g. StrictHostKeyChecking=accept-new
#   --bump-revision N      added to the snapshot's revision (default 1000000000), with --mark-compacted, so
#                          that watchers (kube-apiserver) see a newer revision and re-list instead of missing
#                          or replaying events
#   --health-timeout S     seconds to wait for the restored cluster (or NAME alone) to be healthy (default 180)
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
# With --from-member, on member NAME only: checks that no member serves a linearizable read and that NAME has
# data, then starts its etcd once with --force-new-cluster (a runtime drop-in under /run, the unit is not
# edited) and once more from the unit alone. NAME keeps its data and member ID; the cluster ID stays. Run
# again, it says NAME already runs alone and changes nothing.
#
# The host steps are the component's own tool, /usr/local/sbin/etcd-restore, installed on every member with
# the maintenance units and rendered from the same layout as everything else (data directory, snapshot
# directory, ports, binaries): this script only decides the order and says what happened.
set -euo pipefail

readonly HOST_TOOL=/usr/local/sbin/etcd-restore

die() { printf 'restore: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'restore: %s\n' "$*"; }

snapshot="" from_member="" members_json="" ssh_key="" ssh_user=root ssh_port=22 host_field=publicIp ssh_options=()
bump=1000000000 health_timeout=180 yes=0
while (($#)); do
  case $1 in
    --yes) yes=1; shift; continue ;;
    -h | --help) sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;;
  esac
  (($# >= 2)) || die "option $1 needs a value (see --help)"
  case $1 in
    --snapshot) snapshot=$2 ;;
    --from-member) from_member=$2 ;;
    --members-json) members_json=$2 ;;
    --ssh-key) ssh_key=$2 ;;
    --ssh-user) ssh_user=$2 ;;
    --ssh-port) ssh_port=$2 ;;
    --ssh-host-field) host_field=$2 ;;
    --ssh-option) ssh_options+=(-o "$2") ;;
    --data-dir | --snapshot-dir) die "$1 is gone: the hosts' $HOST_TOOL knows the component's directories" ;;
    --bump-revision) bump=$2 ;;
    --health-timeout) health_timeout=$2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
if [[ -n $from_member ]]; then
  [[ -z $snapshot ]] || die "--snapshot and --from-member are two different recoveries: pass one of them"
else
  [[ -n $snapshot && -f $snapshot ]] || die "--snapshot FILE (or --from-member NAME) is required and must exist"
fi
[[ -n $members_json ]] || die "--members-json FILE is required (pulumi stack output members --json > members.json)"
[[ $host_field == publicIp || $host_field == privateIp ]] || die "--ssh-host-field must be publicIp or privateIp"
[[ $bump =~ ^[0-9]+$ && $health_timeout =~ ^[0-9]+$ && $ssh_port =~ ^[0-9]+$ ]] || die "--bump-revision, --health-timeout and --ssh-port take numbers"

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

members_arg=""
for i in "${!names[@]}"; do members_arg+="${members_arg:+,}${names[i]}=${ips[i]}"; done

ssh_cmd=(ssh -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=10 "${ssh_options[@]}")
[[ -n $ssh_key ]] && ssh_cmd+=(-i "$ssh_key")
sudo=""
[[ $ssh_user == root ]] || sudo="sudo "
# on_host I STEP ARGS...: runs the host tool's STEP on member I as root, its output prefixed with the member's
# name; stdin goes to the tool (the snapshot, for receive).
on_host() {
  local i=$1
  shift
  "${ssh_cmd[@]}" "$ssh_user@${hosts[i]}" "$sudo$HOST_TOOL $(printf '%q ' "$@")" | sed "s/^/restore: [${names[i]}] /"
}

if [[ -n $from_member ]]; then
  survivor=-1
  for i in "${!names[@]}"; do [[ ${names[i]} != "$from_member" ]] || survivor=$i; done
  ((survivor >= 0)) || die "--from-member $from_member: no member of that name in $members_json (members: ${names[*]})"
  log "recovering from the data of $from_member; members: $members_arg"
  on_host "$survivor" check </dev/null
  rc=0
  on_host "$survivor" survivor "$from_member" "$members_arg" </dev/null || rc=$?
  if ((rc == 3)); then
    log "nothing to do. next: re-join the other members (docs/operations.md, \"Quorum lost\"), then pulumi up (expect no changes)."
    exit 0
  fi
  ((rc == 0)) || die "nothing was changed (see above)"
  if ((!yes)); then
    [[ -t 0 ]] || die "stdin is not a terminal: pass --yes to go ahead"
    read -r -p "Start $from_member alone from its data (--force-new-cluster); every other member must then re-join. Type 'force' to go ahead: " answer
    [[ $answer == force ]] || die "not confirmed; nothing changed"
  fi
  started=$SECONDS
  on_host "$survivor" force-new-cluster "$from_member" "$members_arg" "$health_timeout" </dev/null
  log "recovered in $((SECONDS - started)) s: $from_member runs alone with its data, its unit unchanged."
  log "next: re-join every other member with its data directory gone (existing hosts: move it aside, pulumi up --replace of the member's -host step; Hetzner: hcloud server delete, pulumi up --refresh), then pulumi up (expect no changes)."
  exit 0
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
token="restored-$stamp-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
remote_file="restore-$stamp.db"
sha=$(sha256sum "$snapshot")
sha=${sha%% *}
log "snapshot $snapshot (sha256 $sha, $(stat -c %s "$snapshot") bytes)"
log "members: $members_arg"
log "new initial-cluster token $token; revisions bumped by $bump and marked compacted"
for i in "${!names[@]}"; do
  on_host "$i" check </dev/null
done
if ((!yes)); then
  [[ -t 0 ]] || die "stdin is not a terminal: pass --yes to go ahead"
  read -r -p "Stop etcd on all ${#names[@]} members and restore this snapshot? Type 'restore' to go ahead: " answer
  [[ $answer == restore ]] || die "not confirmed; nothing changed"
fi

started=$SECONDS
log "1/4 copying the snapshot to every member"
for i in "${!names[@]}"; do
  on_host "$i" receive "$remote_file" "$sha" <"$snapshot"
done
log "2/4 stopping etcd on every member"
for i in "${!names[@]}"; do
  on_host "$i" stop </dev/null
done
log "3/4 restoring on every member"
for i in "${!names[@]}"; do
  on_host "$i" restore "$remote_file" "${names[i]}" "$members_arg" "$token" "$bump" "$stamp" </dev/null
done
log "4/4 starting etcd on every member"
for i in "${!names[@]}"; do
  on_host "$i" start </dev/null
done
on_host 0 wait "$members_arg" "$health_timeout" </dev/null
log "restored in $((SECONDS - started)) s: every member started and healthy. The replaced data directories are kept as <data dir>.before-restore-$stamp on each member (see above); remove them once you are satisfied."
log "next: pulumi up (expect no changes); clients reconnect by themselves, watchers re-list (the revision moved forward by $bump)."
