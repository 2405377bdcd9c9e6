// The records end-to-end tests save under reports/, and the README tables generated from them.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../lab/pulumi";
import { appendReport, LinearizabilityRecord, linearizabilityTable, readReports, ReliabilityRecord, reliabilityTable, withFigures } from "../../lab/reports";

const lin = (operation: string, over: Partial<LinearizabilityRecord> = {}): LinearizabilityRecord => ({
    operation, at: "2026-11-30T07:00:00.000Z", verdict: "linearizable", operations: 2000, successes: 1990, failures: 3, unknowns: 7,
    longestUnavailableSeconds: 1.234, latencyMs: { p50: 7.81, p99: 69.04, max: 900 }, durationSeconds: 20, ...over,
});
const rel = (operation: string, over: Partial<ReliabilityRecord> = {}): ReliabilityRecord => ({
    operation, members: 3, attempted: 700, acknowledged: 698, failed: 2, lost: 0, lagging: [], stoppedBy: "stop-file",
    longestOutageSeconds: 1.5, durationSeconds: 30.04, ...over,
});
const README = "# x\n<!-- figures:linearizability -->\nold\n<!-- /figures:linearizability -->\ntext\n<!-- figures:reliability -->\n<!-- /figures:reliability -->\n";

describe("reports and the README's figures", () => {
    it("appends records and reads them back", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reports-"));
        appendReport("reliability", rel("a"), dir);
        appendReport("reliability", rel("b"), dir);
        expect(readReports("reliability", dir).map((r) => r.operation)).toEqual(["a", "b"]);
        expect(readReports("linearizability", dir)).toEqual([]);
    });

    it("shows the newest record of each operation, in first-seen order, and marks what failed", () => {
        const table = linearizabilityTable([lin("pause"), lin("kill"), lin("pause", { operations: 3000 }), lin("old snapshot | restored", { verdict: "not linearizable" })]);
        expect(table.split("\n").slice(2)).toEqual([
            "| pause | 3000 | 3 / 7 | linearizable | 1.23 s | 7.8 / 69.0 ms |",
            "| kill | 2000 | 3 / 7 | linearizable | 1.23 s | 7.8 / 69.0 ms |",
            "| old snapshot \\| restored | 2000 | 3 / 7 | **not linearizable** | 1.23 s | 7.8 / 69.0 ms |",
        ]);
        expect(reliabilityTable([rel("roll"), rel("upgrade", { lost: 2, lagging: ["etcd-3"], stoppedBy: "max-writes" })]).split("\n").slice(2)).toEqual([
            "| roll | 3 | 698 / 700 | 0 | none | 1.50 s | 30.0 s |",
            "| upgrade | 3 | 698 / 700 | **2** | etcd-3 | 1.50 s | 30.0 s (cut by max-writes) |",
        ]);
    });

    it("replaces only what is between the markers, and never writes a table of nothing", () => {
        const out = withFigures(README, { linearizability: "T1", reliability: "T2" });
        expect(out).toBe("# x\n<!-- figures:linearizability -->\nT1\n<!-- /figures:linearizability -->\ntext\n<!-- figures:reliability -->\nT2\n<!-- /figures:reliability -->\n");
        expect(withFigures(out, { linearizability: "T1", reliability: "T2" })).toBe(out);
        expect(() => withFigures("# no markers", { linearizability: "T1", reliability: "T2" })).toThrow("the README has no <!-- figures:linearizability -->");
        expect(() => withFigures(README, { linearizability: undefined, reliability: "T2" })).toThrow("reports/linearizability.json has no records");
    });

    it("runs as npm run readme:figures, and the repository's README has both sections", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reports-cli-"));
        appendReport("linearizability", lin("pause"), dir);
        appendReport("reliability", rel("roll"), dir);
        const readme = path.join(dir, "README.md");
        fs.writeFileSync(readme, README);
        const cli = (file: string) => spawnSync(process.execPath, [path.join(REPO_ROOT, "lab/run-ts.cjs"), path.join(REPO_ROOT, "lab/reports.ts"), file],
            { encoding: "utf8", env: { ...process.env, REPORTS_DIR: dir } });
        const r = cli(readme);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(fs.readFileSync(readme, "utf8")).toContain("| pause | 2000 | 3 / 7 | linearizable |");
        expect(fs.readFileSync(readme, "utf8")).toContain("| roll | 3 | 698 / 700 | 0 |");
        const bad = path.join(dir, "NO-MARKERS.md");
        fs.writeFileSync(bad, "# nothing\n");
        expect(cli(bad)).toMatchObject({ status: 1, stderr: "the README has no <!-- figures:linearizability --> ... <!-- /figures:linearizability --> section\n" });
        const repoReadme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
        expect(() => withFigures(repoReadme, { linearizability: "", reliability: "" })).not.toThrow();
    });
});
