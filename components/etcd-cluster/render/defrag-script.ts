// Defragmentation of the whole cluster, one member at a time: run by etcd-defrag.service on whichever member
// an operator starts it on, and by etcd-defrag-scheduled.service (with --only-on-leader, so one member walks
// the cluster per tick). The members come from the cluster itself (`endpoint status --cluster`), so the
// script needs no re-render when members are added or removed. Followers first, the leader last; the whole
// cluster must be healthy before the walk and after each member.
import { HostLayout } from "./layout";
import { ETCDCTL_MTLS, header, localMemberVars, STATUS_LINES, WAIT_UNTIL } from "./shell";

export interface DefragScriptInput {
    memberName: string;
    layout: HostLayout;
    /** How long one member's defragmentation may take, in seconds. */
    defragTimeoutSeconds: number;
    /** How long to wait for the whole cluster to be healthy after a member, in seconds. */
    healthTimeoutSeconds: number;
}

export function defragScript(input: DefragScriptInput): string {
    return header("etcd-defrag: defragment every member, one at a time", {
        ...localMemberVars(input.memberName, input.layout),
        DEFRAG_TIMEOUT: input.defragTimeoutSeconds,
        HEALTH_TIMEOUT: input.healthTimeoutSeconds,
    }) + DEFRAG_BODY;
}

const DEFRAG_BODY = `# Usage: etcd-defrag [--only-on-leader]   (--only-on-leader: do nothing unless this member is the leader)
${ETCDCTL_MTLS}${STATUS_LINES}${WAIT_UNTIL}
only_on_leader=0
case "\${1:-}" in
  --only-on-leader) only_on_leader=1 ;;
  "") ;;
  *) echo "usage: etcd-defrag [--only-on-leader]" >&2; exit 2 ;;
esac

# One walk at a time on this host (the on-demand and the scheduled unit share this lock).
exec 9<"$0"
if ! flock -n 9; then
  echo "etcd-defrag on $MEMBER: another defragmentation is running on this host" >&2
  exit 1
fi

# Healthy for this purpose: every member answers and commits. An active alarm (NOSPACE, which compaction plus
# defragmentation resolves before etcdctl alarm disarm) makes etcdctl call a member unhealthy; not here.
cluster_healthy() {
  local out line healthy=0
  out=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" endpoint health --cluster 2>&1) || true
  while IFS= read -r line; do
    case "$line" in
      *" is healthy"* | *" is unhealthy: failed to commit proposal: Active Alarm(s): "*) healthy=$((healthy + 1)) ;;
      *" is unhealthy"*) return 1 ;;
    esac
  done <<<"$out"
  [ "$healthy" -gt 0 ] && [ "$healthy" -eq "\${expected:-0}" ]
}

if [ "$only_on_leader" = 1 ]; then
  read -r _ self_id leader_id _ _ <<<"$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" endpoint status -w fields | status_lines)"
  if [ "\${self_id:-}" != "\${leader_id:-x}" ]; then
    echo "etcd-defrag on $MEMBER: not the leader; the leader runs the scheduled defragmentation"
    exit 0
  fi
fi

if ! fields=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" endpoint status --cluster -w fields 2>&1); then
  echo "etcd-defrag on $MEMBER: not every member answers; not defragmenting anything:" >&2
  echo "$fields" >&2
  exit 1
fi
mapfile -t members < <(status_lines <<<"$fields")
expected=\${#members[@]}
if ! cluster_healthy; then
  echo "etcd-defrag on $MEMBER: not every member is healthy; not defragmenting anything:" >&2
  etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" endpoint health --cluster >&2 || true
  exit 1
fi
followers=() leader=""
for line in "\${members[@]}"; do
  read -r endpoint id leader_id _ _ <<<"$line"
  if [ "$id" = "$leader_id" ]; then leader=$endpoint; else followers+=("$endpoint"); fi
done
order=("\${followers[@]}")
if [ -n "$leader" ]; then order+=("$leader"); fi
echo "etcd-defrag on $MEMBER: \${#order[@]} members, in this order: \${order[*]}"

size_of() {
  local line
  line=$(etcdctl_mtls --endpoints="$1" endpoint status -w fields | status_lines)
  read -r _ _ _ size _ <<<"$line"
  echo "\${size:-?}"
}

for endpoint in "\${order[@]}"; do
  before=$(size_of "$endpoint")
  started=$SECONDS
  etcdctl_mtls --endpoints="$endpoint" --command-timeout="\${DEFRAG_TIMEOUT}s" defrag >/dev/null
  wait_until "$HEALTH_TIMEOUT" "etcd-defrag: the cluster was not healthy within \${HEALTH_TIMEOUT}s after defragmenting a member; stopping, the members after it were not touched." cluster_healthy
  echo "etcd-defrag on $MEMBER: $endpoint defragmented in $((SECONDS - started))s: $before -> $(size_of "$endpoint") bytes"
done
echo "etcd-defrag on $MEMBER: all \${#order[@]} members defragmented, one at a time; the cluster is healthy"
`;
