// Every script a user or a test runs answers --help with its header and exit status 0, and does nothing else
// (local-up.sh once started a root install on --help).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../lab/pulumi";

const scripts = ["scripts", "scripts/lab"].flatMap((dir) => fs.readdirSync(path.join(REPO_ROOT, dir))
    .filter((f) => f.endsWith(".sh") && f !== "env.sh") // env.sh is sourced, not run
    .map((f) => `${dir}/${f}`));

describe("--help", () => {
    it("finds the scripts", () => expect(scripts).toEqual(expect.arrayContaining(["scripts/local-up.sh", "scripts/restore.sh", "scripts/lab/go-tools.sh"])));
    it.each(scripts)("%s prints its help and exits 0", (script) => {
        const r = spawnSync("bash", [path.join(REPO_ROOT, script), "--help"], { encoding: "utf8", timeout: 20_000, input: "" });
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(r.stdout.split("\n").length).toBeGreaterThan(2);
    });
});
