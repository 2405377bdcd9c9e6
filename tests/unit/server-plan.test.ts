// Server changes one member per `pulumi up`: the plan from the wanted settings and what Hetzner has (pure),
// the servers and gates under Pulumi mocks (names unique to the stack on request, protection, replaced
// delete-first, the gate of the rolling member only), and the gate script with a fake etcdctl.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { OptionsCapture, promiseOf, recordingMocks, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster, EtcdClusterArgs, EtcdClusterArgsError } from "../../components/etcd-cluster";
import { resolveArgs } from "../../components/etcd-cluster/plan";
import { LiveServer } from "../../components/etcd-cluster/hosts/live";
import { planServers } from "../../components/etcd-cluster/hosts/server-plan";
import { hostLayout } from "../../components/etcd-cluster/render/layout";
import { serverGateScript } from "../../components/etcd-cluster/render/server-gate-script";
import { shellcheck } from "../helpers/shellcheck";

const spec = (h: EtcdClusterArgs["hcloud"] = {}, memberCount = 3) => resolveArgs("etcd", { memberCount, hcloud: { serverType: "cpx21", sshAllowedCidrs: ["203.0.113.0/24"], ...h } });
const server = (i: number, over: Partial<LiveServer> = {}): LiveServer => ({
    member: `etcd-${i}`, id: 100 + i, name: `etcd-${i}`, ipv4Address: `198.18.16.${10 + i}`, status: "running",
    serverType: "cpx11", image: "ubuntu-22.04", location: "ash", privateIp: `10.1.1.${10 + i}`, protected: false, ...over,
});
const wanted = { serverType: "cpx21", image: "ubuntu-22.04", location: "ash" };
const old = { serverType: "cpx11", image: "ubuntu-22.04", location: "ash" };

