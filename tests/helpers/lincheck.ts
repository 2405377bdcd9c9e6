// Linearizability around an operation: tools/lincheck records concurrent clients (puts, linearizable gets,
// compare-and-swap) against every member while the operation runs; stopping it checks the history with
// porcupine. Figures are printed and saved under reports/linearizability.json, one record per operation.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { mustRun } from "../../lab/run";
import { REPO_ROOT } from "../../lab/pulumi";
import { adminClientFiles } from "../../lab/rig";
import { appendReport } from "../../lab/reports";

export interface LincheckReport {
    verdict: "linearizable" | "not linearizable" | "undetermined";
    operations: number;
    successes: number;
    /** Errors with certainly no effect: failed reads, writes never sent. */
    failures: number;
    /** Writes that may or may not have taken effect (timeouts, cut connections). */
    unknowns: number;
    byKind: Record<string, number>;
    casSucceeded: number;
    durationSeconds: number;
    longestUnavailableSeconds: number;
    latencyMs: { p50: number; p99: number; max: number };
    errors?: Record<string, number>;
    /** signal (stopped by stop()), duration or max-ops (a limit ended the recording first). */
    stoppedBy: string;
    history: string;
    /** porcupine's HTML, written on a violation. */
    visualization?: string;
}

/** The stack outputs the recorder needs: the members' client URLs and the admin client credentials. */
export interface ClusterAccess {
    clientEndpoints: string[];
    caCertificate: string;
    adminClientCertificate: string;
    adminClientKey: string;
}

let binary: string | undefined;
/** tools/lincheck, built once per source version and cached outside the clone. */
export function lincheckBinary(): string {
    binary ??= mustRun("bash", [path.join(REPO_ROOT, "scripts/lab/go-tools.sh"), "lincheck"], { timeout: 10 * 60_000 }).stdout.trim();
    return binary;
}

export interface RecorderLimits {
    maxSeconds: number;
    maxOps: number;
    clients?: number;
    keys?: number;
    /** Pause between one client's operations. @default 20 */
    intervalMs?: number;
}

export class Recorder {
    private readonly child: ChildProcess;
    private readonly exited: Promise<number | null>;
    private readonly reportPath: string;
    private stderr = "";

    /** Starts recording now; `operation` names the record in reports/. The credentials go to 0600 files in workDir. */
    constructor(readonly operation: string, access: ClusterAccess, workDir: string, limits: RecorderLimits) {
        const dir = fs.mkdtempSync(path.join(workDir, `lincheck-${operation.replace(/\W+/g, "-")}-`));
        fs.chmodSync(dir, 0o700);
        const client = adminClientFiles(dir, { ...access });
        this.reportPath = path.join(dir, "report.json");
        this.child = spawn(lincheckBinary(), ["run", "--endpoints", access.clientEndpoints.join(","),
            "--cacert", client.ca, "--cert", client.cert, "--key", client.key, "--history", path.join(dir, "history.json"), "--report", this.reportPath,
            "--duration", `${limits.maxSeconds}s`, "--max-ops", String(limits.maxOps),
            "--clients", String(limits.clients ?? 6), "--keys", String(limits.keys ?? 6), "--interval", `${limits.intervalMs ?? 20}ms`],
        { stdio: ["ignore", "ignore", "pipe"] });
        this.child.stderr!.on("data", (d) => { this.stderr += String(d); });
        this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    }

    /** Whether the recorder still runs (it stops by itself at its limits). */
    get running(): boolean {
        return this.child.exitCode === null && this.child.signalCode === null;
    }

    /**
     * Lets it run `tailMs` more, stops it (SIGTERM to its pid), waits for the check; returns and saves the report.
     * Throws when a limit had ended the recording before: the operation was not covered to its end.
     */
    async stop(tailMs = 3000): Promise<LincheckReport> {
        await sleep(tailMs);
        if (this.running) this.child.kill("SIGTERM");
        // Operations in flight finish within their timeout (2 s); the check is bounded by --check-timeout (2 min).
        const timer = setTimeout(() => this.child.kill("SIGKILL"), 4 * 60_000);
        const code = await this.exited.finally(() => clearTimeout(timer));
        if (code !== 0 && code !== 1) throw new Error(`lincheck exited ${code}: ${this.stderr}`);
        const report = JSON.parse(fs.readFileSync(this.reportPath, "utf8")) as LincheckReport;
        saveReport(this.operation, report);
        if (report.stoppedBy !== "signal") {
            throw new Error(`lincheck for ${this.operation} stopped by its ${report.stoppedBy} limit before the operation ended`);
        }
        return report;
    }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The history is linearizable and every kind of operation succeeded during it (a CAS among them). */
export function expectLinearizable(r: LincheckReport): void {
    expect(r.verdict).toBe("linearizable");
    expect(r.byKind.put).toBeGreaterThan(0);
    expect(r.byKind.get).toBeGreaterThan(0);
    expect(r.casSucceeded).toBeGreaterThan(0);
}

function saveReport(operation: string, r: LincheckReport): void {
    appendReport("linearizability", {
        operation, at: new Date().toISOString(), verdict: r.verdict, operations: r.operations, successes: r.successes,
        failures: r.failures, unknowns: r.unknowns, longestUnavailableSeconds: r.longestUnavailableSeconds,
        latencyMs: r.latencyMs, durationSeconds: r.durationSeconds, ...(r.visualization ? { visualization: r.visualization } : {}),
    });
    process.stdout.write(`[linearizability] ${operation}: ${r.verdict}; ${r.operations} operations, ${r.successes} ok, ` +
        `${r.failures} failed, ${r.unknowns} unknown; longest unavailable ${r.longestUnavailableSeconds.toFixed(2)} s; ` +
        `latency p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms; over ${r.durationSeconds.toFixed(1)} s\n`);
}
