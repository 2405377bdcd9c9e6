// Fail fast when a member is down. Before anything changes on the hosts, one local Command checks from where
// Pulumi runs that every member's SSH port answers within a few seconds, and stops the deployment with a
// message naming the member and what to do; otherwise a down host costs minutes of SSH retries in whichever
// step reaches it first. It re-runs whenever the wanted cluster or its hosts change, so an unrelated
// `pulumi up` is refused in seconds and a zero-change one stays zero-change. It runs after the members' host
// generation steps, which wait for a new server's SSH: a server being created answers by then.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterPlan } from "./plan";
import { header } from "./render/shell";

export interface ProbeTarget {
    /** Member name. */
    name: string;
    /** Address and port Pulumi's SSH connections use. */
    host: string;
    port: number;
    /** What the hosts layer knows about the machine, e.g. "server status off" (shown in the message). */
    state?: string;
}

export const PROBE_TIMEOUT_SECONDS = 5;

/** What the operator does about a member that does not answer, per hosts layer. */
export function downAdvice(layer: "hcloud" | "existing"): string {
    return layer === "hcloud"
        ? "Start it (hcloud server poweron <name>) and run pulumi up again. If the server is lost, delete it " +
          "(hcloud server delete <name>) and run pulumi up --refresh: a new server is created and the member re-joins. " +
          "See docs/operations.md, \"A member is down\"."
        : "Bring the host back and run pulumi up again. If the host was rebuilt (etcd and its data are gone), run " +
          "pulumi up --replace '<URN of its <cluster>-<member>-host step>' (pulumi stack --show-urns lists it): the member is " +
          "installed and re-joins. See docs/operations.md, \"A member is down\".";
}

export function reachabilityScript(targets: ProbeTarget[], advice: string, timeoutSeconds = PROBE_TIMEOUT_SECONDS): string {
    return header("Are the members reachable before anything changes? (runs where Pulumi runs)", {
        TARGETS: targets.map((t) => `${t.name} ${t.host} ${t.port} ${t.state ?? ""}`.trimEnd()),
        TIMEOUT: timeoutSeconds,
        ADVICE: `Nothing was changed. ${advice}`,
    }) + REACHABILITY_BODY;
}

const REACHABILITY_BODY = `down=0
for row in "\${TARGETS[@]}"; do
  read -r name host port state <<<"$row"
  # bash's /dev/tcp: a TCP connect, bounded, with nothing but bash and coreutils on this machine. The inner
  # bash expands $0 and $1 itself (single quotes on purpose).
  # shellcheck disable=SC2016
  if ! timeout "$TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
    echo "etcd member $name is down: its SSH port $host:$port does not answer within $TIMEOUT s\${state:+ ($state)}." >&2
    down=$((down + 1))
  fi
done
if [ "$down" -gt 0 ]; then
  echo "$ADVICE" >&2
  exit 1
fi
echo "every member's SSH port answers (\${#TARGETS[@]} probed)"
`;

/**
 * The gate: a local Command that every step touching a host depends on. Its trigger is a digest of the
 * wanted cluster (the plan without secrets) and of the probed hosts, so it runs again on every change.
 */
export function createReachabilityGate(name: string, plan: ClusterPlan, targets: pulumi.Output<ProbeTarget[]>,
    after: pulumi.Resource[], parent: pulumi.Resource): command.local.Command {
    const layer = plan.hosts.kind;
    const wanted = JSON.stringify(plan, (_key, value) =>
        (pulumi.Output.isInstance(value) || value instanceof Promise ? "<input>" : value));
    return new command.local.Command(`${name}-reachable`, {
        create: targets.apply((t) => reachabilityScript(t, downAdvice(layer))),
        interpreter: ["/bin/bash", "-c"],
        triggers: [targets.apply((t) => createHash("sha256").update(`${wanted}\0${JSON.stringify(t)}`).digest("hex"))],
    }, { parent, dependsOn: after });
}
