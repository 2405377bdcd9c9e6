// The Hetzner hosts layer (hosts/hcloud.ts) under Pulumi mocks, with servers that Hetzner already has: which
// of them count as this stack's members, what the probes learn from them, the firewall rules, the servers'
// networks and keys, and the names unique to a stack. Each case came from a mutant Stryker found alive
// (npm run mutate) and fails with it in place. Every cluster is built inside its test (Stryker gives code run in
// beforeAll to no test).
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

import { inputsOfOne, OptionsCapture, promiseOf, recordingMocks, settled, unwrapSecret } from "../helpers/mocks";

let live: Record<string, unknown>[] = [];
let created = recordingMocks(() => live);

import { EtcdCluster, EtcdClusterArgs } from "../../components/etcd-cluster";
import { stackSuffix } from "../../components/etcd-cluster/hosts/hcloud";

/** A server as getServers returns it: a member of cluster "etcd", with its settings and status. */
const server = (member: string, over: Record<string, unknown> = {}) => ({
    id: Number(member.slice(-1)), name: member, ipv4Address: `198.51.100.${member.slice(-1)}`, status: "running", serverType: "cpx11",
    image: "ubuntu-22.04", location: "ash", labels: { "etcd-cluster": "etcd", "etcd-member": member },
    networks: [{ ip: `10.1.1.1${member.slice(-1)}`, networkId: 7, aliasIps: [], macAddress: "" }], deleteProtection: false, ...over,
});
const capture = new OptionsCapture();

async function build(hcloud: Partial<NonNullable<EtcdClusterArgs["hcloud"]>> = {}): Promise<EtcdCluster> {
    created.length = 0;
    capture.clear();
    const cluster = new EtcdCluster("etcd", { hcloud: { sshAllowedCidrs: ["203.0.113.0/24"], ...hcloud } }, { transformations: [capture.transformation] });
    await promiseOf(cluster.clusterCheck);
    await settled();
    return cluster;
}
const one = (type: string, name: string) => inputsOfOne(created, type, name);
const targets = () => /readonly TARGETS=\((.*)\)\n/.exec(one("command:local:Command", "etcd-reachable").create)![1];

afterEach(() => { live = []; });

describe("the servers Hetzner has", () => {
    it("tell the probes which members' servers are not running, and what Hetzner says they are doing", async () => {
        live = [server("etcd-1"), server("etcd-2", { status: "off" }), server("etcd-3", { status: "starting" })];
        await build();
        expect(targets()).toMatch(/^'etcd-1 203\.0\.113\.\d+ 22' 'etcd-2 203\.0\.113\.\d+ 22 server status off' 'etcd-3 203\.0\.113\.\d+ 22 server status starting'$/);
    });

    it("count only when named as this stack names its servers: another stack's server of the same member is not ours", async () => {
        live = [server("etcd-1", { status: "off", name: "etcd-1-other-abc123" }), server("etcd-2", { status: "off" })];
        await build();
        expect(targets()).toMatch(/^'etcd-1 \S+ 22' 'etcd-2 \S+ 22 server status off' 'etcd-3 \S+ 22'$/);
        // With uniqueNames, ours carry the suffix; the plain name is still ours (from before the rename).
        live = [server("etcd-1", { status: "off", name: `etcd-1${stackSuffix(true)}` }), server("etcd-2", { status: "off" }),
            server("etcd-3", { status: "off", name: "etcd-3-other-abc123" })];
        await build({ uniqueNames: true });
        expect(targets()).toMatch(/^'etcd-1 \S+ 22 server status off' 'etcd-2 \S+ 22 server status off' 'etcd-3 \S+ 22'$/);
    });

    it("with other settings: the first member's server rolls behind its gate, and the warning says so", async () => {
        live = [server("etcd-1"), server("etcd-2"), server("etcd-3")];
        const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        try {
            await build({ serverType: "cpx21" });
            expect(warn.mock.calls.map(([m]) => m)).toContainEqual(expect.stringContaining("cpx11 ubuntu-22.04 ash -> cpx21 ubuntu-22.04 ash: replacing the server of etcd-1"));
        } finally {
            warn.mockRestore();
        }
        expect(await capture.dependencyNames("etcd-etcd-1")).toEqual(["etcd-subnet", "etcd-etcd-1-server-gate"]);
        expect(await capture.dependencyNames("etcd-etcd-2")).toEqual(["etcd-subnet"]);
    });
});

