// etcd-restore: the host side of a restore from a snapshot, installed on every member with the maintenance
// units and run as root by scripts/restore.sh over SSH, one step on every member before the next step; and
// of a recovery from a survivor's data after the majority is lost (`--force-new-cluster`, on that member
// only). The
// data directory, snapshot directory, ports and binaries come from the same layout as everything else, so a
// custom dataDir or port cannot drift from what the restore assumes.
import { FORCE_NEW_CLUSTER_DROPIN, HostLayout, SERVICE_USER, UNIT_PATH } from "./layout";
import { ETCDCTL_MTLS, etcdctlVars, header, WAIT_UNTIL } from "./shell";

export interface RestoreToolInput {
    layout: HostLayout;
}

export function restoreTool({ layout }: RestoreToolInput): string {
    return header("etcd-restore: restore a snapshot onto this member (run by scripts/restore.sh)", {
        DATA_DIR: layout.dataDir,
        SNAPSHOT_DIR: layout.snapshotDir,
        PEER_PORT: layout.ports.peer,
        CLIENT_PORT: layout.ports.client,
        LOCAL_CLIENT_URL: layout.localClientUrl,
        FORCE_DROPIN: FORCE_NEW_CLUSTER_DROPIN,
        ETCDUTL: layout.links.etcdutl,
        UNIT_PATH,
        SERVICE_USER,
        ...etcdctlVars(layout.etcdctl.installed),
    }) + RESTORE_BODY;
}

