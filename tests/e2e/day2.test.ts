// Day-2 operations on a real 3-member cluster, each driven by `pulumi up` with a changed argument, each with
// a bounded continuous writer running: rolling configuration change, leaf certificate rotation, CA rotation,
// patch and minor upgrades (each after a snapshot, of a 200 MiB database), a refused downgrade, and a roll that
// fails half-way and then resumes.
// Every acknowledged write is read back from every member afterwards: lost must be 0. Beside the writer,
// tools/lincheck records concurrent clients on every member: each history must be linearizable.
import * as fs from "fs";
import * as path from "path";
import { TestStack } from "../../lab/pulumi";
import { logStep, mustRun } from "../../lab/run";
import { ContinuousWriter, expectNoLoss, expectNoRefusal } from "../helpers/reliability";
import { ClusterAccess, expectLinearizable, Recorder } from "../helpers/lincheck";
import { adminClientFiles, ClientFiles, Etcdctl, localEtcdctl, mustSsh, releaseConfig, Rig, rigStackConfig, rigUp, tearDown } from "../../lab/rig";

const FROM = process.env.ETCD_VERSION ?? "";
const PATCH = process.env.ETCD_PATCH_VERSION ?? "";
const TO = process.env.ETCD_UPGRADE_VERSION ?? "";
const N = 3;
/** The database the patch upgrade snapshots: issue #17 asks for at least 200 MB. */
const BIG_DB_MIB = 200;

