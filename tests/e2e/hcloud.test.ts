// End to end through the Hetzner layer: the real program (index.ts, hosts/hcloud.ts) with the dev stack's
// values (Pulumi.dev.yaml: 3 x cpx11, ash, us-east, 10.1.0.0/16, 10.1.1.0/24) and the real @pulumi/hcloud
// provider, pointed at the local Hetzner Cloud API stand-in, whose servers are real local Debian hosts.
// Only the endpoint, the token and the etcd download mirror are added to the dev stack's configuration; and when
// the local default (scripts/local-up.sh, the README's first command) holds the dev subnet on this machine, the
// subnet is another /24 of the dev network, so that `npm test` runs beside it.
import * as fs from "fs";
import * as path from "path";
import { TestStack } from "../../lab/pulumi";
import { logStep } from "../../lab/run";
import { adminClientFiles, destroyThen, Etcdctl, localEtcdctl, mustSsh, Rig, RigHost } from "../../lab/rig";
import { addressInUse, apiGet, devConfig, runningHosts, Standin, standinDown, standinStack, standinUp } from "../../lab/hcloud-standin";

const VERSION = process.env.ETCD_VERSION ?? "";
const NAME = "hcloud-e2e";
const PUBLIC_PREFIX = "198.18.6";
const dev = devConfig;
const devHcloud = dev["etcd-cluster:hcloud"];
const DEV_SUBNET_PREFIX = "10.1.1"; // Pulumi.dev.yaml's subnetCidr, 10.1.1.0/24 (checked before the rig starts)
const OTHER_SUBNET_PREFIX = "10.1.6"; // used by no other rig

