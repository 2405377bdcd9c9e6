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
    /** The SSH host key the connections pin ("ssh-ed25519 AAAA…"); when set, the host must show it. */
    hostKey?: string;
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

/** What the operator does about a member that shows another SSH host key than the pinned one, per hosts layer. */
export function hostKeyAdvice(layer: "hcloud" | "existing"): string {
    return layer === "hcloud"
        ? "Each server this component creates gets a generated host key through its user data; a server made before " +
          "that, or rebuilt by hand, shows another one. Look at the server on its console before trusting it; if it " +
          "is lost, delete it and run pulumi up --refresh. See docs/operations.md, \"A member shows another SSH host key\"."
        : "If the host was rebuilt on purpose, set its existingHosts[].sshHostKey to its new " +
          "/etc/ssh/ssh_host_ed25519_key.pub (read it on the host's console) and run pulumi up again; otherwise find " +
          "out what answers on that address. See docs/operations.md, \"A member shows another SSH host key\".";
}

/** OpenSSH's fingerprint of a public key line ("SHA256:…", as `ssh-keygen -lf` prints it). */
export function fingerprint(publicKeyLine: string): string {
    const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? "", "base64");
    return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function reachabilityScript(targets: ProbeTarget[], layer: "hcloud" | "existing", timeoutSeconds = PROBE_TIMEOUT_SECONDS): string {
    return header("Are the members reachable before anything changes? (runs where Pulumi runs)", {
        TARGETS: targets.map((t) => `${t.name} ${t.host} ${t.port} ${t.state ?? ""}`.trimEnd()),
        // "type base64" of each pinned key (comments dropped), in the order of TARGETS; empty when not pinned.
        HOST_KEYS: targets.map((t) => (t.hostKey ?? "").trim().split(/\s+/).slice(0, 2).join(" ")),
        FINGERPRINTS: targets.map((t) => (t.hostKey ? fingerprint(t.hostKey) : "")),
        TIMEOUT: timeoutSeconds,
        ADVICE: `Nothing was changed. ${downAdvice(layer)}`,
        KEY_ADVICE: `Nothing was changed. ${hostKeyAdvice(layer)}`,
    }) + REACHABILITY_BODY;
}

const REACHABILITY_BODY = `down=0
impostors=0
verified=0
for i in "\${!TARGETS[@]}"; do
  read -r name host port state <<<"\${TARGETS[$i]}"
  # bash's /dev/tcp: a TCP connect, bounded, with nothing but bash and coreutils on this machine. The inner
  # bash expands $0 and $1 itself (single quotes on purpose).
  # shellcheck disable=SC2016
  if ! timeout "$TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
    echo "etcd member $name is down: its SSH port $host:$port does not answer within $TIMEOUT s\${state:+ ($state)}." >&2
    down=$((down + 1))
    continue
  fi
  pinned=\${HOST_KEYS[$i]}
  [ -n "$pinned" ] || continue
  if ! command -v ssh-keyscan >/dev/null; then
    echo "ssh-keyscan (the OpenSSH client) is needed where pulumi runs, to check the members' pinned SSH host keys: install it (Debian: apt-get install openssh-client)." >&2
    exit 1
  fi
  # The connections pin this key and would refuse another one only after minutes of dial retries: ask the
  # host for its keys now (ssh-keyscan sends nothing of ours) and stop before any secret goes to it.
  shown=$(ssh-keyscan -T "$TIMEOUT" -p "$port" "$host" 2>/dev/null | awk '{print $2" "$3}') || true
  if ! grep -qxF -- "$pinned" <<<"$shown"; then
    echo "etcd member $name at $host:$port does not show its pinned SSH host key \${FINGERPRINTS[$i]}: another machine answers on its address, or the host was rebuilt with new keys. Refusing to send it anything." >&2
    impostors=$((impostors + 1))
  else
    verified=$((verified + 1))
  fi
done
if [ "$down" -gt 0 ]; then
  echo "$ADVICE" >&2
  exit 1
fi
if [ "$impostors" -gt 0 ]; then
  echo "$KEY_ADVICE" >&2
  exit 1
fi
echo "every member's SSH port answers (\${#TARGETS[@]} probed; $verified showed their pinned host key)"
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
        create: targets.apply((t) => reachabilityScript(t, layer)),
        interpreter: ["/bin/bash", "-c"],
        triggers: [targets.apply((t) => createHash("sha256").update(`${wanted}\0${JSON.stringify(t)}`).digest("hex"))],
    }, { parent, dependsOn: after });
}
