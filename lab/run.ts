// Runs commands for integration and end-to-end tests, with timings and captured output.
import { spawnSync, SpawnSyncOptions } from "child_process";

export interface RunResult {
    status: number;
    stdout: string;
    stderr: string;
    seconds: number;
}

export function run(cmd: string, args: string[], opts: SpawnSyncOptions & { input?: string } = {}): RunResult {
    const started = Date.now();
    const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, timeout: 20 * 60 * 1000, ...opts });
    if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
    return { status: r.status ?? -1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? ""), seconds: (Date.now() - started) / 1000 };
}

/** Runs and throws with the command's output when it fails. */
export function mustRun(cmd: string, args: string[], opts: SpawnSyncOptions & { input?: string } = {}): RunResult {
    const r = run(cmd, args, opts);
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout.slice(-8000)}\n--- stderr\n${r.stderr.slice(-8000)}`);
    }
    return r;
}

/** Prints a step's duration so test logs carry the figures. */
export function logStep(label: string, seconds: number): void {
    process.stdout.write(`[timing] ${label}: ${seconds.toFixed(1)} s\n`);
}