describe("the dev stack on Hetzner Cloud, through the local API stand-in", () => {
    let standin: Standin;
    let stack: TestStack;
    let rig: Rig; // the servers as SSH targets, with the key the stack generated
    let admin: Etcdctl;
    let endpoints: string[];
    let destroyed = false;
    let serverIds: number[] = [];
    let subnetPrefix = DEV_SUBNET_PREFIX;
    let hcloudConfig = devHcloud; // the dev stack's, but for the subnet when the local default holds it

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        expect(devHcloud.subnetCidr).toBe(`${DEV_SUBNET_PREFIX}.0/24`);
        const taken = addressInUse(`${DEV_SUBNET_PREFIX}.`);
        if (taken) {
            subnetPrefix = OTHER_SUBNET_PREFIX;
            console.log(`[hcloud] the dev subnet is in use here (${taken.trim()}), the local default's: ${subnetPrefix}.0/24 instead`);
            const inUse = addressInUse(`${subnetPrefix}.`);
            if (inUse) throw new Error(`${DEV_SUBNET_PREFIX}.0/24 and ${subnetPrefix}.0/24 are both in use here (${inUse.trim()})`);
        }
        standin = standinUp(NAME, PUBLIC_PREFIX, [VERSION]);
        hcloudConfig = { ...devHcloud, subnetCidr: `${subnetPrefix}.0/24` };
        stack = standinStack(NAME, standin, VERSION, { "etcd-cluster:hcloud": hcloudConfig });
    }, 20 * 60_000);

    afterAll(() => destroyThen(stack, !destroyed, () => standinDown(NAME)), 15 * 60_000);

    it("1. pulumi up builds network, subnet, 3 servers and a healthy etcd cluster", async () => {
        stack.up("hcloud: pulumi up from an empty stack");
        const upLog = stack.engineLog; // before the test itself reads the secrets
        const out = stack.outputs(true);
        expect(out.clusterCheck).toContain("etcd cluster check passed: 3 members started and healthy");
        expect(out.members.map((m: any) => m.privateIp)).toEqual([11, 12, 13].map((i) => `${subnetPrefix}.${i}`));

        // What the API holds: exactly what index.ts declares with the dev stack's values.
        const networks = await apiGet(standin, "networks");
        expect(networks).toHaveLength(1);
        expect(networks[0]).toMatchObject({ name: "etcd-network", ip_range: "10.1.0.0/16", labels: { etcd: "true", cluster: "cluster-1", "etcd-cluster": "etcd" } });
        expect(networks[0].subnets).toEqual([{ type: "cloud", ip_range: `${subnetPrefix}.0/24`, network_zone: "us-east", gateway: "10.1.0.1" }]);
        const servers = await apiGet(standin, "servers");
        expect(servers.map((s) => s.name).sort()).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
        const [pg] = await apiGet(standin, "placement_groups");
        const [fw] = await apiGet(standin, "firewalls");
        const [key] = await apiGet(standin, "ssh_keys");
        for (const s of servers) {
            expect(s).toMatchObject({ status: "running", server_type: { name: "cpx11" }, location: { name: "ash" }, image: { name: "ubuntu-22.04" } });
            expect(s.labels).toEqual({ etcd: "true", cluster: "cluster-1", "etcd-cluster": "etcd", "etcd-member": s.name, "etcd-location": "ash" });
            expect(s.private_net).toHaveLength(1);
            expect(s.private_net[0].network).toBe(networks[0].id);
            expect(s.public_net.ipv4.ip).toMatch(new RegExp(`^${PUBLIC_PREFIX.replace(/\./g, "\\.")}\\.\\d+$`));
            expect(s.public_net.firewalls).toEqual([{ id: fw.id, status: "applied" }]);
            expect(s.placement_group.id).toBe(pg.id);
        }
        expect(pg).toMatchObject({ name: "etcd-spread", type: "spread" });
        expect(pg.servers).toHaveLength(3);
        expect(fw.rules).toEqual([{ direction: "in", protocol: "tcp", port: "22", source_ips: ["0.0.0.0/0", "::/0"], destination_ips: [], description: "ssh" }]);
        serverIds = servers.map((s) => s.id).sort();

        // The members as the program sees them are the servers as the API reports them.
        const byName = new Map(servers.map((s) => [s.name, s]));
        for (const m of out.members) {
            expect(m.publicIp).toBe(byName.get(m.name).public_net.ipv4.ip);
            expect(m.privateIp).toBe(byName.get(m.name).private_net[0].ip);
        }

        // Each server is a real host: root logs in with the stack's key (the one hcloud put in authorized_keys),
        // its hostname is the server name, and it carries both addresses.
        const keyFile = path.join(stack.dir, "id_ed25519");
        fs.writeFileSync(keyFile, out.sshPrivateKey, { mode: 0o600 });
        const hosts: RigHost[] = out.members.map((m: any) => ({ name: m.name, machine: m.name, privateIp: m.privateIp, publicIp: m.publicIp, sshUser: "root", sshPrivateKeyPath: keyFile }));
        rig = { name: NAME, hosts, sshPrivateKeyPath: keyFile, releaseBaseUrl: standin.serveUrl };
        expect(runningHosts(standin)).toHaveLength(3);
        const hostKeys = new Map<string, string>(JSON.parse(stack.exportState()).deployment.resources
            .filter((r: any) => r.type === "tls:index/privateKey:PrivateKey" && r.urn.endsWith("-host-key"))
            .map((r: any) => [r.urn.split("::").pop(), r.outputs.publicKeyOpenssh.trim()]));
        expect(hostKeys.size).toBe(3);
        for (const h of hosts) {
            expect(mustSsh(rig, h, "hostname").trim()).toBe(h.name);
            expect(mustSsh(rig, h, "cat /root/.ssh/authorized_keys").trim()).toBe(key.public_key.trim());
            // The SSH host key is the one the stack made, put there by the server's user data, and pinned.
            expect(mustSsh(rig, h, "cat /etc/ssh/ssh_host_ed25519_key.pub").trim()).toBe(hostKeys.get(`etcd-${h.name}-host-key`));
            expect(mustSsh(rig, h, "ip -4 -o addr show dev host0 | awk '{print $4}' | sort").trim().split("\n"))
                .toEqual([`${h.privateIp}/24`, `${h.publicIp}/24`].sort());
        }

        // The cluster from outside, over mTLS on the private network.
        admin = new Etcdctl(localEtcdctl(VERSION, stack.dir), adminClientFiles(path.join(stack.dir, "client"), out));
        endpoints = out.clientEndpoints;
        const health = JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"]));
        expect(health.map((h: any) => h.health)).toEqual([true, true, true]);
        admin.must([endpoints[0]], ["put", "/hcloud/greeting", "hello"]);
        for (const e of endpoints) expect(admin.must([e], ["get", "--consistency=l", "--print-value-only", "/hcloud/greeting"]).trim()).toBe("hello");

        // No secret in the state or the engine's output: neither the API token nor a private key.
        const state = stack.exportState();
        for (const text of [state, upLog]) {
            expect(text).not.toContain(standin.token);
            expect(text).not.toContain("PRIVATE KEY");
        }
    }, 20 * 60_000);

    it("2. a second pulumi up makes zero changes", () => {
        const started = Date.now();
        expect(stack.previewSteps().filter((s) => s.op !== "same")).toEqual([]);
        logStep("hcloud: pulumi preview (no changes)", (Date.now() - started) / 1000);
        stack.up("hcloud: pulumi up (no changes)", ["--expect-no-changes"]);
    }, 10 * 60_000);

    it("3. changing a label updates in place: same servers, not rebooted", async () => {
        const bootTimes = rig.hosts.map((h) => mustSsh(rig, h, "ps -o lstart= -p 1").trim());
        stack.setConfig({ "etcd-cluster:hcloud": { ...hcloudConfig, labels: { ...hcloudConfig.labels, cluster: "cluster-2" } } });
        const changed = stack.previewSteps().filter((s) => s.op !== "same");
        // The reachability gate (a local probe of every member's SSH port) runs again on every change, by design;
        // everything else is an in-place update.
        const isGate = (s: { type?: string; urn: string }) => s.type === "command:local:Command" && s.urn.endsWith("-reachable");
        expect(changed.filter(isGate).length).toBeGreaterThan(0);
        const steps = changed.filter((s) => !isGate(s));
        expect(steps.every((s) => s.op === "update")).toBe(true);
        expect(steps.map((s) => s.type).sort()).toEqual([
            "hcloud:index/firewall:Firewall", "hcloud:index/network:Network", "hcloud:index/placementGroup:PlacementGroup",
            "hcloud:index/server:Server", "hcloud:index/server:Server", "hcloud:index/server:Server", "hcloud:index/sshKey:SshKey",
        ]);
        stack.up("hcloud: pulumi up (label changed)");
        const servers = await apiGet(standin, "servers");
        expect(servers.map((s) => s.id).sort()).toEqual(serverIds);
        for (const s of servers) expect(s.labels.cluster).toBe("cluster-2");
        for (const r of ["networks", "firewalls", "placement_groups", "ssh_keys"]) {
            expect((await apiGet(standin, r)).map((x) => x.labels.cluster)).toEqual(["cluster-2"]);
        }
        expect(rig.hosts.map((h) => mustSsh(rig, h, "ps -o lstart= -p 1").trim())).toEqual(bootTimes);
        expect(JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"])).every((h: any) => h.health)).toBe(true);
        stack.up("hcloud: pulumi up after the label change (no changes)", ["--expect-no-changes"]);
    }, 10 * 60_000);

    it("4. pulumi destroy leaves nothing in the stand-in and no host running", async () => {
        stack.destroy();
        destroyed = true;
        expect(JSON.parse(stack.exportState()).deployment.resources ?? []).toEqual([]);
        for (const r of ["servers", "networks", "firewalls", "placement_groups", "ssh_keys"]) {
            expect(await apiGet(standin, r)).toEqual([]);
        }
        expect(runningHosts(standin)).toEqual([]);
        expect(addressInUse(`${subnetPrefix}.`)).toBeUndefined(); // the subnet's address left the bridge with the last server
    }, 10 * 60_000);
});
