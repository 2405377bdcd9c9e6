// The version preflight before anything changes, and the cluster check after everything did: remote
// Commands on one member that fail the deployment unless the version change is allowed, and unless the
// whole cluster is healthy. The check re-runs whenever any member's configuration changed.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createHash } from "crypto";
import { ClusterCommandInput } from "./hosts/types";
import { MemberResources } from "./member";
import { Pki } from "./pki";
import { checkScript } from "./render/check-script";
import { hostLayout } from "./render/layout";
import { preflightScript } from "./render/preflight-script";

export interface CheckInput extends ClusterCommandInput {
    members: MemberResources[];
    pki: Pki;
    /** What must have run first (scale-down membership). */
    after: pulumi.Resource[];
}

export function createCheck(input: CheckInput): command.remote.Command {
    const { plan, members, pki } = input;
    const layout = hostLayout(plan);
    // A digest of what the members run and the public certificates they got (keys change with their certs),
    // so the trigger is neither secret nor a wall of text in a preview.
    const fingerprint = pulumi.all([
        ...members.map((m) => m.configure.update),
        pki.caCertPem,
        ...pki.members.flatMap((m) => [m.server.certPem, m.peer.certPem]),
    ]).apply((parts) => createHash("sha256").update(parts.join("\0")).digest("hex"));
    return new command.remote.Command(`${input.name}-cluster-check`, {
        connection: input.runOn.connection,
        create: pulumi.all(input.hosts.map((h) => h.privateIp)).apply((ips) => checkScript({
            layout,
            memberNames: input.hosts.map((h) => h.name),
            clientUrls: ips.map(layout.clientUrl),
            timeoutSeconds: plan.healthTimeoutSeconds,
        })),
        triggers: [fingerprint],
    }, { parent: input.parent, dependsOn: input.after });
}

/** The version preflight: runs on one member before anything is installed or restarted, once every member answers. */
export function createPreflight(input: ClusterCommandInput & { reachable: pulumi.Resource }): command.remote.Command {
    const layout = hostLayout(input.plan);
    return new command.remote.Command(`${input.name}-preflight`, {
        connection: input.runOn.connection,
        create: pulumi.all(input.hosts.map((h) => h.privateIp)).apply((ips) => preflightScript({
            layout,
            targetVersion: input.plan.release.version,
            clientUrls: ips.map(layout.clientUrl),
        })),
    }, { parent: input.parent, dependsOn: [...input.runOn.dependsOn, input.reachable] });
}
