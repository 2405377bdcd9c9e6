// End to end: losing a server is routine. The real program through the Hetzner layer on the local API
// stand-in (servers are real local Debian hosts), 3 members, a continuous writer during each repair:
// a server deleted outside Pulumi (member 2, then member 1, where the preflight, membership and check run)
// is recreated by `pulumi up --refresh`, installed and re-joined, with no other member restarted.
import * as fs from "fs";
import * as path from "path";
import { TestStack } from "../../lab/pulumi";
import { logStep, mustRun } from "../../lab/run";
import { adminClientFiles, ClientFiles, destroyThen, Etcdctl, localEtcdctl, mustSsh, releaseSha256, Rig, RigHost } from "../../lab/rig";
import { addressInUse, apiCall, apiGet, devConfig, Standin, standinDown, standinStack, standinUp } from "../../lab/hcloud-standin";
import { ContinuousWriter } from "../helpers/reliability";
import { ClusterAccess, expectLinearizable, Recorder } from "../helpers/lincheck";

const VERSION = process.env.ETCD_VERSION ?? "";
const NAME = "replace";
// Own ranges: the public bridge 198.18.16.0/24, the private network 10.16.0.0/16 (other tests use 10.1.x).
const PUBLIC_PREFIX = "198.18.16";
const NETWORK = { networkCidr: "10.16.0.0/16", subnetCidr: "10.16.1.0/24" };
const dev = devConfig;

