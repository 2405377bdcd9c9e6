// The one shape every hosts layer yields. PKI, members and the check only ever see this, so where a
// host came from (Hetzner, existing machines) never leaks into them.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { ClusterPlan } from "../plan";
import type { ProbeTarget } from "../reachability";

export interface EtcdHost {
    /** Member name (also the host name and certificate CN). */
    readonly name: string;
    /** Address peers and in-network clients use. */
    readonly privateIp: pulumi.Output<string>;
    /** Where it runs, when the layer knows (a Hetzner location). */
    readonly location?: string;
    /** Public address (equal to privateIp when the host has no separate one). */
    readonly publicIp: pulumi.Output<string>;
    /** How remote commands reach the host. */
    readonly connection: command.types.input.remote.ConnectionArgs;
    /** Resources that must exist before anything runs on the host (e.g. the server). */
    readonly dependsOn: pulumi.Resource[];
    /** Changes when the machine is a new one (a Hetzner server's id); absent when only the operator knows. */
    readonly identity?: pulumi.Output<string>;
}

export interface HostsResult {
    hosts: EtcdHost[];
    /** Every member's SSH address, for the reachability gate (Hetzner: with the server's status when not running). */
    probeTargets: pulumi.Output<ProbeTarget[]>;
    /** The generated SSH private key, when the layer made one. */
    sshPrivateKey?: pulumi.Output<string>;
}

/**
 * SSH connection settings shared by every layer: retry while a fresh host boots, bounded. With a host key
 * (`ssh-ed25519 AAAA…`), a host that shows another key is refused in the handshake, before any command or
 * secret is sent; without one, the host is not verified.
 */
export function sshConnection(host: pulumi.Input<string>, port: number, user: string,
    privateKey: pulumi.Input<string>, hostKey: pulumi.Input<string> | undefined): command.types.input.remote.ConnectionArgs {
    return { host, port, user, privateKey: pulumi.secret(privateKey), hostKey, dialErrorLimit: 60, perDialTimeout: 10 };
}

/** What a Command that runs on one member for the whole cluster needs (preflight, membership, check). */
export interface ClusterCommandInput {
    name: string;
    plan: ClusterPlan;
    /** Every wanted member's host, in member order. */
    hosts: EtcdHost[];
    /** The host it runs on; any healthy member will do. */
    runOn: EtcdHost;
    parent: pulumi.Resource;
}
