// Scale-down membership: one remote Command that removes every member the cluster lists but the plan no
// longer wants, one at a time, moving leadership away first. It runs after every member's configure step
// and before the cluster check, so the check sees the wanted members only.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterCommandInput } from "./hosts/types";
import { hostLayout } from "./render/layout";
import { pruneScript } from "./render/membership";

export interface MembershipInput extends ClusterCommandInput {
    /** Each member's configure step: members leave only after the wanted ones are configured. */
    after: pulumi.Resource[];
}

export function createMembership(input: MembershipInput): command.remote.Command {
    const layout = hostLayout(input.plan);
    return new command.remote.Command(`${input.name}-membership`, {
        connection: input.runOn.connection,
        create: pulumi.all(input.hosts.map((h) => h.privateIp)).apply((ips) => pruneScript({
            layout,
            wantedPeerUrls: ips.map(layout.peerUrl),
            clientUrls: ips.map(layout.clientUrl),
            healthTimeoutSeconds: input.plan.healthTimeoutSeconds,
        })),
    }, { parent: input.parent, dependsOn: input.after });
}
