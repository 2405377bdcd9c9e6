// Hosts layer for Hetzner Cloud: network, subnet, placement group, firewall, SSH key and servers with
// pinned private IPs and pinned SSH host keys. Server changes roll one member per `pulumi up` (server-plan.ts).
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import * as tls from "@pulumi/tls";
import { ClusterPlan, HcloudHostsPlan, HcloudSshPlan } from "../plan";
import { hostLayout } from "../render/layout";
import { serverGateScript } from "../render/server-gate-script";
import { liveServers } from "./live";
import { planServers } from "./server-plan";
import { hostKeyUserData } from "../render/host-key-user-data";
import { HostsResult, sshConnection } from "./types";

/** `-<stack>-<hash of project/stack>` when names must be unique to the stack, else "". */
export function stackSuffix(unique: boolean): string {
    if (!unique) return "";
    const stack = pulumi.getStack().toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 20) || "stack";
    const hash = createHash("sha256").update(`${pulumi.getProject()}/${pulumi.getStack()}`).digest("hex").slice(0, 6);
    return `-${stack}-${hash}`;
}

export interface HcloudHostsInput {
    name: string;
    plan: ClusterPlan;
    hcloud: HcloudHostsPlan;
    parent: pulumi.Resource;
}

export function hcloudHosts({ name, plan, hcloud: h, parent }: HcloudHostsInput): HostsResult {
    const opts = { parent };
    const suffix = stackSuffix(h.uniqueNames);
    const labels = { ...h.labels, "etcd-cluster": name };
    // What Hetzner has now: which servers to probe, and the settings of servers not yet rolled. Ours are named
    // `<member><suffix>`, or `<member>` before uniqueNames renamed them (so turn it on in an up of its own when
    // another stack's cluster of the same name, without uniqueNames, shares the project).
    const live = liveServers(name, parent).apply((l) => l.filter((s) => s.name === `${s.member}${suffix}` || s.name === s.member));
    const servers = live.apply((l) => planServers(plan, l));
    servers.apply((p) => { if (p.notice) pulumi.log.warn(p.notice, parent); });
    if (h.layoutWarning) pulumi.log.warn(h.layoutWarning, parent);

    const network = new hcloud.Network(`${name}-network`, { name: `${name}-network${suffix}`, ipRange: h.networkCidr, labels }, opts);
    const subnet = new hcloud.NetworkSubnet(`${name}-subnet`, {
        networkId: network.id.apply(Number),
        type: "cloud",
        networkZone: h.networkZone,
        ipRange: h.subnetCidr,
    }, opts);
    // Spread: each member on a different physical host, so one hardware fault takes at most one member. One
    // group per location: a spread group is about the hosts of one location (and a group per location is
    // valid whether or not the API lets one group span locations). The first location keeps the name of the
    // single group of a one-location cluster, so adding locations (first one first) leaves its servers alone.
    const placementGroups = new Map(h.locations.map((location, k) => {
        const id = k === 0 ? `${name}-spread` : `${name}-spread-${location}`;
        const group = new hcloud.PlacementGroup(id, { name: `${id}${suffix}`, type: "spread", labels }, opts);
        return [location, group] as const;
    }));
    const rule = (port: number, sourceIps: string[], description: string) =>
        ({ direction: "in", protocol: "tcp", port: String(port), sourceIps, description });
    const firewall = new hcloud.Firewall(`${name}-firewall`, {
        name: `${name}-firewall${suffix}`,
        labels,
        rules: [
            rule(22, h.sshAllowedCidrs, "ssh"),
            ...(h.clientAllowedCidrs.length > 0 ? [rule(plan.ports.client, h.clientAllowedCidrs, "etcd clients")] : []),
        ],
    }, opts);

    const ssh = sshKeys(name, h.ssh, labels, suffix, parent);

    const gates: command.remote.Command[] = []; // filled below; read only once the server plan is known
    const hosts = plan.members.map((m, i) => {
        // The server's SSH host key, made here and installed by its user data, so connections can pin it.
        const hostKey = new tls.PrivateKey(`${name}-${m.name}-host-key`, { algorithm: "ED25519" }, opts);
        const server = new hcloud.Server(`${name}-${m.name}`, {
            name: `${m.name}${suffix}`,
            serverType: servers.apply((p) => p.settings[i].serverType),
            image: servers.apply((p) => p.settings[i].image),
            location: servers.apply((p) => p.settings[i].location),
            ...(h.protection ? { deleteProtection: true, rebuildProtection: true } : {}), // Hetzner wants both equal
            sshKeys: ssh.keys,
            labels: { ...labels, "etcd-member": m.name, "etcd-location": h.memberLocations[i] },
            placementGroupId: placementGroups.get(h.memberLocations[i])!.id.apply(Number),
            firewallIds: [firewall.id.apply(Number)],
            publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
            networks: [{ networkId: network.id.apply(Number), ip: h.privateIps[i] }],
            userData: pulumi.secret(pulumi.all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
                .apply(([privateKeyOpenssh, publicKeyOpenssh]) => hostKeyUserData({ privateKeyOpenssh, publicKeyOpenssh }))),
        }, {
            parent,
            // Replaced, never changed in place (a type change powers the server off for good), the old one
            // deleted first so the new one gets its name and private address; after the gate when it rolls.
            replaceOnChanges: ["serverType", "image", "location"],
            deleteBeforeReplace: true,
            dependsOn: servers.apply((p) => (p.rolling === i ? [subnet, gates[i]] : [subnet])),
            // User data only acts at creation; a change of it alone must never replace a server (it holds data).
            ignoreChanges: ["userData"],
        });
        return {
            name: m.name,
            location: h.memberLocations[i],
            privateIp: pulumi.output(h.privateIps[i]),
            publicIp: server.ipv4Address,
            hostKey: hostKey.publicKeyOpenssh,
            connection: sshConnection(server.ipv4Address, 22, "root", ssh.privateKey, hostKey.publicKeyOpenssh),
            dependsOn: [server],
            identity: server.id,
        };
    });
    // Each member's gate runs on the next member (never on the server it guards). Not behind the reachability
    // gate, which waits for every server: a server can roll only while all of them run anyway.
    const layout = hostLayout(plan);
    if (hosts.length > 1) {
        hosts.forEach((host, i) => gates.push(new command.remote.Command(`${name}-${host.name}-server-gate`, {
            connection: hosts[(i + 1) % hosts.length].connection,
            create: servers.apply((p) => serverGateScript({
                memberName: host.name,
                settings: `${p.settings[i].serverType} ${p.settings[i].image} ${p.settings[i].location}`,
                peerUrl: layout.peerUrl(h.privateIps[i]),
                layout,
                timeoutSeconds: plan.healthTimeoutSeconds,
            })),
        }, { parent })));
    }
    // Every member's server as the stack knows it (one deleted outside Pulumi and not refreshed does not
    // answer), with the status Hetzner reports when it is not running.
    const probeTargets = pulumi.all([live, pulumi.all(hosts.map((host) => host.publicIp)), pulumi.all(hosts.map((host) => host.hostKey))])
        .apply(([l, ips, keys]) => plan.members.map((m, i) => {
            const status = l.find((s) => s.member === m.name)?.status;
            return { name: m.name, host: ips[i], port: 22, hostKey: keys[i], ...(status && status !== "running" ? { state: `server status ${status}` } : {}) };
        }));
    return { hosts, probeTargets, sshPrivateKey: ssh.generated };
}

/** The keys the servers get and the private key the component connects with; a generated one is an output. */
function sshKeys(name: string, plan: HcloudSshPlan, labels: Record<string, string>, suffix: string, parent: pulumi.Resource):
    { keys: pulumi.Input<string>[]; privateKey: pulumi.Input<string>; generated?: pulumi.Output<string> } {
    if (plan.kind === "projectKeys") return { keys: plan.keyNames, privateKey: plan.privateKey };
    const generated = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent });
    const key = new hcloud.SshKey(`${name}-ssh-key`, { name: `${name}-ssh-key${suffix}`, publicKey: generated.publicKeyOpenssh, labels }, { parent });
    return { keys: [key.id], privateKey: generated.privateKeyOpenssh, generated: generated.privateKeyOpenssh };
}
