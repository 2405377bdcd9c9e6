// Faults on a real 3-member cluster, each injected while tools/lincheck records concurrent clients on every
// member, each bounded in time and undone: the leader's etcd paused (SIGSTOP) past the election timeout, the
// leader's etcd killed (SIGKILL) and restarted by systemd, the leader cut off from its peers (its link on the
// bridge down) and healed, the leader killed during a rolling change. Each history must be linearizable, with
// operations that succeeded. Last, the judge is shown to say no: an old snapshot restored onto every member
// under a live recorder loses acknowledged writes, and the history must be found not linearizable.
// First, on the same cluster, a real Prometheus scrapes the members from the stack's prometheusTargets with the
// generated alert rules: EtcdMemberDown fires while one member's etcd is stopped and clears when it is back.
// One rig and one cluster for all of it; figures in reports/linearizability.json.
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { etcdAlertRules, renderRulesYaml } from "../../components/etcd-cluster/monitoring/rules";
import { Prometheus } from "../../lab/prometheus";
import { REPO_ROOT, TestStack } from "../../lab/pulumi";
import { logStep, mustRun, run, RunResult } from "../../lab/run";
import { adminClientFiles, Etcdctl, localEtcdctl, mustSsh, Rig, rigStackConfig, rigUp, ssh, tearDown } from "../../lab/rig";
import { ClusterAccess, expectLinearizable, lincheckBinary, Recorder, sleep } from "../helpers/lincheck";

const VERSION = process.env.ETCD_VERSION ?? "";
const N = 3;
const RIG = "faults";
const ELECTION_TIMEOUT_MS = 1000; // the component's default (tuning.electionTimeoutMs)