describe("planServers", () => {
    it("a new stack (no servers yet) declares the wanted settings everywhere and rolls nothing", () => {
        expect(planServers(spec(), [])).toEqual({ settings: [wanted, wanted, wanted] });
    });

    it("nothing to roll when the servers have the wanted settings", () => {
        expect(planServers(spec(), [1, 2, 3].map((i) => server(i, { serverType: "cpx21" })))).toEqual({ settings: [wanted, wanted, wanted] });
    });

    it("a changed server type rolls the first differing member only; the others keep what they have", () => {
        const p = planServers(spec(), [1, 2, 3].map((i) => server(i)));
        expect(p.settings).toEqual([wanted, old, old]);
        expect(p.rolling).toBe(0);
        expect(p.notice).toContain("cpx11 ubuntu-22.04 ash -> cpx21 ubuntu-22.04 ash: replacing the server of etcd-1 in this pulumi up");
        expect(p.notice).toContain("2 more, one per pulumi up");
        // Next up: etcd-1 has it; etcd-2 rolls; then etcd-3, the last.
        const p2 = planServers(spec(), [server(1, { serverType: "cpx21" }), server(2), server(3)]);
        expect([p2.settings, p2.rolling]).toEqual([[wanted, wanted, old], 1]);
        const p3 = planServers(spec(), [server(1, { serverType: "cpx21" }), server(2, { serverType: "cpx21" }), server(3)]);
        expect([p3.settings, p3.rolling]).toEqual([[wanted, wanted, wanted], 2]);
        expect(p3.notice).toContain("it is the last one");
    });

    it("an image or location change rolls the same way", () => {
        expect(planServers(spec({ serverType: "cpx11", image: "debian-12" }), [1, 2, 3].map((i) => server(i))).rolling).toBe(0);
        expect(planServers(spec({ serverType: "cpx11", location: "hil", networkZone: "us-west" }), [1, 2, 3].map((i) => server(i))).rolling).toBe(0);
    });

    it("waits while a member's server is missing or not running: never two members down", () => {
        for (const live of [[server(1), server(3)], [server(1), server(2, { status: "off" }), server(3)]]) {
            const p = planServers(spec(), live);
            expect(p.rolling).toBeUndefined();
            expect(p.settings).toEqual([old, live.length === 2 ? wanted : old, old]);
            expect(p.notice).toMatch(/waiting, because etcd-2 is not running/);
        }
    });

    it("refuses what cannot be rolled, before anything changes, saying how", () => {
        expect(() => planServers(spec({}, 1), [server(1)])).toThrow(EtcdClusterArgsError);
        expect(() => planServers(spec({}, 1), [server(1)])).toThrow(/only member's server would be replaced.*Scale to 3 members first/);
        expect(() => planServers(spec(), [server(1, { protected: true }), server(2), server(3)])).toThrow(/etcd-1 has delete protection.*hcloud.protection: false first/);
        expect(() => planServers(spec({ serverType: "cpx11", subnetCidr: "10.1.2.0/24" }), [1, 2, 3].map((i) => server(i))))
            .toThrow(/private address plan .* etcd-1 \(10\.1\.1\.11 -> 10\.1\.2\.11\).*cannot be rolled/);
    });
});

describe("planServers' messages, whole: what was refused, nothing changed, and what to do", () => {
    it("every member's address moved", () => {
        expect(() => planServers(spec({ serverType: "cpx11", subnetCidr: "10.1.2.0/24" }), [1, 2].map((i) => server(i)))).toThrow(
            "The private address plan (hcloud.networkCidr, subnetCidr, privateIpOffset) changes the address of etcd-1 (10.1.1.11 -> 10.1.2.11), "
            + "etcd-2 (10.1.1.12 -> 10.1.2.12): every member's peer address would change at once, which cannot be rolled. Nothing was changed. "
            + "Keep the plan, or build a new cluster with the new plan and move the data with a snapshot (docs/operations.md, \"Restore from a snapshot\").");
    });

    it("the only member's server", () => {
        expect(() => planServers(spec({}, 1), [server(1)])).toThrow("hcloud server settings cpx11 ubuntu-22.04 ash -> cpx21 ubuntu-22.04 ash: "
            + "the only member's server would be replaced and its data lost. Nothing was changed. Scale to 3 members first (memberCount: 3), "
            + "or take a snapshot and restore it onto the new server (docs/operations.md).");
    });

    it("servers with delete protection", () => {
        expect(() => planServers(spec(), [server(1, { protected: true }), server(2), server(3, { protected: true })])).toThrow(
            "hcloud server settings cpx11 ubuntu-22.04 ash -> cpx21 ubuntu-22.04 ash replace servers, but etcd-1, etcd-3 has delete protection. "
            + "Nothing was changed. Run pulumi up with hcloud.protection: false first, then make the change, then turn protection on again.");
    });

    it("members not running yet: one is, two are", () => {
        expect(planServers(spec(), [server(1), server(2, { status: "off" }), server(3)]).notice).toBe(
            "hcloud server settings cpx11 ubuntu-22.04 ash -> cpx21 ubuntu-22.04 ash: waiting, because etcd-2 is not running "
            + "(being created or replaced); one member's server is replaced per pulumi up once every member runs.");
        expect(planServers(spec(), [server(1)]).notice).toMatch(/: waiting, because etcd-2, etcd-3 are not running \(being created/);
    });

    it("is for Hetzner hosts only", () => {
        const existing = resolveArgs("etcd", { existingHosts: [{ privateIp: "10.9.0.11" }], sshPrivateKey: "key" });
        expect(() => planServers(existing, [])).toThrow("planServers needs Hetzner hosts");
    });
});

describe("the Hetzner servers under mocks", () => {
    const captured = new OptionsCapture();
    const build = async (h: EtcdClusterArgs["hcloud"]) => {
        created.length = 0;
        captured.clear();
        const cluster = new EtcdCluster("etcd", { hcloud: { sshAllowedCidrs: ["203.0.113.0/24"], ...h } }, { transformations: [captured.transformation] });
        await promiseOf(cluster.clusterCheck);
        await settled();
    };
    const ofType = (t: string) => created.filter((c) => c.type === t);

    it("are replaced, never changed in place, the old one deleted first", async () => {
        await build({});
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) {
            expect(captured.options.get(`etcd-${m}`)).toMatchObject({ replaceOnChanges: ["serverType", "image", "location"], deleteBeforeReplace: true });
        }
        expect(ofType("hcloud:index/server:Server").map((s) => s.inputs.deleteProtection)).toEqual([undefined, undefined, undefined]);
    });

    it("each member has a gate on the next member", async () => {
        await build({});
        const gate = created.find((c) => c.name === "etcd-etcd-3-server-gate")!;
        expect(gate.inputs.create).toContain("Health gate before the server of etcd-3 changes to: cpx11 ubuntu-22.04 ash");
        expect(await captured.dependencyNames("etcd-etcd-3-server-gate")).toEqual([]);
        // Nothing rolls in a new stack: no server waits for a gate.
        expect(await captured.dependencyNames("etcd-etcd-1")).toEqual(["etcd-subnet"]);
    });

    it("carry nothing about the cluster's size: a scale-up does not re-run the gates of the members that stay", async () => {
        const gates = async (memberCount: number) => {
            created.length = 0;
            captured.clear();
            const cluster = new EtcdCluster("etcd", { memberCount, hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] } }, { transformations: [captured.transformation] });
            await promiseOf(cluster.clusterCheck);
            await settled();
            return new Map(created.filter((c) => c.name.endsWith("-server-gate")).map((c) => [c.name, c.inputs.create as string]));
        };
        const three = await gates(3);
        const five = await gates(5);
        expect(five.size).toBe(5);
        for (const [name, script] of three) expect(five.get(name)).toBe(script);
    });

    it("keep their names unless uniqueNames, then get a stack suffix (member and host names stay)", async () => {
        await build({});
        expect(ofType("hcloud:index/server:Server").map((s) => s.inputs.name)).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
        expect(ofType("hcloud:index/network:Network")[0].inputs.name).toBe("etcd-network");
        await build({ uniqueNames: true, protection: true });
        const suffix = /^-test-[0-9a-f]{6}$/; // the mocks' stack is "test"
        const names = [
            ...ofType("hcloud:index/server:Server").map((s) => s.inputs.name.replace(/^etcd-\d/, "")),
            ...["network:Network", "firewall:Firewall", "placementGroup:PlacementGroup", "sshKey:SshKey"]
                .map((t) => ofType(`hcloud:index/${t}`)[0].inputs.name.replace(/^etcd-(network|firewall|spread|ssh-key)/, "")),
        ];
        for (const n of names) expect(n).toMatch(suffix);
        expect(new Set(names).size).toBe(1);
        const servers = ofType("hcloud:index/server:Server");
        expect(servers[0].inputs.labels["etcd-cluster"]).toBe("etcd");
        expect(servers[0].inputs.labels["etcd-member"]).toBe("etcd-1");
        expect(servers.map((s) => [s.inputs.deleteProtection, s.inputs.rebuildProtection])).toEqual([[true, true], [true, true], [true, true]]);
        const csr = created.find((c) => c.name === "etcd-etcd-1-server-csr")!;
        expect(csr.inputs.dnsNames).toContain("etcd-1");
    });
});

