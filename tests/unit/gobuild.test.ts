// scripts/lib/gobuild.sh: a build cached by name and key, built once even when several runs ask at the same
// time (the CI setup builds tools in the background while tests that need them start).
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../lab/pulumi";

describe("go_cached", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gobuild-"));
    const script = (fail: boolean) => `set -euo pipefail
source scripts/lib/cache.sh
source scripts/lib/gobuild.sh
build() { echo build >>"$RUNS"; sleep 1; ${fail ? "return 1" : 'echo ok >"$1/tool"'}; }
check() { [[ -s $1/tool ]]; }
go_cached demo "$KEY" check build`;
    const run = (key: string, fail = false) => new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn("bash", ["-c", script(fail)], { cwd: REPO_ROOT, env: { ...process.env, ETCD_CLUSTER_CACHE: path.join(dir, "cache"), RUNS: path.join(dir, `runs-${key}`), KEY: key } });
        let stdout = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.on("close", (status) => resolve({ status, stdout }));
    });
    const runs = (key: string) => fs.readFileSync(path.join(dir, `runs-${key}`), "utf8").split("\n").filter(Boolean).length;

    it("builds once for three runs at the same time; each prints the finished directory", async () => {
        const results = await Promise.all([run("k1"), run("k1"), run("k1")]);
        const built = path.join(dir, "cache/bin/demo-k1");
        expect(results).toEqual(Array(3).fill({ status: 0, stdout: `${built}\n` }));
        expect(runs("k1")).toBe(1);
        expect(fs.readFileSync(path.join(built, "tool"), "utf8")).toBe("ok\n");
        expect(await run("k1")).toEqual({ status: 0, stdout: `${built}\n` });
        expect(runs("k1")).toBe(1);
    });

    it("leaves nothing behind when the build fails, and the next run builds", async () => {
        expect((await run("k2", true)).status).toBe(1);
        expect(fs.existsSync(path.join(dir, "cache/bin/demo-k2"))).toBe(false);
        expect((await run("k2")).status).toBe(0);
        expect(runs("k2")).toBe(2);
    });
});