describe("day-2 operations with no acknowledged write lost", () => {
    let rig: Rig;
    let stack: TestStack;
    let endpoints: string[];
    let admin: Etcdctl;
    let client: ClientFiles;
    let etcdctlBinary: string;

    const release = (version: string) => releaseConfig(rig, version);
    /** Client files, replaced atomically, as a consumer rolls its credentials. */
    const writeClientFiles = () => {
        const out = stack.outputs(true);
        client = adminClientFiles(path.join(stack.dir, "client"), out);
        endpoints = out.clientEndpoints;
    };
    const writer = (operation: string) =>
        new ContinuousWriter(operation, `/reliability/${operation.replace(/\W+/g, "-")}`, etcdctlBinary, endpoints, client, stack.dir);
    /** The linearizability recorder beside the writer, with the client credentials the stack gives now. */
    const recorder = (operation: string) =>
        new Recorder(`day2: ${operation}`, stack.outputs(true) as ClusterAccess, stack.dir, { maxSeconds: 900, maxOps: 60_000, intervalMs: 50 });
    const unit = (i: number) => mustSsh(rig, rig.hosts[i], "cat /etc/systemd/system/etcd.service");
    /** Monotonic times (µs, one kernel clock for all hosts) when etcd was started and when it reported ready. */
    const serviceTimes = () => rig.hosts.map((h) => {
        const text = mustSsh(rig, h, "systemctl show etcd -p ExecMainStartTimestampMonotonic -p ActiveEnterTimestampMonotonic");
        const value = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(text)![1]);
        return { started: value("ExecMainStartTimestampMonotonic"), ready: value("ActiveEnterTimestampMonotonic") };
    });
    const expectOneAtATime = (before: ReturnType<typeof serviceTimes>) => {
        const after = serviceTimes();
        after.forEach((t, i) => expect(t.started).toBeGreaterThan(before[i].started)); // every member restarted
        for (let i = 1; i < N; i++) expect(after[i].started).toBeGreaterThan(after[i - 1].ready); // only after the previous was ready
    };
    const versions = () => JSON.parse(admin.must(endpoints, ["endpoint", "status", "-w", "json"])).map((s: any) => s.Status.version);

    beforeAll(() => {
        expect(FROM).toMatch(/^3\.6\.\d+$/);
        expect(PATCH).toMatch(/^3\.6\.\d+$/);
        expect(TO).toMatch(/^3\.7\.\d+$/);
        rig = rigUp("day2", N, { privatePrefix: "10.1.7", publicPrefix: "198.18.7" }, [FROM, PATCH, TO]);
        stack = new TestStack({
            stack: "day2",
            config: rigStackConfig(rig, { version: FROM, healthTimeoutSeconds: 45 }),
        });
        etcdctlBinary = localEtcdctl(TO, stack.dir);
    }, 20 * 60_000);

    afterAll(() => tearDown(stack, "day2"), 10 * 60_000);

    it("deploys the cluster", () => {
        stack.up(`day2: pulumi up (etcd ${FROM})`);
        writeClientFiles();
        admin = new Etcdctl(etcdctlBinary, client);
        expect(versions()).toEqual(Array(N).fill(FROM));
    }, 10 * 60_000);

    it("rolls a configuration change one member at a time", async () => {
        const before = serviceTimes();
        const w = writer("rolling config change");
        const rec = recorder("rolling config change");
        stack.setConfig({ tuning: { heartbeatIntervalMs: 150, electionTimeoutMs: 1500 } });
        stack.up("day2: rolling config change");
        const report = await w.finish(admin, endpoints, N);
        expectLinearizable(await rec.stop(0));
        expectNoLoss(report);
        expectOneAtATime(before);
        for (let i = 0; i < N; i++) expect(unit(i)).toContain("--heartbeat-interval=150");
    }, 10 * 60_000);

    it("re-issues and rolls leaf certificates while clients keep working", async () => {
        const serial = () => mustSsh(rig, rig.hosts[0], "cat /etc/etcd/pki/server.crt");
        const oldCert = serial();
        const before = serviceTimes();
        const w = writer("leaf certificate rotation");
        const rec = recorder("leaf certificate rotation");
        stack.setConfig({ pki: { certValidityHours: 8000 } });
        stack.up("day2: leaf certificate rotation");
        const report = await w.finish(admin, endpoints, N);
        expectLinearizable(await rec.stop(0));
        expectNoLoss(report);
        expect(serial()).not.toBe(oldCert);
        expectOneAtATime(before);
        writeClientFiles(); // the old admin certificate still works (same CA); consumers pick up the new one
        expect(admin.must(endpoints, ["endpoint", "health"])).toContain("is healthy");
    }, 10 * 60_000);

    it("rotates the CA through a bundle without refusing a client", async () => {
        const w = writer("CA rotation");
        // One recorder per step, each with the credentials the step before gave: it reads its CA bundle once.
        let rec = recorder("CA rotation 1/3 (trust both)");
        // 1. trust both: members and clients get the a+b bundle; leaves still signed by a.
        stack.setConfig({ pki: { certValidityHours: 8000, activeCa: "a", trustedCas: ["a", "b"] } });
        stack.up("day2: CA rotation 1/3 (trust both)");
        writeClientFiles();
        expectLinearizable(await rec.stop(0));
        rec = recorder("CA rotation 2/3 (sign with the new CA)");
        expect(fs.readFileSync(client.ca, "utf8").match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
        // 2. sign with b: every leaf re-issued by b, rolled; the consumer takes its new certificate.
        stack.setConfig({ pki: { certValidityHours: 8000, activeCa: "b", trustedCas: ["a", "b"] } });
        stack.up("day2: CA rotation 2/3 (sign with the new CA)");
        writeClientFiles();
        expectLinearizable(await rec.stop(0));
        rec = recorder("CA rotation 3/3 (drop the old CA)");
        // 3. drop a.
        stack.setConfig({ pki: { certValidityHours: 8000, activeCa: "b", trustedCas: ["b"] } });
        stack.up("day2: CA rotation 3/3 (drop the old CA)");
        writeClientFiles();
        const report = await w.finish(admin, endpoints, N);
        expectLinearizable(await rec.stop(0));
        expectNoLoss(report);
        expectNoRefusal(report); // the title's promise: every write acknowledged, no long gap
        expect(fs.readFileSync(client.ca, "utf8").match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
        const hostCa = mustSsh(rig, rig.hosts[2], "cat /etc/etcd/pki/ca.crt");
        expect(hostCa.trim()).toBe(fs.readFileSync(client.ca, "utf8").trim());
    }, 15 * 60_000);

    it(`upgrades a patch release ${FROM} -> ${PATCH} one member at a time, after a snapshot of a ${BIG_DB_MIB} MiB database`, async () => {
        // A database of at least 200 MB (issue #17): incompressible values, each put acknowledged by the cluster.
        mustRun("bash", ["-c", `set -euo pipefail
for i in $(seq 1 ${BIG_DB_MIB}); do
  head -c 786432 /dev/urandom | base64 -w0 | "$1" --endpoints="$2" --cacert="$3" --cert="$4" --key="$5" put "/big/$i" >/dev/null
done`, "fill", etcdctlBinary, endpoints.join(","), client.ca, client.cert, client.key], { timeout: 10 * 60_000 });
        const dbSize = Math.max(...JSON.parse(admin.must(endpoints, ["endpoint", "status", "-w", "json"])).map((s: any) => s.Status.dbSize));
        expect(dbSize).toBeGreaterThanOrEqual(BIG_DB_MIB * 1024 * 1024);
        const before = serviceTimes();
        const w = writer("patch upgrade");
        const rec = recorder("patch upgrade");
        stack.setConfig({ release: release(PATCH) });
        stack.up(`day2: upgrade ${FROM} -> ${PATCH}`);
        const report = await w.finish(admin, endpoints, N);
        expectLinearizable(await rec.stop(0));
        expectNoLoss(report);
        expectOneAtATime(before);
        expect(versions()).toEqual(Array(N).fill(PATCH));
        expect(mustSsh(rig, rig.hosts[1], "ls /var/backups/etcd/")).toMatch(new RegExp(`pre-upgrade-v${FROM}-to-v${PATCH}-\\d{8}T\\d{6}\\.db`));
        // Every member saved the whole database before its upgrade, and etcdutl reads it back.
        for (let i = 0; i < N; i++) {
            const saved = /snapshot before \S+ -> \S+ saved to (\S+) \((\d+) MiB in (\d+) s\)/.exec(stack.commandStdout(`etcd-${rig.hosts[i].name}-configure`));
            expect(saved).not.toBeNull();
            logStep(`pre-upgrade snapshot on ${rig.hosts[i].name}: ${saved![2]} MiB`, Number(saved![3]));
            expect(Number(saved![2])).toBeGreaterThanOrEqual(BIG_DB_MIB);
            const status = JSON.parse(mustSsh(rig, rig.hosts[i], `etcdutl snapshot status -w json ${saved![1]}`));
            expect(status.totalSize).toBeGreaterThanOrEqual(BIG_DB_MIB * 1024 * 1024);
        }
    }, 15 * 60_000);

    it(`upgrades a minor release ${PATCH} -> ${TO} one member at a time, after a snapshot`, async () => {
        const before = serviceTimes();
        const revision = () => JSON.parse(admin.must([endpoints[0]], ["endpoint", "status", "-w", "json"]))[0].Status.header.revision as number;
        const revisionBefore = revision();
        const w = writer("minor upgrade");
        const rec = recorder("minor upgrade");
        stack.setConfig({ release: release(TO) });
        stack.up(`day2: upgrade ${PATCH} -> ${TO}`);
        const report = await w.finish(admin, endpoints, N);
        expectLinearizable(await rec.stop(0));
        expectNoLoss(report);
        expectOneAtATime(before);
        expect(versions()).toEqual(Array(N).fill(TO));
        const snapshots = mustSsh(rig, rig.hosts[0], "ls /var/backups/etcd/");
        expect(snapshots).toMatch(new RegExp(`pre-upgrade-v${PATCH}-to-v${TO}-\\d{8}T\\d{6}\\.db`));
        expect(mustSsh(rig, rig.hosts[0], "stat -c '%a %U' /var/backups/etcd/pre-upgrade-*.db").trim().split("\n")).toEqual(["600 etcd", "600 etcd"]);
        // A real snapshot of this cluster, taken during this up: etcdutl reads it, its revision lies between
        // the one before the up and the one after, and it holds keys.
        const file = mustSsh(rig, rig.hosts[0], `ls /var/backups/etcd/pre-upgrade-v${PATCH}-to-v${TO}-*.db`).trim();
        const status = JSON.parse(mustSsh(rig, rig.hosts[0], `etcdutl snapshot status -w json ${file}`));
        expect(status.revision).toBeGreaterThanOrEqual(revisionBefore);
        expect(status.revision).toBeLessThanOrEqual(revision());
        expect(status.totalKey).toBeGreaterThan(0);
    }, 10 * 60_000);

    it(`refuses ${TO} -> ${FROM} before anything changes`, () => {
        const units = [0, 1, 2].map(unit);
        stack.setConfig({ release: release(FROM) });
        const r = stack.tryPulumi(["up", "--yes", "--skip-preview"]);
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(`etcd ${TO} -> ${FROM} is a downgrade across minor versions`);
        expect([0, 1, 2].map(unit)).toEqual(units);
        expect(versions()).toEqual(Array(N).fill(TO));
        stack.setConfig({ release: release(TO) });
        // Back on the current version, only the reachability gate (a local SSH probe that ran before the refusal
        // with the refused plan's trigger) runs again; nothing on a host changes, and the next up is empty.
        const back = stack.previewSteps().filter((s) => s.op !== "same");
        expect([...new Set(back.map((s) => s.urn.split("::").pop()))]).toEqual(back.length ? ["etcd-reachable"] : []);
        stack.up("day2: back on the current version");
        expect([0, 1, 2].map(unit)).toEqual(units);
        stack.up("day2: back on the current version (no changes)", ["--expect-no-changes"]);
    }, 10 * 60_000);

    it("stops a roll at the member that fails, leaves the rest untouched, and resumes on the next up", async () => {
        const binary = `/usr/local/lib/etcd/v${TO}/etcd`;
        // The second member's etcd will not start again: a stand-in for a bad host.
        mustSsh(rig, rig.hosts[1], `mv ${binary} ${binary}.real && printf '#!/bin/sh\\nexit 1\\n' > ${binary} && chmod 0755 ${binary}`);
        const third = unit(2);
        const w = writer("failed roll and resume");
        const rec = recorder("failed roll and resume");
        stack.setConfig({ tuning: { heartbeatIntervalMs: 150, electionTimeoutMs: 1500, snapshotCount: 20000 } });
        const failed = stack.tryPulumi(["up", "--yes", "--skip-preview"]);
        expect(failed.status).not.toBe(0);
        expect(failed.stdout + failed.stderr).toContain("The roll stops here; the members after it were not touched.");
        expect(unit(0)).toContain("--snapshot-count=20000");
        expect(unit(2)).toBe(third);
        mustSsh(rig, rig.hosts[1], `mv -f ${binary}.real ${binary}`);
        stack.up("day2: resumed roll");
        const report = await w.finish(admin, endpoints, N);
        expectLinearizable(await rec.stop(0));
        expectNoLoss(report);
        for (let i = 0; i < N; i++) expect(unit(i)).toContain("--snapshot-count=20000");
        expect(JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"])).map((h: any) => h.health)).toEqual(Array(N).fill(true));
    }, 15 * 60_000);
});
