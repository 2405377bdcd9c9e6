// The cluster check: fails the deployment unless every member is listed, started and healthy and a
// put/get/delete round trip on a scratch key works through every member, over mTLS.
import { releaseDir } from "./layout";
import { MEMBER_LIST_FUNCTIONS } from "./membership";
import { etcdctlFunction, SCRIPT_HEADER, shellArray, shellQuote, waitUntil } from "./shell";

export interface CheckInput {
    version: string;
    memberNames: string[];
    clientUrls: string[];
    timeoutSeconds: number;
}

export function checkScript(input: CheckInput): string {
    const n = input.memberNames.length;
    return `${SCRIPT_HEADER}# Cluster check (managed by the EtcdCluster Pulumi component).
names=${shellArray(input.memberNames)}
endpoints=${shellQuote(input.clientUrls.join(","))}
${etcdctlFunction(shellQuote(`${releaseDir(input.version)}/etcdctl`))}
${MEMBER_LIST_FUNCTIONS}
cluster_ready() {
  etcdctl_mtls --endpoints="$endpoints" endpoint health >/dev/null 2>&1 || return 1
  list=$(etcdctl_mtls --endpoints="$endpoints" member list) || return 1
  all_running "$list" ${n} || return 1
  for name in "\${names[@]}"; do grep -q ", started, $name, " <<<"$list" || return 1; done
}
${waitUntil("cluster_ready", input.timeoutSeconds,
        `etcd cluster check failed: within ${input.timeoutSeconds}s not all ${n} members (${input.memberNames.join(", ")}) were started and healthy.`)}
etcdctl_mtls --endpoints="$endpoints" endpoint health
etcdctl_mtls --endpoints="$endpoints" member list

# Round trip on a scratch key: written through one member, read back through each.
key="/etcd-cluster-check/$(hostname)-$$-$RANDOM"
value="check-$(date +%s%N)"
etcdctl_mtls --endpoints="\${endpoints%%,*}" put "$key" "$value" >/dev/null
IFS=, read -r -a each <<<"$endpoints"
for endpoint in "\${each[@]}"; do
  got=$(etcdctl_mtls --endpoints="$endpoint" get --consistency=l --print-value-only "$key")
  if [ "$got" != "$value" ]; then
    echo "etcd cluster check failed: $endpoint returned '$got' for $key, expected '$value'" >&2
    exit 1
  fi
done
etcdctl_mtls --endpoints="\${endpoints%%,*}" del "$key" >/dev/null
echo "etcd cluster check passed: ${n} members started and healthy; put/get/delete round trip through every member"
`;
}
