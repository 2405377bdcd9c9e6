#!/usr/bin/env bash
# scripts/adopt.sh - move a cluster built by hand (the distribution's etcd package, /etc/default/etcd, OpenSSL
# certificates) under the component, on the same hosts, by the snapshot path. Run from the operator's machine
# (SSH as root, or a user with sudo, to every host; node on this machine). See docs/operations.md,
# "Adopting a cluster built by hand", for the whole sequence.
#
# Usage:
#   scripts/adopt.sh check  --hosts FILE [options]
#   scripts/adopt.sh retire --hosts FILE --snapshot-out FILE [options] [--yes]
#
#   check    reads the old cluster on every host (packages, version, members, health, database size, alarms,
#            free space), says what will happen and roughly how long the cluster will be unavailable, or why
#            it cannot be adopted. Changes nothing.
#   retire   the check again, then: a snapshot from the leader (etcdctl snapshot save), copied to
#            --snapshot-out here and compared by sha256; then on every host etcd stopped and disabled, its data
#            directory, /etc/default/etcd and /etc/etcd moved to /var/lib/etcd.distribution-<time>/ (kept, never
#            deleted) and the packages (etcd, etcd-server, etcd-client) removed. The cluster is down from here
#            until scripts/restore.sh has restored the snapshot into the component's cluster.
#
#   --hosts FILE            the stack's existingHosts as JSON: [{"name":..., "privateIp":..., "publicIp":...}]
#   --ssh-key FILE          private key for SSH (default: ssh's own configuration)
#   --ssh-user USER         default root
#   --ssh-port PORT         default 22
#   --ssh-host-field F      which address to SSH to: publicIp (default) or privateIp
#   --ssh-option OPT        passed to ssh as -o OPT (repeatable)
#   --release-version V     the etcd version the stack installs (default: versions.json's etcd.default)
#   --quota-backend-bytes N the stack's tuning.quotaBackendBytes (default 2147483648)
#   --snapshot-out FILE     retire: where to save the snapshot here (must not exist)
#   --yes                   retire: do not ask; needed when stdin is not a terminal
#
# Exit status: 0 done (check: it can be adopted), 1 refused or failed (nothing changed unless it says so), 2 usage.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$here/lib/cli.sh"
readonly CLI_NAME=adopt
readonly ASSESS=$here/lib/adopt-assess.js

cli_answer_help "$@"
command=${1:-}
case $command in
  check | retire) shift ;;
  *) usage_error "missing or unknown command: ${command}" ;;
esac

hosts_file="" ssh_key="" ssh_user=root ssh_port=22 host_field=publicIp ssh_options=() snapshot_out="" yes=0
release="" quota=2147483648
args=()
for a in "$@"; do
  if [[ $a == --yes ]]; then yes=1; else args+=("$a"); fi
done
option() {
  case $1 in
    --hosts) hosts_file=$2 ;;
    --ssh-key) ssh_key=$2 ;;
    --ssh-user) ssh_user=$2 ;;
    --ssh-port) ssh_port=$2 ;;
    --ssh-host-field) host_field=$2 ;;
    --ssh-option) ssh_options+=(-o "$2") ;;
    --release-version) release=$2 ;;
    --quota-backend-bytes) quota=$2 ;;
    --snapshot-out) snapshot_out=$2 ;;
    *) return 1 ;;
  esac
}
cli_options option "${args[@]}"
[[ -n $hosts_file && -f $hosts_file ]] || usage_error "--hosts FILE is required and must exist"
[[ $host_field == publicIp || $host_field == privateIp ]] || usage_error "--ssh-host-field must be publicIp or privateIp"
[[ $ssh_port =~ ^[0-9]+$ && $quota =~ ^[0-9]+$ ]] || usage_error "--ssh-port and --quota-backend-bytes take numbers"
if [[ $command == retire ]]; then
  [[ -n $snapshot_out ]] || usage_error "retire needs --snapshot-out FILE"
  [[ ! -e $snapshot_out ]] || die "$snapshot_out exists: refusing to overwrite a snapshot"
fi
command -v node >/dev/null 2>&1 || die "node is needed on this machine"
if [[ -z $release ]]; then
  # shellcheck disable=SC2016 # JavaScript
  release=$(node -e 'console.log(require(process.argv[1]).etcd.default)' "$here/../versions.json")
fi

