// The cluster check: fails the deployment unless every member is listed, started and healthy and a
// put/get/delete round trip on a scratch key works through every member, over mTLS.
import { HostLayout } from "./layout";
import { MEMBER_LIST_FUNCTIONS } from "./membership";
import { ETCDCTL_MTLS, etcdctlVars, header, WAIT_UNTIL } from "./shell";

export interface CheckScriptInput {
    layout: HostLayout;
    memberNames: string[];
    clientUrls: string[];
    timeoutSeconds: number;
}

export function checkScript(input: CheckScriptInput): string {
    return header("Cluster check", {
        NAMES: input.memberNames,
        ENDPOINTS: input.clientUrls.join(","),
        TIMEOUT: input.timeoutSeconds,
        ...etcdctlVars(input.layout.etcdctl.release),
    }) + CHECK_BODY;
}

const CHECK_BODY = `${ETCDCTL_MTLS}${WAIT_UNTIL}${MEMBER_LIST_FUNCTIONS}
cluster_ready() {
  etcdctl_mtls --endpoints="$ENDPOINTS" endpoint health >/dev/null 2>&1 || return 1
  list=$(etcdctl_mtls --endpoints="$ENDPOINTS" member list) || return 1
  all_running "$list" "\${#NAMES[@]}" || return 1
  for name in "\${NAMES[@]}"; do grep -q ", started, $name, " <<<"$list" || return 1; done
}
wait_until "$TIMEOUT" "etcd cluster check failed: within \${TIMEOUT}s not all \${#NAMES[@]} members (\${NAMES[*]}) were started and healthy." cluster_ready
etcdctl_mtls --endpoints="$ENDPOINTS" endpoint health
etcdctl_mtls --endpoints="$ENDPOINTS" member list

# Round trip on a scratch key: written through one member, read back through each.
key="/etcd-cluster-check/$(hostname)-$$-$RANDOM"
value="check-$(date +%s%N)"
etcdctl_mtls --endpoints="\${ENDPOINTS%%,*}" put "$key" "$value" >/dev/null
IFS=, read -r -a each <<<"$ENDPOINTS"
for endpoint in "\${each[@]}"; do
  got=$(etcdctl_mtls --endpoints="$endpoint" get --consistency=l --print-value-only "$key")
  if [ "$got" != "$value" ]; then
    echo "etcd cluster check failed: $endpoint returned '$got' for $key, expected '$value'" >&2
    exit 1
  fi
done
etcdctl_mtls --endpoints="\${ENDPOINTS%%,*}" del "$key" >/dev/null
# When it was true: the stack keeps this text until the check runs again (on the next change).
echo "etcd cluster check passed: \${#NAMES[@]} members started and healthy; put/get/delete round trip through every member (measured $(date -u +%Y-%m-%dT%H:%M:%SZ))"
`;