describe("faults under a live linearizability checker", () => {
    let rig: Rig;
    let stack: TestStack;
    let admin: Etcdctl;
    let access: ClusterAccess;
    let endpoints: string[];
    /** Undo steps of a fault still in place; afterAll runs what a failed test left. */
    const undo: (() => void)[] = [];
    let prometheus: Prometheus | undefined;

    const status = (i: number): any | undefined => {
        const r = admin.run([endpoints[i]], ["endpoint", "status", "-w", "json"]);
        return r.status === 0 ? JSON.parse(r.stdout)[0] : undefined;
    };
    /** The member every reachable member names as leader (among `among`), or -1 when they do not agree yet. */
    const leaderIndex = (among = [...Array(N).keys()]): number => {
        const seen = among.map((i) => ({ i, s: status(i) })).filter((x) => x.s);
        const leaders = new Set(seen.map((x) => String(x.s.Status.leader)));
        if (leaders.size !== 1 || leaders.has("0")) return -1;
        return seen.find((x) => String(x.s.Status.header.member_id) === [...leaders][0])?.i ?? -1;
    };
    const waitFor = async (what: string, cond: () => boolean, seconds: number) => {
        const deadline = Date.now() + seconds * 1000;
        while (!cond()) {
            if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what}`);
            await sleep(500);
        }
    };
    const allHealthy = () => admin.run(endpoints, ["endpoint", "health"]).status === 0;
    const mainPid = (i: number) => mustSsh(rig, rig.hosts[i], "systemctl show -p MainPID --value etcd").trim();
    const startedAt = (i: number) => Number(mustSsh(rig, rig.hosts[i], "systemctl show -p ExecMainStartTimestampMonotonic --value etcd").trim());
    const recorder = (operation: string, maxSeconds = 180, intervalMs = 20) =>
        new Recorder(operation, access, stack.dir, { maxSeconds, maxOps: 60_000, intervalMs });
    /** `pulumi up` in the background, so the test can act while it runs. */
    const upInBackground = () => {
        const started = Date.now();
        const child = spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", RIG, "--non-interactive"],
            { cwd: stack.projectDir, env: stack.env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d) => { out += String(d); });
        child.stderr.on("data", (d) => { out += String(d); });
        const timer = setTimeout(() => child.kill("SIGTERM"), 15 * 60_000);
        const done = new Promise<RunResult>((resolve) => child.on("exit", (code) => {
            clearTimeout(timer);
            resolve({ status: code ?? -1, stdout: out, stderr: "", seconds: (Date.now() - started) / 1000 });
        }));
        return { done, running: () => child.exitCode === null && child.signalCode === null };
    };

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        lincheckBinary(); // built (or found in the cache) before any fault
        rig = rigUp(RIG, N, { privatePrefix: "10.1.11", publicPrefix: "198.18.11" }, [VERSION]);
        stack = new TestStack({ stack: RIG, config: { ...rigStackConfig(rig, { version: VERSION, healthTimeoutSeconds: 90 }),
            metricsOnPrivateNetwork: true } });
    }, 20 * 60_000);

    afterAll(async () => {
        await prometheus?.stop();
        for (const u of undo.splice(0).reverse()) u();
        tearDown(stack, RIG);
    }, 10 * 60_000);

    it("deploys the cluster", () => {
        stack.up("faults: pulumi up");
        const out = stack.outputs(true);
        access = out as ClusterAccess;
        endpoints = out.clientEndpoints;
        admin = new Etcdctl(localEtcdctl(VERSION, stack.dir), adminClientFiles(path.join(stack.dir, "client"), out));
        expect(allHealthy()).toBe(true);
        expect(leaderIndex()).toBeGreaterThanOrEqual(0);
    }, 15 * 60_000);

    it("Prometheus scrapes every member from prometheusTargets; EtcdMemberDown fires while one etcd is stopped and clears when it is back", async () => {
        const started = Date.now();
        const out = stack.outputs(true);
        const names = (out.members as { name: string; privateIp: string }[]).map((m) => m.name);
        const cluster = "etcd"; // the program's component name (config clusterName, unset here)
        expect(out.prometheusRules).toBe(renderRulesYaml(etcdAlertRules())); // the stack's rules: the typed source's
        // The same rules with EtcdMemberDown's `for:` shortened from 3m to 6s, so the test waits seconds, not minutes.
        prometheus = new Prometheus({ dir: path.join(stack.dir, "prometheus"), port: 19390, targets: out.prometheusTargets,
            rules: renderRulesYaml(etcdAlertRules({ memberDownFor: "6s" })), intervalSeconds: 2 });
        const prom = prometheus;
        const memberDown = async () => (await prom.alerts()).filter((a) => a.labels.alertname === "EtcdMemberDown");
        const until = async (what: string, cond: () => Promise<boolean>, seconds: number) => {
            const deadline = Date.now() + seconds * 1000;
            while (!(await cond())) {
                if (!prom.running()) throw new Error(`prometheus exited: ${fs.readFileSync(prom.log, "utf8").slice(-2000)}`);
                if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what}`);
                await sleep(1000);
            }
        };
        // Every member scraped on its private address (the rig's 10.1.11.0/24), none on loopback or a public one.
        await until("3 targets up", async () => (await prom.targets()).filter((t) => t.health === "up").length === N, 60);
        const targets = await prom.targets();
        expect(targets.map((t) => t.labels.etcd_member).sort()).toEqual([...names].sort());
        for (const t of targets) expect(t.scrapeUrl).toMatch(/^http:\/\/10\.1\.11\.\d+:2381\/metrics$/);
        expect(targets.every((t) => t.labels.etcd_cluster === cluster)).toBe(true);
        await until("every member's has_leader scraped", async () => (await prom.query("etcd_server_has_leader == 1")).length === N, 30);
        expect(await memberDown()).toEqual([]);

        const down = 1;
        mustSsh(rig, rig.hosts[down], "systemctl stop etcd");
        undo.push(() => { ssh(rig, rig.hosts[down], "systemctl start etcd"); });
        const stopped = Date.now();
        await until("EtcdMemberDown firing", async () => (await memberDown()).some((a) => a.state === "firing"), 60);
        logStep(`faults: EtcdMemberDown firing ${((Date.now() - stopped) / 1000).toFixed(1)} s after etcd stopped (for: 6s)`, 0);
        expect((await memberDown()).map((a) => [a.labels.etcd_member, a.labels.etcd_cluster, a.state])).toEqual([[names[down], cluster, "firing"]]);

        mustSsh(rig, rig.hosts[down], "systemctl start etcd");
        undo.pop();
        await waitFor("every member healthy", allHealthy, 60);
        await until("EtcdMemberDown cleared", async () => (await memberDown()).length === 0, 60);
        expect((await prom.targets()).filter((t) => t.health === "up")).toHaveLength(N);
        await prom.stop();
        logStep("faults: Prometheus against the live cluster", (Date.now() - started) / 1000);
    }, 5 * 60_000);

    it("the leader's etcd paused (SIGSTOP) past the election timeout, then continued: a new leader, linearizable", async () => {
        const rec = recorder("fault: leader paused (SIGSTOP 4 s)");
        await sleep(3000);
        const leader = leaderIndex();
        expect(leader).toBeGreaterThanOrEqual(0);
        const pid = mainPid(leader);
        const cont = () => { ssh(rig, rig.hosts[leader], `kill -CONT ${pid}`); };
        mustSsh(rig, rig.hosts[leader], `kill -STOP ${pid}`);
        undo.push(cont);
        let newLeader = -1;
        try {
            await sleep(4 * ELECTION_TIMEOUT_MS);
            newLeader = leaderIndex([...Array(N).keys()].filter((i) => i !== leader));
        } finally {
            cont();
            undo.pop();
        }
        expect(newLeader).toBeGreaterThanOrEqual(0); // the others elected one of them while it was paused
        expect(newLeader).not.toBe(leader);
        await waitFor("every member healthy", allHealthy, 60);
        const r = await rec.stop(5000);
        expectLinearizable(r);
        expect(r.unknowns + r.failures).toBeGreaterThan(0); // the paused member's clients saw it
    }, 10 * 60_000);

    it("the leader's etcd killed (SIGKILL) and restarted by systemd: linearizable", async () => {
        const rec = recorder("fault: leader killed (SIGKILL), restarted by systemd");
        await sleep(3000);
        const leader = leaderIndex();
        expect(leader).toBeGreaterThanOrEqual(0);
        const pid = mainPid(leader);
        mustSsh(rig, rig.hosts[leader], `kill -KILL ${pid}`);
        await waitFor("systemd restarted etcd", () => !["0", pid].includes(mainPid(leader)), 60);
        await waitFor("every member healthy", allHealthy, 60);
        expect(mustSsh(rig, rig.hosts[leader], "systemctl show -p NRestarts --value etcd").trim()).not.toBe("0");
        const r = await rec.stop(5000);
        expectLinearizable(r);
        expect(r.unknowns + r.failures).toBeGreaterThan(0);
    }, 10 * 60_000);

    it("the leader cut off from its peers (its link on the bridge down), then healed: a new leader, linearizable", async () => {
        const rec = recorder("fault: leader partitioned (link down 6 s)");
        await sleep(3000);
        const leader = leaderIndex();
        expect(leader).toBeGreaterThanOrEqual(0);
        // The host's end of the member's veth pair: the interface whose index the member's host0 names as its peer.
        const peerIndex = mustSsh(rig, rig.hosts[leader], "cat /sys/class/net/host0/iflink").trim();
        const link = /^\d+: ([^:@]+)/.exec(mustRun("ip", ["-o", "link", "show"]).stdout.split("\n").find((l) => l.startsWith(`${peerIndex}: `)) ?? "")?.[1];
        expect(link).toBeDefined();
        const heal = () => { run("ip", ["link", "set", "dev", link!, "up"]); };
        mustRun("ip", ["link", "set", "dev", link!, "down"]);
        undo.push(heal);
        let newLeader = -1;
        try {
            await sleep(6000);
            newLeader = leaderIndex([...Array(N).keys()].filter((i) => i !== leader));
        } finally {
            heal();
            undo.pop();
        }
        expect(newLeader).toBeGreaterThanOrEqual(0);
        expect(newLeader).not.toBe(leader);
        await waitFor("every member healthy", allHealthy, 90);
        const r = await rec.stop(5000);
        expectLinearizable(r);
        expect(r.unknowns + r.failures).toBeGreaterThan(0);
    }, 10 * 60_000);

    it("the leader killed during a rolling change (pulumi up with a changed tuning value): linearizable, the roll completes", async () => {
        const before = [...Array(N).keys()].map(startedAt);
        const rec = recorder("fault: leader killed during a rolling change", 900, 50);
        await sleep(3000);
        stack.setConfig({ tuning: { snapshotCount: 7000 } });
        const up = upInBackground();
        // Once the roll has restarted a member, kill whichever member leads then.
        await waitFor("the roll restarted a member", () => !up.running() || before.some((t, i) => startedAt(i) > t), 600);
        expect(up.running()).toBe(true);
        // The roll may restart the leader between finding it and killing it, so look again until a kill lands.
        let leader = -1;
        await waitFor("the leader killed", () => {
            leader = leaderIndex();
            return leader >= 0 && ssh(rig, rig.hosts[leader], "systemctl kill --kill-whom=main --signal=KILL etcd").status === 0;
        }, 60);
        logStep(`faults: killed the leader (etcd-${leader}) during the roll`, 0);
        let result = await up.done;
        logStep(`faults: pulumi up with the leader killed during the roll (exit ${result.status})`, result.seconds);
        if (result.status !== 0) {
            // The killed member may be the next to restart (its gate refuses while it is down) or the one being
            // restarted; either way the roll stops with the reason, and the next up resumes it.
            expect(result.stdout).toMatch(/refusing to restart etcd on etcd-\d|The roll stops here/);
            stack.up("faults: pulumi up resuming the roll");
        }
        await waitFor("every member healthy", allHealthy, 90);
        const r = await rec.stop(5000);
        expectLinearizable(r);
        for (let i = 0; i < N; i++) {
            expect(mustSsh(rig, rig.hosts[i], "grep -c -- '--snapshot-count=7000' /etc/systemd/system/etcd.service").trim()).toBe("1");
        }
        stack.up("faults: pulumi up after the roll (no changes)", ["--expect-no-changes"]);
    }, 20 * 60_000);

    it("the judge says no: an old snapshot restored onto every member under a live recorder is not linearizable", async () => {
        const snapshot = path.join(stack.dir, "before-recording.db");
        admin.must([endpoints[0]], ["snapshot", "save", snapshot]);
        const rec = recorder("broken on purpose: old snapshot restored under live clients", 600);
        await sleep(5000); // acknowledged writes the snapshot does not hold
        const members = path.join(stack.dir, "members.json");
        fs.writeFileSync(members, stack.pulumi(["stack", "output", "members", "--json"]).stdout);
        const restore = run("bash", [path.join(REPO_ROOT, "scripts/restore.sh"), "--snapshot", snapshot,
            "--members-json", members, "--ssh-key", rig.sshPrivateKeyPath, "--ssh-option", "StrictHostKeyChecking=no",
            "--ssh-option", "UserKnownHostsFile=/dev/null", "--ssh-option", "LogLevel=ERROR", "--health-timeout", "120", "--yes"],
        { timeout: 10 * 60_000 });
        logStep("faults: scripts/restore.sh of a snapshot older than the recording", restore.seconds);
        if (restore.status !== 0) throw new Error(`restore.sh exited ${restore.status}\n${restore.stdout}\n${restore.stderr}`);
        const r = await rec.stop(8000); // clients read the rolled-back keys
        expect(r.verdict).toBe("not linearizable");
        expect(r.successes).toBeGreaterThan(0);
        expect(fs.readFileSync(r.visualization!, "utf8")).toContain("<html");
    }, 15 * 60_000);
});