describe("what each server gets", () => {
    it("the firewall opens SSH to sshAllowedCidrs, and the client port only when clientAllowedCidrs is given", async () => {
        await build();
        const ssh = { direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24"], description: "ssh" };
        expect(one("hcloud:index/firewall:Firewall", "etcd-firewall").rules).toEqual([ssh]);
        await build({ clientAllowedCidrs: ["198.51.100.0/24"] });
        expect(one("hcloud:index/firewall:Firewall", "etcd-firewall").rules)
            .toEqual([ssh, { direction: "in", protocol: "tcp", port: "2379", sourceIps: ["198.51.100.0/24"], description: "etcd clients" }]);
    });

    it("its firewall, public IPv4 and IPv6, the cloud subnet, ED25519 host and SSH keys, and root over SSH", async () => {
        await build();
        const firewallId = Number(created.find((r) => r.name === "etcd-firewall")!.id);
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) {
            const s = one("hcloud:index/server:Server", `etcd-${m}`);
            expect([s.firewallIds, s.publicNets]).toEqual([[firewallId], [{ ipv4Enabled: true, ipv6Enabled: true }]]);
            expect(one("tls:index/privateKey:PrivateKey", `etcd-${m}-host-key`)).toEqual({ algorithm: "ED25519" });
            expect(unwrapSecret(one("command:remote:Command", `etcd-${m}-install`).connection).value).toMatchObject({ user: "root", port: 22 });
        }
        expect(one("tls:index/privateKey:PrivateKey", "etcd-ssh-key")).toEqual({ algorithm: "ED25519" });
        expect(one("hcloud:index/networkSubnet:NetworkSubnet", "etcd-subnet").type).toBe("cloud");
    });

    it("every resource is a child of the cluster, the server gates too", async () => {
        const cluster = await build();
        const children = [...capture.options].filter(([name]) => name !== "etcd");
        expect(children.map(([name]) => name)).toContain("etcd-etcd-2-server-gate");
        for (const [name, opts] of children) expect({ name, parent: opts.parent === cluster }).toEqual({ name, parent: true });
    });
});

describe("stackSuffix: names unique to the stack", () => {
    const suffix = (project: string, stack: string) => {
        pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: () => ({}) }, project, stack, false);
        try {
            return stackSuffix(true);
        } finally {
            created = recordingMocks(() => live); // back to this file's mocks
        }
    };
    const hash = (project: string, stack: string) => createHash("sha256").update(`${project}/${stack}`).digest("hex").slice(0, 6);

    it("are '-<stack>-<6 hex of project/stack>', the stack name made a DNS label of at most 20 characters", () => {
        expect(stackSuffix(false)).toBe("");
        expect(suffix("etcd-cluster", "prod")).toBe(`-prod-${hash("etcd-cluster", "prod")}`);
        expect(suffix("etcd-cluster", "--Team_A//Prod--")).toBe(`-team-a-prod-${hash("etcd-cluster", "--Team_A//Prod--")}`);
        expect(suffix("etcd-cluster", "a-very-long-stack-name-for-prod")).toBe(`-a-very-long-stack-na-${hash("etcd-cluster", "a-very-long-stack-name-for-prod")}`);
        expect(suffix("etcd-cluster", "___")).toBe(`-stack-${hash("etcd-cluster", "___")}`);
        expect(suffix("other", "prod")).not.toBe(suffix("etcd-cluster", "prod"));
    });
});
