// Benchmarks: how long the real program takes on the local hosts, and how that grows with the cluster size,
// each figure next to its floor measured in the same run on the same hardware (etcd started and restarted
// directly over SSH, an empty TypeScript Pulumi program with the same runtime options, one SSH round trip), so
// the ratios cancel the machine's speed. Run with `npm run bench` (lab/run-ts.cjs runs it); not part of `npm test`.
// Prints the ratios and a table, and writes reports/bench-<time>.json. Every step is bounded in time; the rig
// and the stacks it made are removed at the end.
import { spawn } from "child_process";
import * as fs from "fs";
import { dump, load } from "js-yaml";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT, TestStack } from "../lab/pulumi";
import { localEtcdctl, Rig, RigHost, rigDown, rigStackConfig, rigUp, sshArgs } from "../lab/rig";
import { mustRun, run } from "../lab/run";
import { defaults } from "../components/etcd-cluster/defaults";
import { etcdFlags } from "../components/etcd-cluster/render/flags";
import { PEER_CERT_CN } from "../components/etcd-cluster/pki";
import { hostLayout } from "../components/etcd-cluster/render/layout";

interface Options {
    sizes: number[];
    day2Sizes: number[];
    runs: number;
    floor: boolean;
    deploy: boolean;
    label: string;
    maxMinutes: number;
    rig: string;
    privatePrefix: string;
    publicPrefix: string;
    env: Record<string, string>;
}

const USAGE = `npm run bench -- [options]
  --sizes 1,3,5,7        member counts deployed from an empty stack (default 1,3,5,7)
  --day2-sizes 3,7       member counts that also get no-op preview/up and a rolling change (default 3,7)
  --runs N               repetitions of every figure (default 3, at least 1)
  --quick                3 members only, 1 run (the same as --sizes 3 --day2-sizes 3 --runs 1; later options win)
  --no-floor             skip the floors (etcd started directly, empty program, SSH round trip)
  --no-deploy            floors only
  --label TEXT           recorded in the report (e.g. before/after)
  --max-minutes M        stop measuring after M minutes and report what was measured (default 50)
  --rig NAME             rig name (default bench; prefixes 10.1.10 / 198.18.10)
  --env K=V              extra environment for the pulumi CLI (repeatable), e.g. --env PULUMI_NODEJS_TRANSPILE_ONLY=false`;

function parseOptions(argv: string[]): Options | undefined {
    const o: Options = {
        sizes: [1, 3, 5, 7], day2Sizes: [3, 7], runs: 3, floor: true, deploy: true, label: "", maxMinutes: 50,
        rig: "bench", privatePrefix: "10.1.10", publicPrefix: "198.18.10", env: {},
    };
    const list = (v: string) => v.split(",").filter(Boolean).map((x) => {
        const n = Number(x);
        if (!Number.isInteger(n) || n < 1 || n > 7 || n % 2 === 0) throw new Error(`member counts are odd, 1..7 (got ${x})`);
        return n;
    });
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
        switch (a) {
            case "--sizes": o.sizes = list(next()); break;
            case "--day2-sizes": o.day2Sizes = list(next()); break;
            case "--runs": o.runs = Math.max(1, Number(next())); break;
            case "--quick": o.sizes = [3]; o.day2Sizes = [3]; o.runs = 1; break;
            case "--no-floor": o.floor = false; break;
            case "--no-deploy": o.deploy = false; break;
            case "--label": o.label = next(); break;
            case "--max-minutes": o.maxMinutes = Number(next()); break;
            case "--rig": o.rig = next(); break;
            case "--env": { const [k, ...v] = next().split("="); o.env[k] = v.join("="); break; }
            case "--help": case "-h": console.log(USAGE); return undefined;
            default: throw new Error(`unknown option ${a}\n${USAGE}`);
        }
    }
    return o;
}

// ------------------------------------------------------------------ figures

