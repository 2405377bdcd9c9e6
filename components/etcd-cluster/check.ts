// The cluster check: one remote Command that runs after every member's configure step and fails the
// deployment unless the whole cluster is healthy. It re-runs whenever any member's configuration changed.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createHash } from "crypto";
import { ClusterSpec } from "./args";
import { EtcdHost } from "./hosts/types";
import { MemberResources } from "./member";
import { Pki } from "./pki";
import { checkScript } from "./render/check-script";
import { preflightScript } from "./render/preflight-script";
import { clientUrl, peerUrl } from "./render/flags";
import { pruneScript } from "./render/membership";

export function createCheck(name: string, spec: ClusterSpec, hosts: EtcdHost[], members: MemberResources[], pki: Pki,
    parent: pulumi.Resource): command.remote.Command {
    const clientUrls = pulumi.all(hosts.map((h) => h.privateIp)).apply((ips) => ips.map((ip) => clientUrl(ip, spec.ports.client)));
    // Scale down: members no longer wanted leave first, one at a time, so the check sees the wanted ones only.
    const prune = new command.remote.Command(`${name}-membership`, {
        connection: hosts[0].connection,
        create: pulumi.all(hosts.map((h) => h.privateIp)).apply((ips) => pruneScript({
            version: spec.release.version,
            wantedPeerUrls: ips.map((ip) => peerUrl(ip, spec.ports.peer)),
            clientUrls: ips.map((ip) => clientUrl(ip, spec.ports.client)),
        })),
    }, { parent, dependsOn: members.map((m) => m.configure) });
    // A digest of what the members run and the public certificates they got (keys change with their certs),
    // so the trigger is neither secret nor a wall of text in a preview.
    const fingerprint = pulumi.all([
        ...members.map((m) => m.configure.update),
        pki.caCertPem,
        ...pki.members.flatMap((m) => [m.server.certPem, m.peer.certPem]),
    ]).apply((parts) => createHash("sha256").update(parts.join("\0")).digest("hex"));
    return new command.remote.Command(`${name}-cluster-check`, {
        connection: hosts[0].connection,
        create: clientUrls.apply((urls) => checkScript({
            version: spec.release.version,
            memberNames: hosts.map((h) => h.name),
            clientUrls: urls,
            timeoutSeconds: spec.healthTimeoutSeconds,
        })),
        triggers: [fingerprint],
    }, { parent, dependsOn: [prune] });
}

/** The version preflight: runs on the first member before anything is installed or restarted. */
export function createPreflight(name: string, spec: ClusterSpec, hosts: EtcdHost[], parent: pulumi.Resource): command.remote.Command {
    const clientUrls = pulumi.all(hosts.map((h) => h.privateIp)).apply((ips) => ips.map((ip) => clientUrl(ip, spec.ports.client)));
    return new command.remote.Command(`${name}-preflight`, {
        connection: hosts[0].connection,
        create: clientUrls.apply((urls) => preflightScript({ targetVersion: spec.release.version, clientUrls: urls })),
    }, { parent, dependsOn: hosts[0].dependsOn });
}