const RESTORE_BODY = `# Usage (as root; MEMBERS is name=privateIp,name=privateIp,... for every member):
#   etcd-restore check
#   etcd-restore receive FILE SHA256 < snapshot   copies stdin to SNAPSHOT_DIR/FILE, checked by sha256 and etcdutl
#   etcd-restore stop
#   etcd-restore restore FILE NAME MEMBERS TOKEN BUMP STAMP
#                                           restores SNAPSHOT_DIR/FILE as member NAME into a fresh directory; the
#                                           data directory is moved aside to DATA_DIR.before-restore-STAMP
#   etcd-restore start
#   etcd-restore wait MEMBERS TIMEOUT       until every member is started and healthy
# After the majority is lost, on the member NAME whose data survived (scripts/restore.sh --from-member NAME):
#   etcd-restore survivor NAME MEMBERS      0: no member has a quorum and NAME has data, go ahead; 3: NAME
#                                           already runs alone (done); otherwise a refusal that says why
#   etcd-restore force-new-cluster NAME MEMBERS TIMEOUT
#                                           starts etcd once with --force-new-cluster (a runtime drop-in; the
#                                           unit is not edited), then again from the unit alone: a one-member
#                                           cluster with NAME's data, the same cluster ID, ready for re-joins
${ETCDCTL_MTLS}${WAIT_UNTIL}
host=$(hostname)
url_host() { if [[ $1 == *:* ]]; then printf '[%s]' "$1"; else printf '%s' "$1"; fi; }
# urls MEMBERS PORT [named]: "name=https://ip:port,..." with the names, or "https://ip:port,..." without.
urls() {
  local entry out="" entries
  IFS=, read -r -a entries <<<"$1"
  for entry in "\${entries[@]}"; do
    out+="\${out:+,}\${3:+\${entry%%=*}=}https://$(url_host "\${entry#*=}"):$2"
  done
  printf '%s' "$out"
}
snapshot_path() {
  [[ $1 =~ ^[A-Za-z0-9._-]+$ ]] || { echo "etcd-restore: snapshot file name '$1' must be a plain file name" >&2; exit 2; }
  printf '%s/%s' "$SNAPSHOT_DIR" "$1"
}

check() {
  [ -x "$ETCDUTL" ] || { echo "no $ETCDUTL on $host: is etcd deployed here?" >&2; return 1; }
  [ -f "$UNIT_PATH" ] || { echo "no $UNIT_PATH on $host" >&2; return 1; }
  getent passwd "$SERVICE_USER" >/dev/null || { echo "no $SERVICE_USER user on $host" >&2; return 1; }
  echo "$host: etcd $("$ETCDUTL" version | sed -n 's/^etcdutl version: //p'), data dir $DATA_DIR $([ -d "$DATA_DIR/member" ] && echo present || echo absent), etcd $(systemctl is-active etcd.service || true)"
}

receive() {
  local dest sha=$2 got status
  dest=$(snapshot_path "$1")
  install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$SNAPSHOT_DIR"
  (umask 077; cat >"$dest.part")
  got=$(sha256sum "$dest.part")
  got=\${got%% *}
  if [ "$got" != "$sha" ]; then
    rm -f "$dest.part"
    echo "$host: the snapshot arrived with sha256 $got, expected $sha" >&2
    return 1
  fi
  chown "$SERVICE_USER:$SERVICE_USER" "$dest.part"
  mv "$dest.part" "$dest"
  if ! status=$("$ETCDUTL" snapshot status -w fields "$dest" 2>&1); then
    echo "$host: etcdutl cannot read the snapshot: $status" >&2
    return 1
  fi
  echo "$host: snapshot copied to $dest and verified: $(awk -F' : ' '$1 == "\\"Revision\\"" { r = $2 } $1 == "\\"Keys\\"" { k = $2 } END { print "revision " r ", " k " keys" }' <<<"$status")"
}

stop() {
  # Disabled as well as stopped: a host that reboots in the middle of a restore must not start etcd on the
  # data about to be replaced (and re-join the old cluster). start() enables it again.
  systemctl disable --now --quiet etcd.service
  echo "$host: etcd stopped and disabled until the restore starts it"
}

restore() {
  local snapshot name=$2 members=$3 token=$4 bump=$5 stamp=$6 entry entries ip="" peer_url fresh aside
  snapshot=$(snapshot_path "$1")
  IFS=, read -r -a entries <<<"$members"
  for entry in "\${entries[@]}"; do
    if [ "\${entry%%=*}" = "$name" ]; then ip=\${entry#*=}; fi
  done
  [ -n "$ip" ] || { echo "$host: member $name is not in $members" >&2; return 1; }
  peer_url="https://$(url_host "$ip"):$PEER_PORT"
  fresh="$DATA_DIR.restore-$stamp"
  aside="$DATA_DIR.before-restore-$stamp"
  if systemctl is-active --quiet etcd.service; then
    echo "$host: etcd is running; stop it on every member first" >&2
    return 1
  fi
  rm -rf "$fresh"
  "$ETCDUTL" snapshot restore "$snapshot" --name "$name" --initial-cluster "$(urls "$members" "$PEER_PORT" named)" \\
    --initial-cluster-token "$token" --initial-advertise-peer-urls "$peer_url" --data-dir "$fresh" \\
    --bump-revision "$bump" --mark-compacted >"$fresh.log" 2>&1 || {
    cat "$fresh.log" >&2
    rm -rf "$fresh" "$fresh.log"
    echo "$host: etcdutl snapshot restore failed; the data directory was not touched" >&2
    return 1
  }
  rm -f "$fresh.log"
  chown -R "$SERVICE_USER:$SERVICE_USER" "$fresh"
  chmod 0700 "$fresh"
  if [ -e "$DATA_DIR" ]; then
    mv "$DATA_DIR" "$aside"
    echo "$host: the previous data directory is kept as $aside"
  fi
  mv "$fresh" "$DATA_DIR"
  echo "$host: restored $snapshot into $DATA_DIR as member $name ($peer_url)"
}

start() {
  # --no-block: a member finishes starting only once a majority is up, so starting blocks on the others.
  systemctl enable --quiet etcd.service
  systemctl start --no-block etcd.service
  echo "$host: etcd enabled and starting"
}

wait_healthy() {
  local members=$1 timeout=$2 endpoints deadline list n
  endpoints=$(urls "$members" "$CLIENT_PORT")
  n=$(tr ',' '\\n' <<<"$members" | grep -c .)
  deadline=$((SECONDS + timeout))
  until etcdctl_mtls --endpoints="$endpoints" endpoint health >/dev/null 2>&1 &&
    list=$(etcdctl_mtls --endpoints="$endpoints" member list 2>/dev/null) &&
    [ "$(grep -c ', started, ' <<<"$list")" -eq "$n" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "the restored cluster was not healthy within \${timeout}s; see journalctl -u etcd on the members" >&2
      etcdctl_mtls --endpoints="$endpoints" endpoint health >&2 || true
      return 1
    fi
    sleep 2
  done
  etcdctl_mtls --endpoints="$endpoints" member list -w table
  etcdctl_mtls --endpoints="$endpoints" endpoint status -w table
}

# linearizable ENDPOINT: a linearizable read there succeeds, which needs a quorum; why not is on stderr.
linearizable() {
  etcdctl_mtls --endpoints="$1" get --consistency=l --keys-only etcd-restore/quorum-probe 2>&1 >/dev/null | tail -n 1 >&2
  return "\${PIPESTATUS[0]}"
}

# quorum_member MEMBERS: prints the first member that serves a linearizable read; otherwise prints on stderr
# why each one did not (the operator sees that every member was asked and what it said).
quorum_member() {
  local entry entries why
  IFS=, read -r -a entries <<<"$1"
  for entry in "\${entries[@]}"; do
    if why=$(linearizable "$(urls "$entry" "$CLIENT_PORT")" 2>&1); then
      printf '%s' "\${entry%%=*}"
      return 0
    fi
    echo "$host: \${entry%%=*} serves no linearizable read: \${why:-no answer}" >&2
  done
  return 1
}

# alone NAME: this member serves linearizable reads and is the only member its cluster lists.
alone() {
  local list
  linearizable "$LOCAL_CLIENT_URL" 2>/dev/null &&
    list=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" member list 2>/dev/null) &&
    [ "$(grep -c . <<<"$list")" -eq 1 ] && [ "$(cut -d, -f3 <<<"$list" | tr -d ' ')" = "$1" ]
}

survivor() {
  local name=$1 members=$2 serving
  [[ ",$members" == *",$name="* ]] || { echo "$host: member $name is not in $members" >&2; return 1; }
  if serving=$(quorum_member "$members"); then
    if alone "$name"; then
      echo "$host: $name already runs as a one-member cluster with its data; nothing to force"
      return 3
    fi
    echo "$host: refusing --from-member $name: the cluster still has a quorum ($serving serves a linearizable read). Nothing was changed. Replace the lost members one at a time instead (docs/operations.md, \"A member is lost or down\")." >&2
    return 1
  fi
  if [ -z "$(ls -A "$DATA_DIR/member/wal" 2>/dev/null)" ]; then
    echo "$host: refusing --from-member $name: $name has no data ($DATA_DIR/member/wal is missing or empty). Nothing was changed. Name the member whose data survived, or restore from a snapshot (--snapshot FILE)." >&2
    return 1
  fi
  echo "$host: no member serves a linearizable read (the quorum is lost); $name has data in $DATA_DIR ($(du -sh "$DATA_DIR" | cut -f1)); etcd $(systemctl is-active etcd.service || true)"
}

drop_force() {
  if [ -e "$FORCE_DROPIN" ]; then
    rm -f "$FORCE_DROPIN"
    systemctl daemon-reload
  fi
}

force_new_cluster() {
  local name=$1 members=$2 timeout=$3 rc=0
  drop_force # left by an interrupted run
  survivor "$name" "$members" || rc=$?
  [ "$rc" -ne 3 ] || return 0
  [ "$rc" -eq 0 ] || return "$rc"
  systemctl stop etcd.service
  trap drop_force EXIT
  install -d -m 0755 "\${FORCE_DROPIN%/*}"
  printf '[Service]\nEnvironment=ETCD_FORCE_NEW_CLUSTER=true\n' >"$FORCE_DROPIN"
  systemctl daemon-reload
  echo "$host: starting $name once with --force-new-cluster ($FORCE_DROPIN)"
  systemctl start etcd.service
  wait_until "$timeout" "$host: $name did not serve as a one-member cluster within \${timeout}s; see journalctl -u etcd" alone "$name"
  drop_force
  trap - EXIT
  # Once more from the unit alone, so that nothing forced stays in the running etcd.
  systemctl restart etcd.service
  wait_until "$timeout" "$host: $name did not come back within \${timeout}s after the forced start; see journalctl -u etcd" alone "$name"
  echo "$host: $name runs alone with its data, from its unit as the component wrote it"
  etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" member list -w table
  etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" endpoint status -w table
}

step=\${1:-}
shift || true
case "$step:$#" in
  check:0) check ;;
  receive:2) receive "$@" ;;
  stop:0) stop ;;
  restore:6) restore "$@" ;;
  start:0) start ;;
  wait:2) wait_healthy "$@" ;;
  survivor:2) survivor "$@" ;;
  force-new-cluster:3) force_new_cluster "$@" ;;
  *) echo "usage: etcd-restore check|receive|stop|restore|start|wait|survivor|force-new-cluster ARGS... (see the comment at the top of $0)" >&2; exit 2 ;;
esac
`;