/** The floors: what the same work costs without the component, measured in the same run. */
const FLOOR = {
    ssh: "SSH round trip (ssh host true)",
    start: "floor: etcd start",
    roll: "floor: etcd rolling restart",
    emptyPreview: "floor: empty program, pulumi preview",
    emptyUp: "floor: empty program, pulumi up",
    providersPreview: "floor: one resource per provider, pulumi preview",
    providersUp: "floor: one resource per provider, pulumi up",
} as const;
/** Figures whose floor does not depend on the member count are recorded with members 0. */
const ANY_SIZE = 0;

interface Figure {
    figure: string;
    members: number;
    /** The figure it is compared with (of the same member count, or of ANY_SIZE); "" for none. */
    floor: string;
    samples: number[];
    /** Load average (1 min) when each sample started: other work on the machine. */
    load: number[];
    /** CPU seconds of the pulumi processes (CLI, language host, program, providers) per sample, where measured. */
    cpu: number[];
}

const figures: Figure[] = [];
const notes: string[] = [];

/** Seconds, and for what runs here (pulumi) the CPU seconds it used. */
interface Timed { seconds: number; cpu?: number }

function record(figure: string, members: number, floor: string, t: number | Timed): void {
    const { seconds, cpu } = typeof t === "number" ? { seconds: t, cpu: undefined } : t;
    let f = figures.find((x) => x.figure === figure && x.members === members);
    if (!f) figures.push(f = { figure, members, floor, samples: [], load: [], cpu: [] });
    f.samples.push(seconds);
    if (cpu !== undefined) f.cpu.push(cpu);
    f.load.push(Number(os.loadavg()[0].toFixed(2)));
    process.stdout.write(`[bench] ${figure}${members === ANY_SIZE ? "" : ` (${members})`}: ${seconds.toFixed(2)} s` +
        `${cpu === undefined ? "" : `, ${cpu.toFixed(2)} s CPU`}\n`);
}

function stats(xs: number[]): { min: number; median: number; max: number } {
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return { min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}

// ------------------------------------------------------------------ processes

interface Result { status: number; stdout: string; stderr: string; seconds: number }

/** An asynchronous process with a time limit (so floors can run SSH sessions in parallel). */
function spawnAsync(cmd: string, args: string[], input = "", timeoutMs = 120_000): Promise<Result> {
    const started = Date.now();
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => { stdout += d; });
        child.stderr.on("data", (d) => { stderr += d; });
        child.on("error", (e) => { stderr += String(e); });
        child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
        child.stdin.end(input);
    });
}

