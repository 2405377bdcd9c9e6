// The health gate before a member's server is replaced: runs on another member and passes only while every
// member the cluster lists is started, a voting member and healthy, and there are at least 3 of them (so the
// others keep quorum). It carries the server's settings and nothing about the cluster's size, which it reads
// from the cluster: it runs exactly when the settings change (and once when created, or when it moves to
// another host), never because members are added or removed; a scale-up must not wait for itself.
import { HostLayout } from "./layout";
import { MEMBER_LIST_FUNCTIONS } from "./membership";
import { ETCDCTL_MTLS, etcdctlVars, header, WAIT_UNTIL } from "./shell";

export interface ServerGateInput {
    /** The member whose server may be replaced after this gate. */
    memberName: string;
    /** Its server settings, as declared in this deployment. */
    settings: string;
    /** The member's peer URL: how the cluster's member list names it. */
    peerUrl: string;
    layout: HostLayout;
    timeoutSeconds: number;
}

export function serverGateScript(input: ServerGateInput): string {
    return header(`Health gate before the server of ${input.memberName} changes to: ${input.settings}`, {
        MEMBER: input.memberName,
        PEER_URL: input.peerUrl,
        LOCAL_CLIENT_URL: input.layout.localClientUrl,
        DATA_DIR: input.layout.dataDir,
        TIMEOUT: input.timeoutSeconds,
        ...etcdctlVars(input.layout.etcdctl.installed),
    }) + GATE_BODY;
}

const GATE_BODY = `${ETCDCTL_MTLS}${WAIT_UNTIL}${MEMBER_LIST_FUNCTIONS}
# A host that never ran a member (a new cluster, or a server new in a scale-up) has no cluster to ask. One
# whose member is stopped does: the local member must answer, or the gate refuses.
if [ ! -d "$DATA_DIR/member" ]; then
  echo "no etcd member has run on this host yet: nothing to guard"
  exit 0
fi
member_absent=0
cluster_healthy() {
  local count
  list=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" member list 2>/dev/null) || return 1
  # Not a member (yet): the server is new in a scale-up, which adds its member later. Taking it down cannot
  # cost the cluster a vote.
  if ! member_line "$list" "$PEER_URL" >/dev/null; then member_absent=1; return 0; fi
  count=$(grep -c . <<<"$list")
  [ "$count" -ge 3 ] || return 1
  all_running "$list" "$count" || return 1
  etcdctl_mtls --endpoints="$(client_urls "$list")" endpoint health >/dev/null 2>&1
}
wait_until "$TIMEOUT" "refusing to replace the server of $MEMBER: the members the cluster lists were not all started, voting and healthy, at least 3 of them, within \${TIMEOUT}s; taking one down could lose quorum. Nothing was changed; bring the members back, then run pulumi up again." cluster_healthy
if [ "$member_absent" = 1 ]; then
  echo "$MEMBER ($PEER_URL) is not a member of the cluster: nothing to guard"
  exit 0
fi
echo "every member is healthy: the server of $MEMBER may be replaced"
`;