names=() hosts=()
while read -r name _ip host; do names+=("$name") hosts+=("$host"); done < <(node "$ASSESS" hosts "$hosts_file" "$host_field")
((${#names[@]} > 0)) || die "no hosts read from $hosts_file"

ssh_cmd=(ssh -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=10 "${ssh_options[@]}")
[[ -n $ssh_key ]] && ssh_cmd+=(-i "$ssh_key")
sudo=""
[[ $ssh_user == root ]] || sudo="sudo "
# on_host I SCRIPT ARGS...: runs SCRIPT (bash text) on host I as root with ARGS; stdin is free for data.
on_host() {
  local i=$1 script=$2
  shift 2
  "${ssh_cmd[@]}" "$ssh_user@${hosts[i]}" "${sudo}bash -c $(printf '%q' "$script") adopt $(printf '%q ' "$@")"
}

# Shared by the host steps: the running etcd's settings (its flags first, then its ETCD_* environment, which
# holds /etc/default/etcd and the unit's defaults) and an etcdctl that uses the member's own certificates.
read -r -d '' HOST_LIB <<'EOF' || true
set -euo pipefail
pid=$(systemctl show -p MainPID --value etcd.service 2>/dev/null || echo 0)
setting() { # setting FLAG VAR: the value of --FLAG on the command line, else of VAR in the environment
  local flag=$1 var=$2 prev="" a
  if [ "$pid" != 0 ] && [ -r "/proc/$pid/cmdline" ]; then
    while IFS= read -r -d '' a; do
      case $a in --"$flag"=*) printf '%s\n' "${a#*=}"; return 0 ;; esac
      if [ "$prev" = "--$flag" ]; then printf '%s\n' "$a"; return 0; fi
      prev=$a
    done < "/proc/$pid/cmdline"
    tr '\0' '\n' < "/proc/$pid/environ" | sed -n "s/^$var=//p" | tail -n 1
  fi
}
endpoint=$(setting advertise-client-urls ETCD_ADVERTISE_CLIENT_URLS | cut -d, -f1)
ctl() {
  ETCDCTL_API=3 etcdctl --endpoints="${endpoint:-https://127.0.0.1:2379}" --dial-timeout=3s --command-timeout=30s \
    --cacert="$(setting trusted-ca-file ETCD_TRUSTED_CA_FILE)" --cert="$(setting cert-file ETCD_CERT_FILE)" \
    --key="$(setting key-file ETCD_KEY_FILE)" "$@"
}
EOF

# The collector: sections "@@ name" that scripts/lib/adopt-assess.js reads. Only settings, no key material.
read -r -d '' COLLECT <<'EOF' || true
echo "@@ reach"; echo ok
echo "@@ dpkg"; dpkg-query -W -f='${Package} ${Version} ${Status}\n' etcd etcd-server etcd-client 2>/dev/null || true
echo "@@ owner"; cat /etc/etcd/owner 2>/dev/null || true
echo "@@ active"; systemctl is-active etcd.service 2>/dev/null || true
[ "$pid" != 0 ] || exit 0
data=$(setting data-dir ETCD_DATA_DIR)
echo "@@ datadir"; echo "$data"
echo "@@ avail"; [ -z "$data" ] || df -B1 --output=avail "$(dirname "$data")" | tail -n 1 | tr -d ' '
err=$(mktemp); trap 'rm -f "$err"' EXIT
echo "@@ status"; ctl endpoint status -w json 2>>"$err" || true
echo "@@ members"; ctl member list -w json 2>>"$err" || true
echo "@@ health"; if ctl endpoint health >/dev/null 2>>"$err"; then echo 0; else echo 1; fi
echo "@@ alarms"; ctl alarm list 2>>"$err" || true
# The count of the whole range, with one key sent (3.4's etcdctl has no --count-only).
echo "@@ count"; ctl get "" --prefix --limit=1 --keys-only -w json 2>>"$err" || true
echo "@@ etcdctl_error"; tail -n 3 "$err"
EOF

# The snapshot, on the leader: saved to FILE, checked by etcdctl, its sha256 and status printed, then its bytes
# on stdout on a second call (cat).
read -r -d '' SNAPSHOT <<'EOF' || true
file=$1
ctl snapshot save "$file" >&2
chmod 0600 "$file"
ETCDCTL_API=3 etcdctl snapshot status "$file" -w json >&2
sha256sum "$file" | cut -d' ' -f1
EOF

# Retiring the package on one host: stop and disable etcd, keep its data, configuration and
# certificates aside, remove the packages. Args: the time stamp, the data directory.
read -r -d '' RETIRE <<'EOF' || true
stamp=$1 data=$2
kept=/var/lib/etcd.distribution-$stamp
systemctl disable --now etcd.service >/dev/null 2>&1 || true
if systemctl is-active --quiet etcd.service; then echo "etcd is still running; nothing moved" >&2; exit 1; fi
install -d -m 0700 -o root -g root "$kept"
if [ -d "$data" ]; then mv "$data" "$kept/data"; fi
if [ -f /etc/default/etcd ] && [ ! -e "$kept/default-etcd" ]; then cp -p /etc/default/etcd "$kept/default-etcd"; fi
if [ -d /etc/etcd ] && [ ! -e /etc/etcd/owner ]; then mv /etc/etcd "$kept/etc-etcd"; fi
# dpkg-query fails for a name it never knew (etcd on Debian 12): what it prints is still right.
# packages FIELD WORD: the names whose Status word FIELD (2: wanted, 4: state) is WORD.
packages() {
  { dpkg-query -W -f='${Package} ${Status}\n' etcd etcd-server etcd-client 2>/dev/null || true; } |
    awk -v f="$1" -v w="$2" '$f == w { print $1 }' | tr '\n' ' '
}
pkgs=$(packages 2 install)
if [ -n "$pkgs" ]; then
  # shellcheck disable=SC2086 # a list of package names
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -q $pkgs >/dev/null
fi
left=$(packages 4 installed)
if [ -n "$left" ]; then echo "still installed: $left" >&2; exit 1; fi
echo "etcd stopped and disabled; removed: ${pkgs:-nothing (already)}; kept in $kept: $(cd "$kept" && echo *)"
EOF

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "reading the cluster on ${#names[@]} hosts: ${names[*]}"
for i in "${!names[@]}"; do
  if ! on_host "$i" "$HOST_LIB"$'\n'"$COLLECT" </dev/null >"$work/$i.txt" 2>"$work/$i.err"; then
    printf '@@ reach\n%s\n' "$(tail -n 1 "$work/$i.err")" >"$work/$i.txt"
  fi
done
if ! node "$ASSESS" assess "$hosts_file" "$work" "$release" "$quota" "$work/plan"; then
  exit 1
fi
[[ $command == check ]] && exit 0

leader=$(awk '$1=="leader"{print $2}' "$work/plan")
if ((!yes)); then
  [[ -t 0 ]] || die "stdin is not a terminal: pass --yes to go ahead"
  read -r -p "Snapshot, then stop etcd on all ${#names[@]} hosts and remove the package? Type 'retire' to go ahead: " answer
  [[ $answer == retire ]] || die "not confirmed; nothing changed"
fi

started=$SECONDS
stamp=$(date -u +%Y%m%dT%H%M%SZ)
remote=/var/tmp/etcd-adopt-$stamp.db
log "1/2 snapshot on the leader ${names[leader]} ($remote)"
sha=$(on_host "$leader" "$HOST_LIB"$'\n'"$SNAPSHOT" "$remote" </dev/null 2>"$work/snapshot.log") ||
  { cat "$work/snapshot.log" >&2; die "the snapshot failed; nothing was stopped"; }
grep -o '{.*}' "$work/snapshot.log" | tail -n 1 | sed "s/^/$CLI_NAME: snapshot status /" >&2
# shellcheck disable=SC2016 # $1 is the host's
on_host "$leader" 'cat "$1"' "$remote" </dev/null >"$snapshot_out.part"
got=$(sha256sum "$snapshot_out.part" | cut -d' ' -f1)
[[ $got == "$sha" ]] || die "the copy of the snapshot has sha256 $got, the leader's $sha; nothing was stopped"
mv "$snapshot_out.part" "$snapshot_out"
log "snapshot saved to $snapshot_out (sha256 $sha, $(stat -c %s "$snapshot_out") bytes; also on ${names[leader]} as $remote)"

log "2/2 stopping etcd, keeping its data aside and removing the package on every host (the cluster is down from here)"
while read -r _ i data; do
  on_host "$i" "set -euo pipefail"$'\n'"$RETIRE" "$stamp" "$data" </dev/null | sed "s/^/$CLI_NAME: [${names[i]}] /" >&2
done < <(awk '$1=="host"' "$work/plan")
log "retired in $((SECONDS - started)) s. Next: pulumi up (the component installs its etcd on these hosts), then"
log "  pulumi stack output members --json > members.json && scripts/restore.sh --snapshot $snapshot_out --members-json members.json"