async function sshAsync(rig: Rig, host: RigHost, command: string, input = "", timeoutMs = 120_000): Promise<string> {
    const r = await spawnAsync("ssh", sshArgs(rig, host, command), input, timeoutMs);
    if (r.status !== 0) throw new Error(`ssh ${host.name} exited ${r.status}: ${r.stderr}${r.stdout}`.slice(0, 4000));
    return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ floors

/** openssl-made PKI for the floor cluster: CA, per host a server and a peer certificate, one client certificate. */
function floorPki(dir: string, hosts: RigHost[]): void {
    const ossl = (args: string[]) => mustRun("openssl", args, { cwd: dir });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    ossl(["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=bench-floor-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
    const leaf = (name: string, cn: string, san: string, usage: string) => {
        fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
        ossl(["req", ...ec, "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
        ossl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", `${name}.ext`, "-out", `${name}.crt`]);
    };
    for (const h of hosts) {
        const san = `DNS:${h.name},DNS:localhost,IP:127.0.0.1,IP:${h.privateIp},IP:${h.publicIp}`;
        leaf(`${h.name}-server`, h.name, san, "serverAuth,clientAuth");
        leaf(`${h.name}-peer`, PEER_CERT_CN, san, "serverAuth,clientAuth"); // the peer port allows only this name
    }
    leaf("client", "bench-client", "DNS:bench-client", "clientAuth");
}

const FLOOR_DIR = "/root/etcd-floor";

/** The floor runs etcd with the component's own flags (rendered by it), its files under FLOOR_DIR. */
function floorUnit(h: RigHost, version: string): string {
    const d = FLOOR_DIR;
    const layout = hostLayout({ dataDir: "/var/lib/etcd-floor", snapshotDir: "/var/backups/etcd-floor", ports: defaults.ports, release: { version } });
    // No separate public address: clients come over the private network, as in the component's default.
    const member = { name: h.name, privateIp: h.privateIp, publicIp: h.privateIp };
    const flags = etcdFlags({ member, layout, tuning: defaults.tuning, metricsOnPrivateNetwork: false, clientsOnPublicAddress: false, peerCertificatesOnly: true, pkiDir: d });
    return `[Unit]\nDescription=etcd started directly (benchmark floor)\n[Service]\nType=notify\nEnvironmentFile=${d}/env\n` +
        `ExecStart=${d}/bin/etcd ${flags.join(" ")}\n`;
}

class Floor {
    private readonly etcdctl: string;
    private readonly pkiDir: string;

    constructor(private readonly rig: Rig, work: string, private readonly version: string) {
        this.etcdctl = localEtcdctl(version, work);
        this.pkiDir = fs.mkdtempSync(path.join(work, "floor-pki-"));
        floorPki(this.pkiDir, rig.hosts);
    }

    /** Binaries, certificates and a unit on every host (not timed). */
    async stage(): Promise<void> {
        const tarball = `${this.rig.releaseBaseUrl}/v${this.version}/etcd-v${this.version}-linux-amd64.tar.gz`;
        await Promise.all(this.rig.hosts.map((h) => {
            const file = (name: string) => fs.readFileSync(path.join(this.pkiDir, name), "utf8");
            const put = (name: string, text: string, mode: string) =>
                `install -m ${mode} /dev/stdin ${FLOOR_DIR}/${name} <<'PEM_EOF'\n${text.trimEnd()}\nPEM_EOF\n`;
            const script = `set -euo pipefail\nmkdir -p ${FLOOR_DIR}/bin\n` +
                `curl -fsS ${tarball} | tar -xz -C ${FLOOR_DIR}/bin --strip-components=1\n` +
                put("ca.crt", file("ca.crt"), "0644") + put("server.crt", file(`${h.name}-server.crt`), "0644") +
                put("server.key", file(`${h.name}-server.key`), "0600") + put("peer.crt", file(`${h.name}-peer.crt`), "0644") +
                put("peer.key", file(`${h.name}-peer.key`), "0600") +
                `cat > /etc/systemd/system/etcd-floor.service <<'UNIT_EOF'\n${floorUnit(h, this.version)}UNIT_EOF\nsystemctl daemon-reload\n`;
            return sshAsync(this.rig, h, "bash -s", script);
        }));
    }

    private async healthy(hosts: RigHost[]): Promise<boolean> {
        const r = await spawnAsync(this.etcdctl, [`--endpoints=${hosts.map((h) => `https://${h.privateIp}:2379`).join(",")}`,
            `--cacert=${path.join(this.pkiDir, "ca.crt")}`, `--cert=${path.join(this.pkiDir, "client.crt")}`,
            `--key=${path.join(this.pkiDir, "client.key")}`, "--dial-timeout=1s", "--command-timeout=2s", "endpoint", "health"], "", 10_000);
        return r.status === 0;
    }

    private async waitHealthy(hosts: RigHost[], limitSeconds = 120): Promise<void> {
        const deadline = Date.now() + limitSeconds * 1000;
        while (!(await this.healthy(hosts))) {
            if (Date.now() > deadline) throw new Error(`floor cluster of ${hosts.length} not healthy within ${limitSeconds}s`);
            await sleep(50);
        }
    }

    /** Starts a new TLS cluster of the first n hosts, in parallel; seconds until every member is healthy. */
    async start(n: number, token: string): Promise<number> {
        const hosts = this.rig.hosts.slice(0, n);
        const initial = hosts.map((h) => `${h.name}=https://${h.privateIp}:2380`).join(",");
        const env = `ETCD_INITIAL_CLUSTER=${initial}\nETCD_INITIAL_CLUSTER_STATE=new\nETCD_INITIAL_CLUSTER_TOKEN=${token}\n`;
        const t0 = Date.now();
        await Promise.all(hosts.map((h) => sshAsync(this.rig, h,
            `printf '%s' '${env}' > ${FLOOR_DIR}/env && systemctl start --no-block etcd-floor`)));
        await this.waitHealthy(hosts);
        return (Date.now() - t0) / 1000;
    }

    /** Restarts the members one after another, each time until every member is healthy again. */
    async roll(n: number): Promise<number> {
        const hosts = this.rig.hosts.slice(0, n);
        const t0 = Date.now();
        for (const h of hosts) {
            await sshAsync(this.rig, h, "systemctl restart --no-block etcd-floor");
            await sleep(200); // the restart has begun: do not take the old process's health for the new one's
            await this.waitHealthy(hosts);
        }
        return (Date.now() - t0) / 1000;
    }

    async stop(n: number): Promise<void> {
        await Promise.all(this.rig.hosts.slice(0, n).map((h) =>
            sshAsync(this.rig, h, "systemctl stop etcd-floor 2>/dev/null || true; rm -rf /var/lib/etcd-floor")));
    }

    async remove(): Promise<void> {
        await Promise.all(this.rig.hosts.map((h) => sshAsync(this.rig, h,
            `systemctl stop etcd-floor 2>/dev/null || true; rm -rf /var/lib/etcd-floor ${FLOOR_DIR} /etc/systemd/system/etcd-floor.service; systemctl daemon-reload`)
            .catch((e) => notes.push(`floor cleanup on ${h.name}: ${e}`))));
    }
}

async function sshRoundTrip(rig: Rig, runs: number): Promise<void> {
    const h = rig.hosts[0];
    await sshAsync(rig, h, "true"); // warm: the first connection pays for things later ones do not
    for (let i = 0; i < Math.max(runs, 10); i++) {
        const r = await spawnAsync("ssh", sshArgs(rig, h, "true"), "", 30_000);
        if (r.status !== 0) throw new Error(`ssh round trip failed: ${r.stderr}`);
        record(FLOOR.ssh, ANY_SIZE, "", r.seconds);
    }
}

/**
 * The floor of any no-op `pulumi preview`/`up`: an empty TypeScript program with the real one's runtime options
 * (Pulumi.yaml's runtime and main, the tsconfig files, package.json, node_modules) and the same environment.
 */
function emptyProgramStack(work: string, env: Record<string, string>): TestStack {
    return floorProgramStack(work, env, "empty", "// Nothing: the floor of any program.\nexport {};\n");
}

/** One cheap resource of each provider package a program may use, none of which reaches a host or an API. */
const PROVIDER_FLOOR_RESOURCES: Record<string, string> = {
    command: `import * as command from "@pulumi/command";\nnew command.local.Command("floor", { create: "true" });\n`,
    hcloud: `import * as hcloud from "@pulumi/hcloud";\nnew hcloud.Provider("floor", { token: "0".repeat(64), endpoint: "http://127.0.0.1:9/v1" });\n`,
    random: `import * as random from "@pulumi/random";\nnew random.RandomId("floor", { byteLength: 4 });\n`,
    tls: `import * as tls from "@pulumi/tls";\nnew tls.PrivateKey("floor", { algorithm: "ED25519" });\n`,
};

/**
 * The floor of a no-op run of this program's providers: the empty program plus one resource of each provider
 * package the deployed stack uses (its \`pulumi:providers:*\` resources). Their plugins start and answer the
 * engine, which no program that uses them can avoid; the component's own work is what remains above it.
 */
function providersProgramStack(work: string, env: Record<string, string>, deployed: TestStack): TestStack {
    const packages = [...new Set((JSON.parse(deployed.exportState()).deployment.resources as { type: string }[])
        .map((r) => /^pulumi:providers:(.+)$/.exec(r.type)?.[1]).filter((p): p is string => p !== undefined))].sort();
    const unknown = packages.filter((p) => !(p in PROVIDER_FLOOR_RESOURCES));
    if (unknown.length > 0) throw new Error(`no floor resource for the provider package(s) ${unknown.join(", ")}: add one to PROVIDER_FLOOR_RESOURCES`);
    notes.push(`the providers' floor program has one resource of each of: ${packages.join(", ")}`);
    return floorProgramStack(work, env, "providers", packages.map((p) => PROVIDER_FLOOR_RESOURCES[p]).join(""));
}

/** A deployed stack of a small program with the real one's runtime options (see emptyProgramStack). */
function floorProgramStack(work: string, env: Record<string, string>, name: string, source: string): TestStack {
    const dir = path.join(work, `${name}-program`);
    fs.mkdirSync(dir);
    const project = load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as { runtime: unknown; main?: string };
    const main = project.main ?? "index.ts";
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), dump({ name: `${name}-program`, runtime: project.runtime, main }));
    for (const f of fs.readdirSync(REPO_ROOT).filter((x) => /^(tsconfig.*|package)\.json$/.test(x))) {
        fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
    }
    fs.writeFileSync(path.join(dir, main), source);
    const stack = new TestStack({ stack: name, config: {}, env, programSource: dir });
    stack.pulumi(["up", "--yes", "--skip-preview"]); // it has its resources (at least the stack), as a deployed stack has
    return stack;
}

// ------------------------------------------------------------------ the program

function clusterConfig(rig: Rig, n: number, version: string): Record<string, unknown> {
    return rigStackConfig(rig, { version, count: n, healthTimeoutSeconds: 90 });
}

const CLOCK_TICKS = Number(run("getconf", ["CLK_TCK"]).stdout.trim()) || 100;

/**
 * CPU seconds used by this process's waited-for children and their waited-for descendants (/proc/self/stat
 * cutime + cstime): pulumi waits for its language host, program and providers. Less sensitive than wall time to
 * what else runs on the machine.
 */
function childrenCpuSeconds(): number {
    const fields = fs.readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /s, "").split(" ");
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS; // fields 16 and 17 of proc(5)
}

function timedPulumi(stack: TestStack, args: string[]): Timed {
    const cpu0 = childrenCpuSeconds();
    const r = stack.tryPulumi(args);
    if (r.status !== 0) {
        throw new Error(`pulumi ${args.join(" ")} exited ${r.status}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-3000)}`);
    }
    return { seconds: r.seconds, cpu: childrenCpuSeconds() - cpu0 };
}

/** Outside the timing: the component's cluster check (health of all, put/get through every member) passed. */
function verify(stack: TestStack, n: number): void {
    const out = stack.outputs();
    if (!String(out.clusterCheck).includes(`etcd cluster check passed: ${n} members started and healthy`)) {
        throw new Error(`cluster check output does not report ${n} healthy members: ${out.clusterCheck}`);
    }
}

/** After destroy: what the component keeps (data moved aside) goes, so the next run starts from clean hosts. */
async function wipeHosts(rig: Rig, n: number): Promise<void> {
    await Promise.all(rig.hosts.slice(0, n).map((h) => sshAsync(rig, h,
        "rm -rf /var/lib/etcd.removed-* /var/lib/etcd.orphaned-* /var/lib/etcd /var/backups/etcd")));
}

/** The floor programs' stacks: made in main (empty) and at the first deployment (providers, from its state). */
interface FloorStacks { work: string; empty: TestStack; providers?: TestStack }

async function deploySize(rig: Rig, n: number, o: Options, version: string, deadline: number, floors: FloorStacks | undefined): Promise<void> {
    const stack = new TestStack({ stack: `bench${n}`, config: clusterConfig(rig, n, version), env: o.env });
    let deployed = false;
    try {
        for (let r = 0; r < o.runs && Date.now() < deadline; r++) {
            record("pulumi up, empty stack -> verified cluster", n, FLOOR.start, timedPulumi(stack, ["up", "--yes", "--skip-preview"]));
            deployed = true;
            verify(stack, n);
            if (o.day2Sizes.includes(n) && r === 0) {
                const noOpUp = ["up", "--yes", "--skip-preview", "--expect-no-changes"];
                if (floors) floors.providers ??= providersProgramStack(floors.work, o.env, stack);
                for (let i = 0; i < o.runs && Date.now() < deadline; i++) {
                    // Each right after its floors, so all see the same load on the machine.
                    if (floors) record(FLOOR.emptyPreview, ANY_SIZE, "", timedPulumi(floors.empty, ["preview", "--expect-no-changes"]));
                    if (floors?.providers) record(FLOOR.providersPreview, ANY_SIZE, "", timedPulumi(floors.providers, ["preview", "--expect-no-changes"]));
                    record("pulumi preview, no changes", n, FLOOR.emptyPreview, timedPulumi(stack, ["preview", "--expect-no-changes"]));
                    if (floors) record(FLOOR.emptyUp, ANY_SIZE, "", timedPulumi(floors.empty, noOpUp));
                    if (floors?.providers) record(FLOOR.providersUp, ANY_SIZE, "", timedPulumi(floors.providers, noOpUp));
                    record("pulumi up, no changes", n, FLOOR.emptyUp, timedPulumi(stack, noOpUp));
                }
                // What type-checking at run time would cost (ts-node checks the program before it runs).
                const transpileOnly = stack.env.PULUMI_NODEJS_TRANSPILE_ONLY;
                stack.env.PULUMI_NODEJS_TRANSPILE_ONLY = "false";
                try {
                    for (let i = 0; i < o.runs && Date.now() < deadline; i++) {
                        record("pulumi preview, no changes, type-checked", n, FLOOR.emptyPreview, timedPulumi(stack, ["preview", "--expect-no-changes"]));
                    }
                } finally {
                    stack.env.PULUMI_NODEJS_TRANSPILE_ONLY = transpileOnly;
                }
                for (let i = 0; i < o.runs && Date.now() < deadline; i++) {
                    stack.setConfig({ tuning: { snapshotCount: 10_001 + i } });
                    record("rolling change of every member", n, FLOOR.roll, timedPulumi(stack, ["up", "--yes", "--skip-preview"]));
                    verify(stack, n);
                }
                stack.setConfig({ tuning: {} });
            }
            const d = timedPulumi(stack, ["destroy", "--yes", "--skip-preview"]).seconds;
            deployed = false;
            record("pulumi destroy", n, "", d);
            await wipeHosts(rig, n);
        }
    } finally {
        if (deployed) stack.tryPulumi(["destroy", "--yes", "--skip-preview"]);
        stack.dispose();
    }
}

// ------------------------------------------------------------------ report

function fmt(x: number): string {
    return x < 10 ? x.toFixed(2) : x.toFixed(1);
}

/** The median seconds (or CPU seconds) of a figure. */
function median(figure: string, members: number, of: "samples" | "cpu" = "samples"): number | undefined {
    const f = figures.find((x) => x.figure === figure && x.members === members);
    return f && f[of].length > 0 ? stats(f[of]).median : undefined;
}

/** The median of a figure's floor: of the same member count, or one that does not depend on it. */
function floorMedian(f: Figure, of: "samples" | "cpu" = "samples"): number | undefined {
    return f.floor ? median(f.floor, f.members, of) ?? median(f.floor, ANY_SIZE, of) : undefined;
}

function table(): string {
    const order = ["SSH round trip", FLOOR.emptyPreview, FLOOR.emptyUp, FLOOR.providersPreview, FLOOR.providersUp, FLOOR.start, FLOOR.roll, "pulumi up, empty", "pulumi up, no changes",
        "pulumi preview, no changes", "pulumi preview, no changes, type-checked", "rolling change", "pulumi destroy"];
    const rank = (f: Figure) => Math.max(...order.map((p, i) => (f.figure.startsWith(p) ? i : -1)));
    const sorted = [...figures].sort((a, b) => rank(a) - rank(b) || a.members - b.members);
    const rows = [["figure", "members", "runs", "min s", "median s", "max s", "floor s", "x floor", "CPU s", "CPU x floor"]];
    for (const f of sorted) {
        const s = stats(f.samples);
        const fl = floorMedian(f);
        const cpu = f.cpu.length > 0 ? stats(f.cpu).median : undefined;
        const cpuFloor = floorMedian(f, "cpu");
        rows.push([f.figure, f.members === ANY_SIZE ? "any" : String(f.members), String(f.samples.length), fmt(s.min), fmt(s.median), fmt(s.max),
            fl === undefined ? "" : fmt(fl), fl === undefined ? "" : (s.median / fl).toFixed(2),
            cpu === undefined ? "" : fmt(cpu), cpu === undefined || cpuFloor === undefined ? "" : (cpu / cpuFloor).toFixed(2)]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
    return [line(rows[0]), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

interface Ratio { what: string; ratio: number; goal?: number; seconds: string }

/** Issue #22's goals: medians divided by the medians of their floors from the same run, with the seconds behind them. */
function ratios(): Ratio[] {
    const out: Ratio[] = [];
    const sizes = [...new Set(figures.map((f) => f.members))].filter((n) => n !== ANY_SIZE).sort((a, b) => a - b);
    const add = (what: string, a: number | undefined, b: number | undefined, seconds: (a: number, b: number) => string, goal?: number) => {
        if (a !== undefined && b !== undefined) out.push({ what, ratio: a / b, goal, seconds: seconds(a, b) });
    };
    for (const n of sizes) {
        const preview = median("pulumi preview, no changes", n);
        const up = median("pulumi up, no changes", n);
        const emptyPreview = median(FLOOR.emptyPreview, ANY_SIZE);
        const emptyUp = median(FLOOR.emptyUp, ANY_SIZE);
        add(`no-op pulumi preview, ${n} members / empty-program preview`, preview, emptyPreview, (a, b) => `${fmt(a)} s / ${fmt(b)} s`, 1.3);
        add(`no-op pulumi up, ${n} members / empty-program up`, up, emptyUp, (a, b) => `${fmt(a)} s / ${fmt(b)} s`, 1.3);
        add(`  no-op pulumi preview, ${n} members / one-resource-per-provider preview`, preview, median(FLOOR.providersPreview, ANY_SIZE),
            (a, b) => `${fmt(a)} s / ${fmt(b)} s`);
        add(`  no-op pulumi up, ${n} members / one-resource-per-provider up`, up, median(FLOOR.providersUp, ANY_SIZE), (a, b) => `${fmt(a)} s / ${fmt(b)} s`);
        add(`  one-resource-per-provider preview / empty-program preview (what the providers alone cost)`, median(FLOOR.providersPreview, ANY_SIZE),
            emptyPreview, (a, b) => `${fmt(a)} s / ${fmt(b)} s`);
        add(`  the same in CPU time: no-op preview / empty-program preview`, median("pulumi preview, no changes", n, "cpu"),
            median(FLOOR.emptyPreview, ANY_SIZE, "cpu"), (a, b) => `${fmt(a)} s / ${fmt(b)} s CPU`);
        add(`  the same in CPU time: no-op up / empty-program up`, median("pulumi up, no changes", n, "cpu"),
            median(FLOOR.emptyUp, ANY_SIZE, "cpu"), (a, b) => `${fmt(a)} s / ${fmt(b)} s CPU`);
        add(`the same preview type-checked / empty-program preview`, median("pulumi preview, no changes, type-checked", n), emptyPreview,
            (a, b) => `${fmt(a)} s / ${fmt(b)} s`);
        const roll = median("rolling change of every member", n);
        const bare = median(FLOOR.roll, n);
        add(`rolling change per member, ${n} members / bare restart per member`, roll, bare,
            (a, b) => `${fmt(a / n)} s / ${fmt(b / n)} s per member (${fmt(a)} s / ${fmt(b)} s)`, 1.5);
        if (up !== undefined) {
            add(`  the same without the no-op up's fixed cost ((roll - no-op up) / bare restarts)`, roll === undefined ? undefined : roll - up, bare,
                (a, b) => `${fmt(a / n)} s / ${fmt(b / n)} s per member`);
        }
        add(`first deployment, ${n} members / direct start`, median("pulumi up, empty stack -> verified cluster", n), median(FLOOR.start, n),
            (a, b) => `${fmt(a)} s / ${fmt(b)} s`, n === 3 ? 4 : undefined);
    }
    add("first deployment, 7 members / 3 members", median("pulumi up, empty stack -> verified cluster", 7),
        median("pulumi up, empty stack -> verified cluster", 3), (a, b) => `${fmt(a)} s / ${fmt(b)} s`, 1.3);
    return out;
}

function ratioLines(): string {
    return ratios().map((r) => `${r.ratio.toFixed(2).padStart(6)} x  ${r.goal === undefined ? "".padEnd(10) : `goal ${r.goal.toFixed(1)}`.padEnd(10)}` +
        `${r.goal === undefined ? "    " : r.ratio <= r.goal ? " ok " : " NO "} ${r.what}: ${r.seconds}\n`).join("");
}

function machine(): Record<string, unknown> {
    const pulumiVersion = run("pulumi", ["version"]).stdout.trim();
    return {
        cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
        kernel: os.release(), node: process.version, pulumi: pulumiVersion, loadAverage: os.loadavg(),
    };
}

// ------------------------------------------------------------------ main

export async function main(argv: string[]): Promise<number> {
    const o = parseOptions(argv);
    if (!o) return 0;
    const version = process.env.ETCD_VERSION;
    if (!version) throw new Error("ETCD_VERSION is not set: source scripts/env.sh first");
    const started = Date.now();
    const deadline = started + o.maxMinutes * 60_000;
    const maxHosts = Math.max(...o.sizes, ...o.day2Sizes.filter((n) => o.sizes.includes(n)));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-bench-"));
    const before = machine();
    let rig: Rig | undefined;
    let floor: Floor | undefined;
    let floors: FloorStacks | undefined;
    let cleaned = false;
    const cleanup = () => {
        if (cleaned) return;
        cleaned = true;
        if (rig) rigDown(o.rig);
        fs.rmSync(work, { recursive: true, force: true });
    };
    const onSignal = (sig: NodeJS.Signals) => { process.stderr.write(`bench: ${sig}, cleaning up\n`); cleanup(); process.exit(130); };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
        rig = rigUp(o.rig, maxHosts, { privatePrefix: o.privatePrefix, publicPrefix: o.publicPrefix }, [version]);
        if (o.floor) {
            await sshRoundTrip(rig, o.runs);
            floor = new Floor(rig, work, version);
            await floor.stage();
            for (const n of o.sizes) {
                for (let r = 0; r < o.runs && Date.now() < deadline; r++) {
                    record(FLOOR.start, n, "", await floor.start(n, `floor-${n}-${r}-${Date.now()}`));
                    if (o.day2Sizes.includes(n)) record(FLOOR.roll, n, "", await floor.roll(n));
                    await floor.stop(n);
                }
            }
            await floor.remove();
        }
        if (o.deploy) {
            if (o.floor) floors = { work, empty: emptyProgramStack(work, o.env) };
            for (const n of o.sizes) {
                if (Date.now() >= deadline) { notes.push(`time limit reached before the ${n}-member deployments`); break; }
                await deploySize(rig, n, o, version, deadline, floors);
            }
        }
        if (Date.now() >= deadline) notes.push(`stopped at the ${o.maxMinutes}-minute limit; later figures have fewer runs or are missing`);
    } catch (e) {
        notes.push(`failed: ${String(e).slice(0, 2000)}`);
        process.stderr.write(`bench: ${e}\n`);
    } finally {
        if (floor && !cleaned) await floor.remove().catch(() => undefined);
        floors?.empty.dispose();
        floors?.providers?.dispose();
        cleanup();
    }
    const report = {
        label: o.label, startedAt: new Date(started).toISOString(), minutes: Number(((Date.now() - started) / 60_000).toFixed(1)),
        ratios: ratios().map((r) => ({ ...r, ratio: Number(r.ratio.toFixed(3)) })),
        options: { ...o }, machineAtStart: before, loadAverageAtEnd: os.loadavg(), etcdVersion: version, notes,
        figures: figures.map((f) => ({ ...f, ...stats(f.samples) })),
    };
    const dir = path.join(REPO_ROOT, "reports");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `bench-${new Date(started).toISOString().replace(/[:.]/g, "-")}${o.label ? `-${o.label}` : ""}.json`);
    fs.writeFileSync(file, JSON.stringify(report, null, 2));
    process.stdout.write(`\nratios to the floors measured in this run (medians):\n${ratioLines()}\n${table()}\n\n` +
        `machine: ${JSON.stringify(before)}\nload average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}\n` +
        `${notes.map((n) => `note: ${n}\n`).join("")}report: ${path.relative(REPO_ROOT, file)}\n`);
    return notes.some((n) => n.startsWith("failed")) ? 1 : 0;
}
