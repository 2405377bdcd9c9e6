// Runs the real shellcheck over a rendered script; returns its findings ("" when clean).
import { spawnSync } from "child_process";

export function shellcheck(script: string): string {
    const r = spawnSync("shellcheck", ["--severity=style", "--shell=bash", "-"], { input: script, encoding: "utf8" });
    if (r.error) throw new Error(`shellcheck could not run (install it: apt-get install shellcheck): ${r.error.message}`);
    return r.status === 0 ? "" : `${r.stdout}${r.stderr}`;
}
