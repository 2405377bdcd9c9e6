// promtool (Debian's prometheus package, extracted and cached by scripts/lab/prometheus.sh), for the tests
// of the alert rules and of the metric files the maintenance tools write.
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as path from "path";

const ROOT = path.join(__dirname, "../..");
let binary: string | undefined;

function promtoolBinary(): string {
    if (binary) return binary;
    const r = spawnSync("bash", [path.join(ROOT, "scripts/lab/prometheus.sh"), "install"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`scripts/lab/prometheus.sh install failed: ${r.stderr}`);
    binary = path.join(r.stdout.trim(), "promtool");
    return binary;
}

/** Runs promtool with `args`, `input` on its stdin (e.g. `check metrics`). */
export function promtool(args: string[], input?: string): SpawnSyncReturns<string> {
    return spawnSync(promtoolBinary(), args, { encoding: "utf8", input });
}