describe("losing a Hetzner server: replaced and re-joined, nothing else restarted", () => {
    let standin: Standin;
    let stack: TestStack;
    let rig: Rig;
    let admin: Etcdctl;
    let creds: ClientFiles;
    let etcdctlBinary: string;
    let endpoints: string[];

    /** The rig as SSH targets, from the stack's outputs (a recreated server may get another public address). */
    const refreshRig = () => {
        const out = stack.outputs(true);
        const keyFile = path.join(stack.dir, "id_ed25519");
        fs.writeFileSync(keyFile, out.sshPrivateKey, { mode: 0o600 });
        const hosts: RigHost[] = out.members.map((m: any) => ({ name: m.name, machine: m.name, privateIp: m.privateIp, publicIp: m.publicIp, sshUser: "root", sshPrivateKeyPath: keyFile }));
        rig = { name: NAME, hosts, sshPrivateKeyPath: keyFile, releaseBaseUrl: standin.serveUrl };
        endpoints = out.clientEndpoints;
        return out;
    };
    /** systemd's id of the running etcd service on a host: it changes whenever etcd (re)starts. */
    const invocation = (h: RigHost) => mustSsh(rig, h, "systemctl show -p InvocationID --value etcd.service").trim();
    const memberList = () => JSON.parse(admin.must(endpoints, ["member", "list", "-w", "json"])).members as any[];
    /** The linearizability recorder beside the writer, on the members that stay up throughout. */
    const recorder = (operation: string, on: string[]) => new Recorder(`replace: ${operation}`,
        { ...stack.outputs(true), clientEndpoints: on } as ClusterAccess, stack.dir, { maxSeconds: 900, maxOps: 60_000, intervalMs: 50 });

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        const taken = addressInUse("10.16.1.");
        if (taken) throw new Error(`10.16.1.0/24 is in use here (${taken.trim()}); is another run of this test still up?`);
        standin = standinUp(NAME, PUBLIC_PREFIX, [VERSION]);
        stack = standinStack(NAME, standin, VERSION, { "etcd-cluster:hcloud": { ...dev["etcd-cluster:hcloud"], ...NETWORK }, healthTimeoutSeconds: 90 });
        etcdctlBinary = localEtcdctl(VERSION, stack.dir);
    }, 20 * 60_000);

    afterAll(() => destroyThen(stack, true, () => standinDown(NAME)), 15 * 60_000);

    it("1. pulumi up builds the 3-member cluster", () => {
        stack.up("replace: pulumi up from an empty stack");
        const out = refreshRig();
        expect(out.clusterCheck).toContain("etcd cluster check passed: 3 members started and healthy");
        creds = adminClientFiles(path.join(stack.dir, "client"), out);
        admin = new Etcdctl(etcdctlBinary, creds);
        admin.must([endpoints[0]], ["put", "/replace/before", "kept"]);
    }, 20 * 60_000);

    describe.each([
        { index: 1, label: "member 2" },
        { index: 0, label: "member 1 (where the preflight, membership step and check run)" },
    ])("2. the server of $label is deleted outside Pulumi", ({ index }) => {
        it("pulumi up --refresh recreates it, installs it and re-joins it; no other member restarts; 0 writes lost", async () => {
            const lost = rig.hosts[index];
            const others = rig.hosts.filter((_, i) => i !== index);
            const before = new Map(others.map((h) => [h.name, invocation(h)]));
            const oldId = memberList().find((m) => m.name === lost.name).ID;
            const oldGeneration = stack.commandStdout(`etcd-${lost.name}-host`);
            const server = (await apiGet(standin, "servers")).find((s) => s.name === lost.name);
            await apiCall(standin, "DELETE", `servers/${server.id}`);
            expect((await apiGet(standin, "servers")).map((s) => s.name)).not.toContain(lost.name);

            const w = new ContinuousWriter(`hcloud server of ${lost.name} deleted, pulumi up --refresh`, `/reliability/replace-${lost.name}`,
                etcdctlBinary, endpoints.filter((_, i) => i !== index), creds, stack.dir);
            const rec = recorder(`server of ${lost.name} deleted, replaced by pulumi up --refresh`, endpoints.filter((_, i) => i !== index));
            stack.up(`replace: pulumi up --refresh after deleting ${lost.name}'s server`, ["--refresh"]);
            refreshRig();
            const report = await w.finish(admin, endpoints, 3);
            expectLinearizable(await rec.stop(0));
            expect(report.lost).toBe(0);
            expect(report.acknowledged).toBeGreaterThan(0);

            const recreated = (await apiGet(standin, "servers")).find((s) => s.name === lost.name);
            expect(recreated.id).not.toBe(server.id);
            expect(stack.commandStdout(`etcd-${lost.name}-host`)).not.toBe(oldGeneration);
            expect(stack.commandStdout(`etcd-${lost.name}-configure`)).toContain("its data is gone; re-adding it");
            // The cluster has 3 voting, started members again; the lost one under a new member id.
            const members = memberList();
            expect(members.map((m) => m.name).sort()).toEqual(rig.hosts.map((h) => h.name).sort());
            expect(members.every((m) => !m.isLearner && m.clientURLs?.length === 1)).toBe(true);
            expect(members.find((m) => m.name === lost.name).ID).not.toBe(oldId);
            for (const e of endpoints) expect(admin.must([e], ["get", "--consistency=l", "--print-value-only", "/replace/before"]).trim()).toBe("kept");
            // Nobody else restarted.
            for (const h of others) expect(invocation(h)).toBe(before.get(h.name));
            // The new host has its maintenance units, and the check ran after the repair.
            expect(mustSsh(rig, rig.hosts[index], "systemctl is-enabled etcd-alarm-check.timer").trim()).toBe("enabled");
            expect(stack.commandStdout("etcd-cluster-check")).toContain("etcd cluster check passed: 3 members started and healthy");

            stack.up(`replace: pulumi up after ${lost.name} was replaced (no changes)`, ["--expect-no-changes"]);
        }, 20 * 60_000);
    });

    it("3. with a server powered off, an unrelated change fails in seconds, names the member, changes nothing; after power-on it converges", async () => {
        const down = rig.hosts[2];
        const server = (await apiGet(standin, "servers")).find((s) => s.name === down.name);
        // A power cut through the API (the fault a lost machine is), judged for linearizability until it converges.
        const rec = recorder(`${down.name} powered off and on through the API`, endpoints.filter((_, i) => i !== 2));
        await apiCall(standin, "POST", `servers/${server.id}/actions/poweroff`);
        const unit = (h: RigHost) => mustSsh(rig, h, "cat /etc/systemd/system/etcd.service");
        const units = rig.hosts.slice(0, 2).map(unit);
        const running = rig.hosts.slice(0, 2).map(invocation);

        stack.setConfig({ tuning: { snapshotCount: 5000 } });
        try {
            const failed = stack.tryPulumi(["up", "--yes", "--skip-preview"]);
            logStep("replace: pulumi up with a server powered off (refused)", failed.seconds);
            expect(failed.status).not.toBe(0);
            // The SSH retries of a remote step would take 10 minutes (60 dials of 10 s); the bound leaves room
            // for the engine on a loaded 2-core machine (11-27 s quiet, 74 s seen under a load of 27).
            expect(failed.seconds).toBeLessThan(120);
            const text = failed.stdout + failed.stderr;
            expect(text).toContain(`etcd member ${down.name} is down: its SSH port ${down.publicIp}:22 does not answer within 5 s (server status off).`);
            expect(text).toContain("Nothing was changed.");
            expect(text).toContain(`hcloud server poweron`);
            expect(rig.hosts.slice(0, 2).map(unit)).toEqual(units);
            expect(rig.hosts.slice(0, 2).map(invocation)).toEqual(running);
        } finally {
            // Whatever failed above, the server comes back, so the tests after this one start from 3 members.
            await apiCall(standin, "POST", `servers/${server.id}/actions/poweron`);
        }
        stack.up("replace: pulumi up after power-on");
        for (const h of rig.hosts) expect(unit(h)).toContain("--snapshot-count=5000");
        const health = JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"]));
        expect(health.map((h: any) => h.health)).toEqual([true, true, true]);
        expectLinearizable(await rec.stop(0));
        stack.up("replace: pulumi up after convergence (no changes)", ["--expect-no-changes"]);
    }, 20 * 60_000);

    it("5. hcloud.uniqueNames renames every Hetzner resource in place: same servers, no restart", async () => {
        const ids = (await apiGet(standin, "servers")).filter((s) => s.labels["etcd-cluster"]).map((s) => s.id).sort();
        const running = rig.hosts.map(invocation);
        stack.setConfig({ "etcd-cluster:hcloud": { ...dev["etcd-cluster:hcloud"], ...NETWORK, uniqueNames: true } });
        const steps = stack.previewSteps().filter((s) => s.op !== "same");
        expect(steps.filter((s) => s.type?.startsWith("hcloud:")).every((s) => s.op === "update")).toBe(true);
        stack.up("replace: pulumi up (uniqueNames)");
        const servers = (await apiGet(standin, "servers")).filter((s) => s.labels["etcd-cluster"]);
        expect(servers.map((s) => s.id).sort()).toEqual(ids);
        const suffix = /-replace-[0-9a-f]{6}$/;
        for (const s of servers) expect(s.name).toMatch(new RegExp(`^${s.labels["etcd-member"]}-replace-[0-9a-f]{6}$`));
        for (const r of ["networks", "firewalls", "placement_groups", "ssh_keys"]) {
            const names = (await apiGet(standin, r)).map((x) => x.name).filter((n) => !n.startsWith("existing"));
            expect(names).toHaveLength(1);
            expect(names[0]).toMatch(suffix);
        }
        expect(rig.hosts.map(invocation)).toEqual(running);
        stack.up("replace: pulumi up after uniqueNames (no changes)", ["--expect-no-changes"]);
    }, 20 * 60_000);

    it("6. a server type and image change replaces one member's server per pulumi up, each after the gate; 0 writes lost", async () => {
        const hcloudConfig = { ...dev["etcd-cluster:hcloud"], ...NETWORK, uniqueNames: true };
        stack.setConfig({ "etcd-cluster:hcloud": { ...hcloudConfig, serverType: "cpx21", image: "ubuntu-24.04" } });
        const w = new ContinuousWriter("hcloud serverType + image change, one member per pulumi up", "/reliability/replace-roll",
            etcdctlBinary, endpoints, creds, stack.dir);
        for (let k = 0; k < 3; k++) {
            const before = (await apiGet(standin, "servers")).filter((s) => s.labels["etcd-cluster"]);
            const byMember = (list: any[], i: number) => list.find((s) => s.labels["etcd-member"] === rig.hosts[i].name);
            const running = rig.hosts.map((h, i) => (i === k ? "" : invocation(h)));
            const r = stack.up(`replace: pulumi up rolling the servers (${k + 1} of 3)`);
            expect(r.stdout + r.stderr).toContain(`replacing the server of ${rig.hosts[k].name} in this pulumi up`);
            refreshRig();
            const after = (await apiGet(standin, "servers")).filter((s) => s.labels["etcd-cluster"]);
            for (let i = 0; i < 3; i++) {
                const [b, a] = [byMember(before, i), byMember(after, i)];
                expect(a.status).toBe("running");
                if (i === k) {
                    expect(a.id).not.toBe(b.id);
                    expect([a.server_type.name, a.image.name]).toEqual(["cpx21", "ubuntu-24.04"]);
                    expect(a.private_net[0].ip).toBe(b.private_net[0].ip);
                } else {
                    expect(a.id).toBe(b.id); // one member per pulumi up
                    expect(invocation(rig.hosts[i])).toBe(running[i]); // and nobody else restarted
                }
            }
            expect(stack.commandStdout(`etcd-${rig.hosts[k].name}-server-gate`)).toContain(`every member is healthy: the server of ${rig.hosts[k].name} may be replaced`);
            const members = memberList();
            expect(members.every((m) => !m.isLearner && m.clientURLs?.length === 1)).toBe(true);
            expect(members).toHaveLength(3);
        }
        const report = await w.finish(admin, endpoints, 3);
        expect(report.lost).toBe(0);
        expect(report.acknowledged).toBeGreaterThan(0);
        for (const e of endpoints) expect(admin.must([e], ["get", "--consistency=l", "--print-value-only", "/replace/before"]).trim()).toBe("kept");
        stack.up("replace: pulumi up after the roll (no changes)", ["--expect-no-changes"]);
    }, 40 * 60_000);

    it("7. with delete protection on, a server change is refused before anything changes", async () => {
        const hcloudConfig = { ...dev["etcd-cluster:hcloud"], ...NETWORK, uniqueNames: true, serverType: "cpx21", image: "ubuntu-24.04" };
        stack.setConfig({ "etcd-cluster:hcloud": { ...hcloudConfig, protection: true } });
        stack.up("replace: pulumi up (protection on)");
        expect((await apiGet(standin, "servers")).filter((s) => s.labels["etcd-cluster"]).every((s) => s.protection.delete && s.protection.rebuild)).toBe(true);
        const ids = (await apiGet(standin, "servers")).map((s) => s.id).sort();
        stack.setConfig({ "etcd-cluster:hcloud": { ...hcloudConfig, protection: true, serverType: "cpx31" } });
        const refused = stack.tryPulumi(["up", "--yes", "--skip-preview"]);
        expect(refused.status).not.toBe(0);
        expect(refused.stdout + refused.stderr).toMatch(/has delete protection\. Nothing was changed\. Run pulumi up with hcloud\.protection: false first/);
        expect((await apiGet(standin, "servers")).map((s) => s.id).sort()).toEqual(ids);
        // Protection off again, so that the stack can be destroyed.
        stack.setConfig({ "etcd-cluster:hcloud": { ...hcloudConfig, protection: false } });
        stack.up("replace: pulumi up (protection off)");
    }, 20 * 60_000);

    describe("8. existing hosts: a rebuilt host is re-joined by `pulumi up --replace` of its host generation step", () => {
        // Three more servers made through the API by hand, used as existing hosts by a second stack.
        let existing: TestStack | undefined;
        let exRig: Rig;
        let exAdmin: Etcdctl;
        let exEndpoints: string[];
        let exCreds: ClientFiles;
        afterAll(async () => {
            if (existing) {
                existing.tryPulumi(["destroy", "--yes", "--skip-preview"]);
                existing.dispose();
            }
            // The hand-made servers and key go too, so the main stack's destroy finds its network free.
            for (const s of (await apiGet(standin, "servers")).filter((x) => x.name.startsWith("ex-"))) await apiCall(standin, "DELETE", `servers/${s.id}`);
            for (const k of (await apiGet(standin, "ssh_keys")).filter((x) => x.name === "existing-hosts")) await apiCall(standin, "DELETE", `ssh_keys/${k.id}`);
        }, 10 * 60_000);

        it("builds a cluster on them", async () => {
            const keyFile = path.join(stack.dir, "existing_ed25519");
            mustRun("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
            const key = await apiCall(standin, "POST", "ssh_keys", { name: "existing-hosts", public_key: fs.readFileSync(`${keyFile}.pub`, "utf8").trim() });
            const [network] = await apiGet(standin, "networks");
            const hosts: RigHost[] = [];
            for (const name of ["ex-1", "ex-2", "ex-3"]) {
                const created = await apiCall(standin, "POST", "servers", {
                    name, server_type: "cpx11", image: "ubuntu-22.04", location: "ash", ssh_keys: [key.ssh_key.id], networks: [network.id],
                });
                const s = (await apiGet(standin, "servers")).find((x) => x.id === created.server.id);
                hosts.push({ name, machine: name, privateIp: s.private_net[0].ip, publicIp: s.public_net.ipv4.ip, sshUser: "root", sshPrivateKeyPath: keyFile });
            }
            exRig = { name: NAME, hosts, sshPrivateKeyPath: keyFile, releaseBaseUrl: standin.serveUrl };
            existing = new TestStack({
                stack: `${NAME}-existing`,
                config: {
                    clusterName: "ex",
                    existingHosts: hosts.map((h) => ({ name: h.name, privateIp: h.privateIp, publicIp: h.publicIp })),
                    sshPrivateKeyPath: keyFile,
                    release: { version: VERSION, sha256: releaseSha256(VERSION), downloadBaseUrl: standin.serveUrl },
                    healthTimeoutSeconds: 90,
                },
            });
            existing.up("replace: existing hosts, pulumi up");
            const out = existing.outputs(true);
            expect(out.clusterCheck).toContain("etcd cluster check passed: 3 members started and healthy");
            exCreds = adminClientFiles(path.join(existing.dir, "client"), out);
            exAdmin = new Etcdctl(etcdctlBinary, exCreds);
            exEndpoints = out.clientEndpoints;
            exAdmin.must([exEndpoints[0]], ["put", "/existing/before", "kept"]);
        }, 20 * 60_000);

        it("a host whose etcd and data are gone: pulumi up --replace <its -host step> re-joins it; no other member restarts; 0 lost", async () => {
            const [first, wiped, third] = exRig.hosts;
            const inv = (h: RigHost) => mustSsh(exRig, h, "systemctl show -p InvocationID --value etcd.service").trim();
            const before = [first, third].map(inv);
            // The machine is rebuilt: etcd, its release, certificates and data are gone; SSH and addresses stay.
            mustSsh(exRig, wiped, "systemctl disable --now etcd.service; rm -rf /var/lib/etcd /usr/local/lib/etcd /etc/etcd /etc/systemd/system/etcd.service /usr/local/bin/etcd*; systemctl daemon-reload");
            // Without the replace, the next up has nothing to do: Pulumi cannot know the machine is new.
            expect(existing!.previewSteps().filter((s) => s.op !== "same")).toEqual([]);

            const urn = JSON.parse(existing!.exportState()).deployment.resources.find((r: any) => r.urn.endsWith("::ex-ex-2-host")).urn;
            const w = new ContinuousWriter("existing host rebuilt, pulumi up --replace <host step>", "/reliability/replace-existing",
                etcdctlBinary, [exEndpoints[0], exEndpoints[2]], exCreds, existing!.dir);
            existing!.up("replace: existing hosts, pulumi up --replace <ex-2 host step>", ["--replace", urn]);
            const report = await w.finish(exAdmin, exEndpoints, 3);
            expect(report.lost).toBe(0);
            expect(report.acknowledged).toBeGreaterThan(0);

            expect(existing!.commandStdout("ex-ex-2-configure")).toContain("its data is gone; re-adding it");
            const members = JSON.parse(exAdmin.must(exEndpoints, ["member", "list", "-w", "json"])).members as any[];
            expect(members.map((m) => m.name).sort()).toEqual(["ex-1", "ex-2", "ex-3"]);
            expect(members.every((m) => !m.isLearner && m.clientURLs?.length === 1)).toBe(true);
            for (const e of exEndpoints) expect(exAdmin.must([e], ["get", "--consistency=l", "--print-value-only", "/existing/before"]).trim()).toBe("kept");
            expect([first, third].map(inv)).toEqual(before);
            existing!.up("replace: existing hosts after the replace (no changes)", ["--expect-no-changes"]);
        }, 20 * 60_000);

        it("a renamed cluster is refused before it touches a member: every member keeps running with its data", () => {
            const inv = (h: RigHost) => mustSsh(exRig, h, "systemctl show -p InvocationID --value etcd.service").trim();
            const before = exRig.hosts.map(inv);
            existing!.setConfig({ clusterName: "renamed" });
            const r = existing!.tryPulumi(["up", "--yes", "--skip-preview"]);
            expect(r.status).not.toBe(0);
            expect(r.stdout + r.stderr).toContain("refusing to install renamed/ex-1 here: this host runs etcd member ex/ex-1");
            expect(exRig.hosts.map(inv)).toEqual(before);
            for (const h of exRig.hosts) {
                expect(mustSsh(exRig, h, "cat /etc/etcd/owner").trim()).toBe(`ex/${h.name} /var/lib/etcd`);
                expect(mustSsh(exRig, h, "test -d /var/lib/etcd/member && ls -d /var/lib/etcd.removed-* 2>/dev/null | wc -l").trim()).toBe("0");
            }
            for (const e of exEndpoints) expect(exAdmin.must([e], ["get", "--consistency=l", "--print-value-only", "/existing/before"]).trim()).toBe("kept");
            // Back to the old name: what the refused up created goes, nothing else changes.
            existing!.setConfig({ clusterName: "ex" });
            existing!.up("replace: existing hosts, name restored");
            expect(exRig.hosts.map(inv)).toEqual(before);
            existing!.up("replace: existing hosts after the rename was undone (no changes)", ["--expect-no-changes"]);
        }, 20 * 60_000);
    });
});
