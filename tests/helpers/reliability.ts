// Reliability around an operation: a bounded continuous writer runs while the operation runs; afterwards
// every acknowledged write is read back from every member. Figures are printed and saved under reports/.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Etcdctl } from "../../lab/rig";
import { REPO_ROOT } from "../../lab/pulumi";

export interface ReliabilityReport {
    operation: string;
    members: number;
    attempted: number;
    acknowledged: number;
    failed: number;
    /** Acknowledged writes missing (or wrong) on at least one member. Must be 0. */
    lost: number;
    /** Longest time without an acknowledged write while the writer ran, in seconds. */
    longestOutageSeconds: number;
    durationSeconds: number;
}

interface Write { i: number; key: string; ok: boolean; start: number; end: number }

export class ContinuousWriter {
    private readonly child: ChildProcess;
    private readonly exited: Promise<number | null>;
    private readonly out: string;
    private readonly stopFile: string;

    constructor(readonly operation: string, readonly prefix: string, etcdctl: string, endpoints: string[],
        creds: { ca: string; cert: string; key: string }, workDir: string, limits = { maxWrites: 20_000, maxSeconds: 900 }) {
        this.out = path.join(workDir, `writer-${Date.now()}.json`);
        this.stopFile = `${this.out}.stop`;
        this.child = spawn(process.execPath, [path.join(REPO_ROOT, "tests/tools/writer.mjs"), "--etcdctl", etcdctl,
            "--endpoints", endpoints.join(","), "--cacert", creds.ca, "--cert", creds.cert, "--key", creds.key, "--prefix", prefix,
            "--out", this.out, "--stop-file", this.stopFile, "--max-writes", String(limits.maxWrites), "--max-seconds", String(limits.maxSeconds)],
        { stdio: ["ignore", "ignore", "inherit"] });
        this.exited = new Promise((resolve) => this.child.on("exit", resolve));
    }

    /** Lets the writer run a little longer, stops it, reads every acknowledged write back from every member. */
    async finish(admin: Etcdctl, endpoints: string[], members: number, tailMs = 2000): Promise<ReliabilityReport> {
        await new Promise((r) => setTimeout(r, tailMs));
        fs.writeFileSync(this.stopFile, "");
        const code = await this.exited;
        if (code !== 0) throw new Error(`writer exited ${code}`);
        const { history } = JSON.parse(fs.readFileSync(this.out, "utf8")) as { history: Write[] };
        const acked = history.filter((w) => w.ok);
        const lost = new Set<string>();
        for (const e of endpoints) {
            // A serializable read answers from the member's own store: it shows what this member holds.
            const stored = readPrefix(admin, e, this.prefix);
            for (const w of acked) if (stored.get(w.key) !== `v${w.i}`) lost.add(w.key);
        }
        let longest = 0;
        let last = 0;
        for (const w of acked) { longest = Math.max(longest, w.end - last); last = w.end; }
        const end = history.length ? history[history.length - 1].end : 0;
        longest = Math.max(longest, end - last);
        const report: ReliabilityReport = {
            operation: this.operation, members, attempted: history.length, acknowledged: acked.length,
            failed: history.length - acked.length, lost: lost.size, longestOutageSeconds: longest / 1000, durationSeconds: end / 1000,
        };
        saveReport(report);
        return report;
    }
}

function readPrefix(admin: Etcdctl, endpoint: string, prefix: string): Map<string, string> {
    let lastError = "";
    for (let attempt = 0; attempt < 10; attempt++) {
        const r = admin.run([endpoint], ["get", "--prefix", `${prefix}/`, "--consistency=s", "-w", "json"]);
        if (r.status === 0) {
            const kvs = (JSON.parse(r.stdout).kvs ?? []) as { key: string; value: string }[];
            return new Map(kvs.map((kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value, "base64").toString()]));
        }
        lastError = r.stderr;
    }
    throw new Error(`cannot read ${prefix} from ${endpoint}: ${lastError}`);
}

function saveReport(report: ReliabilityReport): void {
    const dir = path.join(REPO_ROOT, "reports");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "reliability.json");
    const all: ReliabilityReport[] = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : [];
    all.push(report);
    fs.writeFileSync(file, JSON.stringify(all, null, 2));
    process.stdout.write(`[reliability] ${report.operation} (${report.members} members): attempted ${report.attempted}, ` +
        `acknowledged ${report.acknowledged}, failed ${report.failed}, lost ${report.lost}, ` +
        `longest write outage ${report.longestOutageSeconds.toFixed(2)} s over ${report.durationSeconds.toFixed(1)} s\n`);
}