describe("the server gate script", () => {
    /** The gate for etcd-1 (peer https://10.0.0.1:2380); `listed`: etcd-1 is in the member list; `three`: so is etcd-3. */
    const run = (healthy: boolean, established = true, listed = true, three = true, localRunning = true) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gate-"));
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin/etcdctl"), `#!/usr/bin/env bash
${localRunning ? "" : 'case "$*" in *"127.0.0.1"*) echo "connection refused" >&2; exit 1 ;; esac'}
case "$*" in
  *"member list"*) ${listed ? "" : ": "}echo "1, started, etcd-1, https://10.0.0.1:2380, https://10.0.0.1:2379, false"
                   echo "2, started, etcd-2, https://10.0.0.2:2380, https://10.0.0.2:2379, false"
                   ${three ? "" : ": "}echo "3, started, etcd-3, https://10.0.0.3:2380, https://10.0.0.3:2379, ${healthy ? "false" : "true"}" ;;
  *"endpoint health"*) exit 0 ;;
esac
`, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "bin/systemctl"), `#!/usr/bin/env bash\nexit ${localRunning ? 0 : 3}\n`, { mode: 0o755 }); // is-active
        if (established) fs.mkdirSync(path.join(dir, "data/member"), { recursive: true });
        const layout = hostLayout({ dataDir: path.join(dir, "data"), snapshotDir: "/var/backups/etcd", ports: { client: 2379, peer: 2380, metrics: 2381 }, release: { version: "3.6.14" } });
        const script = serverGateScript({
            memberName: "etcd-1", settings: "cpx21 ubuntu-22.04 ash", peerUrl: "https://10.0.0.1:2380", layout,
            timeoutSeconds: 2,
        }).replace(`readonly ETCDCTL='${layout.etcdctl.installed.binary}'`, `readonly ETCDCTL='${dir}/bin/etcdctl'`);
        expect(script).toContain(`readonly ETCDCTL='${dir}/bin/etcdctl'`);
        return { script, r: spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` }, timeout: 30_000 }) };
    };

    it("passes while every member is started, voting and healthy; passes shellcheck", () => {
        const { script, r } = run(true);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("every member is healthy: the server of etcd-1 may be replaced");
        expect(shellcheck(script)).toBe("");
    });

    it("refuses while a member is not (here: still a learner), saying nothing was changed", () => {
        const { r } = run(false);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("refusing to replace the server of etcd-1: the members the cluster lists were not all started, voting and healthy, at least 3 of them, within 2s");
        expect(r.stderr).toContain("Nothing was changed");
    });

    it("refuses while the cluster lists fewer than 3 members, all healthy: taking one of 2 down loses quorum", () => {
        const { r } = run(true, true, true, false);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("at least 3 of them");
    });

    it("passes at once while the member is not in the cluster (its server is new in a scale-up), even with a learner", () => {
        const { r } = run(false, true, false);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("etcd-1 (https://10.0.0.1:2380) is not a member of the cluster: nothing to guard");
    });

    it("has nothing to guard on a host where no member has run (a new cluster)", () => {
        const { r } = run(false, false);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("no etcd member has run on this host yet: nothing to guard");
    });

    it("refuses on a host whose member is stopped: the cluster cannot be asked, and a member is down", () => {
        const { r } = run(true, true, true, true, false);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("refusing to replace the server of etcd-1");
    });
});
