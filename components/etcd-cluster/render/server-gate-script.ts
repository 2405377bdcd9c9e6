// The health gate before a member's server is replaced: runs on another member and passes only while every
// member the cluster lists is started, a voting member and healthy. It carries the server's settings, so it
// runs exactly when they change (and once when created: on a host with no cluster yet, or while the member is
// not in the cluster, e.g. its server is new in a scale-up, it has nothing to guard).
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
    clientUrls: string[];
    timeoutSeconds: number;
}

export function serverGateScript(input: ServerGateInput): string {
    return header(`Health gate before the server of ${input.memberName} changes to: ${input.settings}`, {
        MEMBER: input.memberName,
        PEER_URL: input.peerUrl,
        ENDPOINTS: input.clientUrls.join(","),
        COUNT: input.clientUrls.length,
        DATA_DIR: input.layout.dataDir,
        TIMEOUT: input.timeoutSeconds,
        ...etcdctlVars(input.layout.etcdctl.installed),
    }) + GATE_BODY;
}

const GATE_BODY = `${ETCDCTL_MTLS}${WAIT_UNTIL}${MEMBER_LIST_FUNCTIONS}
if [ ! -d "$DATA_DIR/member" ] || ! systemctl is-active --quiet etcd.service; then
  echo "no running etcd member on this host yet: nothing to guard"
  exit 0
fi
member_absent=0
cluster_healthy() {
  list=$(etcdctl_mtls --endpoints="$ENDPOINTS" member list 2>/dev/null) || return 1
  # Not a member (yet): the server is new in a scale-up, which adds its member later. Taking it down cannot
  # cost the cluster a vote, and waiting for all COUNT members here would wait for this very scale-up.
  if ! member_line "$list" "$PEER_URL" >/dev/null; then member_absent=1; return 0; fi
  all_running "$list" "$COUNT" || return 1
  etcdctl_mtls --endpoints="$(client_urls "$list")" endpoint health >/dev/null 2>&1
}
wait_until "$TIMEOUT" "refusing to replace the server of $MEMBER: not all $COUNT members were started, voting and healthy within \${TIMEOUT}s, and taking one down could lose quorum. Nothing was changed; bring the members back, then run pulumi up again." cluster_healthy
if [ "$member_absent" = 1 ]; then
  echo "$MEMBER ($PEER_URL) is not a member of the cluster: nothing to guard"
  exit 0
fi
echo "every member is healthy: the server of $MEMBER may be replaced"
`;
