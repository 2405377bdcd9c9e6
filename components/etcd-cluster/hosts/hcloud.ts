// Hosts layer for Hetzner Cloud: network, subnet, placement group, firewall, SSH key and servers with
// pinned private IPs.
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";
import * as tls from "@pulumi/tls";
import { ClusterPlan, HcloudHostsPlan, HcloudSshPlan } from "../plan";
import { HostsResult, sshConnection } from "./types";

export interface HcloudHostsInput {
    name: string;
    plan: ClusterPlan;
    hcloud: HcloudHostsPlan;
    parent: pulumi.Resource;
}

export function hcloudHosts({ name, plan, hcloud: h, parent }: HcloudHostsInput): HostsResult {
    const opts = { parent };
    const labels = { ...h.labels, "etcd-cluster": name };

    const network = new hcloud.Network(`${name}-network`, { name: `${name}-network`, ipRange: h.networkCidr, labels }, opts);
    const subnet = new hcloud.NetworkSubnet(`${name}-subnet`, {
        networkId: network.id.apply(Number),
        type: "cloud",
        networkZone: h.networkZone,
        ipRange: h.subnetCidr,
    }, opts);
    // Spread: each member on a different physical host, so one hardware fault takes at most one member.
    const placementGroup = new hcloud.PlacementGroup(`${name}-spread`, { name: `${name}-spread`, type: "spread", labels }, opts);
    const rule = (port: number, sourceIps: string[], description: string) =>
        ({ direction: "in", protocol: "tcp", port: String(port), sourceIps, description });
    const firewall = new hcloud.Firewall(`${name}-firewall`, {
        name: `${name}-firewall`,
        labels,
        rules: [
            rule(22, h.sshAllowedCidrs, "ssh"),
            ...(h.clientAllowedCidrs.length > 0 ? [rule(plan.ports.client, h.clientAllowedCidrs, "etcd clients")] : []),
        ],
    }, opts);

    const ssh = sshKeys(name, h.ssh, labels, parent);

    const hosts = plan.members.map((m, i) => {
        const server = new hcloud.Server(`${name}-${m.name}`, {
            name: m.name,
            serverType: h.serverType,
            image: h.image,
            location: h.location,
            sshKeys: ssh.keys,
            labels: { ...labels, "etcd-member": m.name },
            placementGroupId: placementGroup.id.apply(Number),
            firewallIds: [firewall.id.apply(Number)],
            publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
            networks: [{ networkId: network.id.apply(Number), ip: h.privateIps[i] }],
        }, { parent, dependsOn: [subnet] });
        return {
            name: m.name,
            privateIp: pulumi.output(h.privateIps[i]),
            publicIp: server.ipv4Address,
            connection: sshConnection(server.ipv4Address, 22, "root", ssh.privateKey),
            dependsOn: [server],
        };
    });
    return { hosts, sshPrivateKey: ssh.generated };
}

/** The keys the servers get and the private key the component connects with; a generated one is an output. */
function sshKeys(name: string, plan: HcloudSshPlan, labels: Record<string, string>, parent: pulumi.Resource):
    { keys: pulumi.Input<string>[]; privateKey: pulumi.Input<string>; generated?: pulumi.Output<string> } {
    if (plan.kind === "projectKeys") return { keys: plan.keyNames, privateKey: plan.privateKey };
    const generated = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent });
    const key = new hcloud.SshKey(`${name}-ssh-key`, { name: `${name}-ssh-key`, publicKey: generated.publicKeyOpenssh, labels }, { parent });
    return { keys: [key.id], privateKey: generated.privateKeyOpenssh, generated: generated.privateKeyOpenssh };
}
