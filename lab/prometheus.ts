// A real Prometheus for the e2e tests (Debian's package, extracted by scripts/lab/prometheus.sh): started in
// the background with a config, rules and file_sd targets in its own directory, asked through its HTTP API,
// stopped by its pid.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./pulumi";
import { mustRun } from "./run";

export interface PrometheusOptions {
    /** Its directory: config, rules, targets, data and log. */
    dir: string;
    /** A free loopback port for its API. */
    port: number;
    /** file_sd target groups (the component's `prometheusTargets`). */
    targets: unknown;
    /** A rule file's text. */
    rules: string;
    /** Scrape and rule evaluation interval, in seconds (short, so that tests wait seconds, not minutes). */
    intervalSeconds: number;
}

export interface PromAlert { labels: Record<string, string>; state: "pending" | "firing" }
export interface PromTarget { labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }

export class Prometheus {
    readonly url: string;
    private readonly child: ChildProcess;
    readonly log: string;

    constructor(opts: PrometheusOptions) {
        const bin = path.join(mustRun("bash", [path.join(REPO_ROOT, "scripts/lab/prometheus.sh"), "install"]).stdout.trim(), "prometheus");
        fs.mkdirSync(opts.dir, { recursive: true });
        fs.writeFileSync(path.join(opts.dir, "targets.json"), JSON.stringify(opts.targets));
        fs.writeFileSync(path.join(opts.dir, "rules.yml"), opts.rules);
        const interval = `${opts.intervalSeconds}s`;
        fs.writeFileSync(path.join(opts.dir, "prometheus.yml"), JSON.stringify({ // JSON is YAML
            global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
            rule_files: [path.join(opts.dir, "rules.yml")],
            scrape_configs: [{ job_name: "etcd", file_sd_configs: [{ files: [path.join(opts.dir, "targets.json")] }] }],
        }));
        this.log = path.join(opts.dir, "prometheus.log");
        const out = fs.openSync(this.log, "w");
        const child = spawn(bin, [`--config.file=${path.join(opts.dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(opts.dir, "data")}`,
            `--web.listen-address=127.0.0.1:${opts.port}`], { detached: true, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        child.unref();
        if (child.pid === undefined) throw new Error(`prometheus did not start; see ${this.log}`);
        this.child = child;
        this.url = `http://127.0.0.1:${opts.port}`;
    }

    private async api<T>(what: string): Promise<T> {
        const res = await fetch(`${this.url}/api/v1/${what}`, { signal: AbortSignal.timeout(5000) });
        const body = await res.json() as { status: string; data: T };
        if (body.status !== "success") throw new Error(`prometheus ${what}: ${JSON.stringify(body)}`);
        return body.data;
    }

    /** The active scrape targets, or [] while it does not answer yet. */
    async targets(): Promise<PromTarget[]> {
        try { return (await this.api<{ activeTargets: PromTarget[] }>("targets")).activeTargets; } catch { return []; }
    }

    /** The pending and firing alerts (a resolved alert is no longer listed). */
    async alerts(): Promise<PromAlert[]> {
        return (await this.api<{ alerts: PromAlert[] }>("alerts")).alerts;
    }

    async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
        return (await this.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`query?query=${encodeURIComponent(expr)}`)).result;
    }

    /** Whether it still runs. */
    running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

    /** Stop it by its pid (SIGTERM, then SIGKILL after 10 s); safe to call twice. */
    async stop(): Promise<void> {
        // Its own exit status, not kill(pid, 0): a pid may be reused once it has exited.
        const alive = () => this.running();
        if (!alive()) return;
        this.child.kill("SIGTERM");
        for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 200));
        if (alive()) this.child.kill("SIGKILL");
    }
}
