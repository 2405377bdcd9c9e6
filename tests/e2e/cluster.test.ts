// End to end: the real program (index.ts, existing-hosts layer) with the real engine and providers deploys
// etcd onto real local Debian hosts; checked from the outside, re-run, broken, healed and destroyed.
import * as path from "path";
import { TestStack } from "../../lab/pulumi";
import { logStep, mustRun } from "../../lab/run";
import { adminClientFiles, Etcdctl, localEtcdctl, mustSsh, Rig, RigHost, rigStackConfig, rigUp, tearDown } from "../../lab/rig";

const VERSION = process.env.ETCD_VERSION ?? "";

describe.each([3, 5])("a %i-member cluster on local hosts", (n) => {
    const rigName = `e2e${n}`;
    let rig: Rig;
    let stack: TestStack;
    let admin: Etcdctl;
    let endpoints: string[];
    let destroyed = false;
    const written = { key: `/e2e/${n}/written-in-step-1`, value: `value-${Date.now()}` };

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        rig = rigUp(rigName, n, { privatePrefix: `10.1.${n}`, publicPrefix: `198.18.${n}` }, [VERSION]);
        stack = new TestStack({
            stack: rigName,
            config: rigStackConfig(rig, { version: VERSION, healthTimeoutSeconds: 90 }),
        });
    }, 20 * 60_000);

    afterAll(() => tearDown(stack, rigName, !destroyed), 10 * 60_000);

    it("1. pulumi up builds the cluster, and it is healthy seen from outside", () => {
        stack.up(`${n} members: pulumi up from an empty stack`);
        const upLog = stack.engineLog;

        const out = stack.outputs(true);
        expect(out.clusterCheck).toContain(`etcd cluster check passed: ${n} members started and healthy`);
        const client = adminClientFiles(path.join(stack.dir, "client"), out);
        admin = new Etcdctl(localEtcdctl(VERSION, stack.dir), client);
        endpoints = out.clientEndpoints;
        expect(endpoints).toEqual(rig.hosts.map((h) => `https://${h.privateIp}:2379`));

        // Every member started (started members have a name) and lists the same n members.
        for (const e of endpoints) {
            const list = JSON.parse(admin.must([e], ["member", "list", "-w", "json"]));
            expect(list.members.map((m: any) => m.name).sort()).toEqual(rig.hosts.map((h) => h.name).sort());
            expect(list.members.every((m: any) => m.clientURLs?.length === 1 && !m.isLearner)).toBe(true);
        }
        // Every endpoint healthy over mTLS.
        const health = JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"]));
        expect(health.map((h: any) => h.health)).toEqual(Array(n).fill(true));
        // Written through one member, read back through each of the others.
        admin.must([endpoints[0]], ["put", written.key, written.value]);
        for (const e of endpoints.slice(1)) {
            expect(admin.must([e], ["get", "--consistency=l", "--print-value-only", written.key]).trim()).toBe(written.value);
        }
        // No member refused a certificate of ours for its key usage (etcd's gRPC gateway dials its own client
        // port with the server certificate; that needs client_auth). Other rejections, e.g. a peer's
        // connection cut during start-up, are not what this guards.
        for (const h of rig.hosts) {
            expect(mustSsh(rig, h, "journalctl -u etcd --no-pager | grep -c 'incompatible key usage' || true").trim()).toBe("0");
        }
        // A client without a CA-signed certificate is refused: none at all, and one from another CA.
        const anonymous = new Etcdctl(admin["binary"], { ca: client.ca });
        const noCert = anonymous.run([endpoints[0]], ["get", written.key]);
        expect(noCert.status).not.toBe(0);
        expect(noCert.stdout).not.toContain(written.value);
        mustRun("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=intruder",
            "-keyout", path.join(stack.dir, "rogue.key"), "-out", path.join(stack.dir, "rogue.crt")]);
        const rogue = new Etcdctl(admin["binary"], { ca: client.ca, cert: path.join(stack.dir, "rogue.crt"), key: path.join(stack.dir, "rogue.key") });
        const rogueGet = rogue.run([endpoints[0]], ["get", written.key]);
        expect(rogueGet.status).not.toBe(0);
        expect(rogueGet.stdout).not.toContain(written.value);

        // Key files 0600 owned by etcd; data dir 0700.
        for (const h of rig.hosts) {
            const stat = mustSsh(rig, h, "stat -c '%n %a %U' /etc/etcd/pki/*.key /var/lib/etcd").trim().split("\n");
            expect(stat).toEqual([
                "/etc/etcd/pki/healthcheck-client.key 600 etcd", "/etc/etcd/pki/peer.key 600 etcd", "/etc/etcd/pki/server.key 600 etcd",
                "/var/lib/etcd 700 etcd",
            ]);
        }
        // No private key text in the state nor in what the engine printed.
        const state = stack.exportState();
        const keyBody = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
        for (const text of [state, upLog]) {
            expect(text).not.toContain("PRIVATE KEY");
            expect(text).not.toContain(keyBody(out.adminClientKey).slice(0, 40));
            expect(text).not.toContain(keyBody(out.kubeApiserverClientKey).slice(0, 40));
        }
    }, 20 * 60_000);

    it("2. a second pulumi up and a preview change nothing", () => {
        const started = Date.now();
        const steps = stack.previewSteps();
        logStep(`${n} members: pulumi preview (no changes)`, (Date.now() - started) / 1000);
        expect(steps.filter((s) => s.op !== "same")).toEqual([]);
        stack.up(`${n} members: pulumi up (no changes)`, ["--expect-no-changes"]);
    }, 10 * 60_000);

    it("3. with a member down, a changed tunable fails clearly and never reports a broken cluster healthy; after it is back, up converges", () => {
        const down = rig.hosts[1];
        const up = rig.hosts.filter((h) => h !== down);
        /** When systemd last started etcd on a host (µs on the one kernel clock all local hosts share). */
        const startedAt = (h: RigHost) => mustSsh(rig, h, "systemctl show -p ExecMainStartTimestampMonotonic --value etcd.service").trim();
        mustSsh(rig, down, "systemctl stop etcd");
        const before = up.map(startedAt);
        stack.setConfig({ tuning: { snapshotCount: 5000 } });
        const failed = stack.tryPulumi(["up", "--yes", "--skip-preview"]);
        logStep(`${n} members: pulumi up with a member down`, failed.seconds);
        const text = failed.stdout + failed.stderr;
        // Refused by the gate before the first restart: restarting etcd-1 with a peer down is what it prevents.
        expect(failed.status).not.toBe(0);
        expect(text).toMatch(/refusing to restart etcd on etcd-1: not every other member is healthy/);
        expect(text).toContain(`${down.privateIp}:2379 is unhealthy`);
        expect(up.map(startedAt)).toEqual(before); // no member that was up was restarted
        expect(before.every((t) => Number(t) > 0)).toBe(true);
        // The members that were up are untouched and still serve the data.
        for (const e of endpoints.filter((_, i) => i !== 1)) {
            expect(admin.must([e], ["get", "--consistency=l", "--print-value-only", written.key]).trim()).toBe(written.value);
        }
        mustSsh(rig, down, "systemctl start etcd");
        stack.up(`${n} members: pulumi up after the member is back`);
        for (const h of rig.hosts) {
            expect(mustSsh(rig, h, "grep -c -- '--snapshot-count=5000' /etc/systemd/system/etcd.service").trim()).toBe("1");
        }
        for (const e of endpoints) {
            expect(admin.must([e], ["get", "--consistency=l", "--print-value-only", written.key]).trim()).toBe(written.value);
        }
        const health = JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"]));
        expect(health.map((h: any) => h.health)).toEqual(Array(n).fill(true));
        stack.up(`${n} members: pulumi up after convergence (no changes)`, ["--expect-no-changes"]);
    }, 20 * 60_000);

    it("4. pulumi destroy removes what it created and keeps the data aside", () => {
        stack.destroy();
        destroyed = true;
        expect(JSON.parse(stack.exportState()).deployment.resources ?? []).toEqual([]);
        for (const h of rig.hosts) {
            expect(mustSsh(rig, h, "systemctl is-active etcd || true").trim()).toBe("inactive");
            expect(mustSsh(rig, h, "ls /etc/systemd/system/etcd.service /etc/etcd/pki 2>/dev/null | wc -l").trim()).toBe("0");
            expect(mustSsh(rig, h, "ls -d /var/lib/etcd.removed-*").trim()).toMatch(/^\/var\/lib\/etcd\.removed-\d{8}T\d{6}$/);
        }
    }, 10 * 60_000);
});
