// The CI workflows users copy (.github/workflows): linted with actionlint (built from its Go module by
// scripts/lab/go-tools.sh; it runs shellcheck on every `run:` block too), then checked for what they promise:
// preview on pull requests with the result as a PR comment, up on main, Pulumi's official action with inputs it
// has, every credential from the secret store, and the versions pinned in versions.json.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { load } from "js-yaml";
import { REPO_ROOT } from "../../lab/pulumi";
import { mustRun, run } from "../../lab/run";

const WORKFLOWS = path.join(REPO_ROOT, ".github/workflows");
const ACTION = "pulumi/actions@v7";
/** The inputs of pulumi/actions v7.0.0 (action.yml at commit 8e5e406f4007fca908480587cb9893c07090f58d). actionlint
 * knows the inputs of v6 but not yet of v7, so they are checked here; v7 changed only the runtime (Node 24). */
const ACTION_INPUTS = [
    "always-include-summary", "cloud-url", "color", "command", "comment-on-pr", "comment-on-pr-number", "comment-on-summary",
    "config-map", "continue-on-error", "debug", "diff", "edit-pr-comment", "exclude", "exclude-dependents", "exclude-protected",
    "expect-no-changes", "github-token", "log-flow", "log-verbosity", "message", "parallel", "plan", "policyPackConfigs",
    "policyPacks", "pulumi-version", "pulumi-version-file", "refresh", "remove", "replace", "secrets-provider", "stack-name",
    "suppress-outputs", "suppress-progress", "target", "target-dependents", "upsert", "work-dir",
];

let actionlint: string;
const workflow = (name: string) => load(fs.readFileSync(path.join(WORKFLOWS, name), "utf8")) as any;
const steps = (wf: any) => Object.values(wf.jobs).flatMap((job: any) => job.steps);
const pulumiStep = (wf: any) => {
    const found = steps(wf).filter((s: any) => String(s.uses ?? "").startsWith("pulumi/actions@"));
    expect(found).toHaveLength(1);
    return found[0];
};

beforeAll(() => {
    actionlint = mustRun("bash", [path.join(REPO_ROOT, "scripts/lab/go-tools.sh"), "actionlint"]).stdout.trim();
}, 600_000);

describe("the CI workflows", () => {
    it("pass actionlint (with shellcheck on their scripts)", () => {
        const files = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(WORKFLOWS, f));
        expect(files.map((f) => path.basename(f)).sort()).toEqual(["drift.yml", "preview.yml", "up.yml"]);
        expect(run("shellcheck", ["--version"]).status).toBe(0); // so that actionlint checks the run: blocks
        const r = run(actionlint, ["-color=false", ...files], { cwd: REPO_ROOT });
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });

    it("actionlint is real: it rejects a broken copy", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "actionlint-"));
        try {
            const broken = fs.readFileSync(path.join(WORKFLOWS, "preview.yml"), "utf8")
                .replace(ACTION, "pulumi/actions@v6")                  // v6: inputs known to actionlint
                .replace("comment-on-pr: true", "comment-on-pr: true\n          comment-on-pull-request: true")
                .replace("${{ vars.PULUMI_STACK || 'dev' }}", "${{ var.PULUMI_STACK }}");
            fs.writeFileSync(path.join(dir, "preview.yml"), broken);
            const r = run(actionlint, ["-color=false", path.join(dir, "preview.yml")]);
            expect(r.status).toBe(1);
            expect(r.stdout).toContain(`input "comment-on-pull-request" is not defined in action "pulumi/actions@v6"`);
            expect(r.stdout).toContain(`undefined variable "var"`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("preview.yml: pull requests, pulumi preview posted as a comment", () => {
        const wf = workflow("preview.yml");
        expect(Object.keys(wf.on)).toEqual(["pull_request"]);
        expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write" });
        const step = pulumiStep(wf);
        expect(step.uses).toBe(ACTION);
        expect(step.with).toMatchObject({ command: "preview", "comment-on-pr": true, "github-token": "${{ secrets.GITHUB_TOKEN }}" });
    });

    it("up.yml: pushes to main and weekly, pulumi up, one at a time and never cancelled", () => {
        const wf = workflow("up.yml");
        expect(wf.on.push).toEqual({ branches: ["main"] });
        expect(wf.on.schedule).toEqual([{ cron: "23 5 * * 1" }]); // renews certificates nobody pushes for
        expect(wf.permissions).toEqual({ contents: "read" });
        expect(wf.concurrency["cancel-in-progress"]).toBe(false);
        const step = pulumiStep(wf);
        expect(step.uses).toBe(ACTION);
        expect(step.with.command).toBe("up");
    });

    it.each(["preview.yml", "up.yml"])("%s: type-checks the program before pulumi runs it (Pulumi.yaml has it transpiled only)", (name) => {
        const wf = workflow(name);
        const all = steps(wf);
        const check = all.findIndex((s: any) => s.run === "npx tsc -p tsconfig.json --noEmit");
        expect(check).toBeGreaterThanOrEqual(0);
        expect(check).toBeLessThan(all.indexOf(pulumiStep(wf)));
    });

    it("drift.yml: on a schedule, pulumi preview --refresh --expect-no-changes, never beside an up of the stack", () => {
        const wf = workflow("drift.yml");
        expect(Object.keys(wf.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
        expect(wf.on.schedule[0].cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
        expect(wf.permissions).toEqual({ contents: "read" });
        expect(wf.concurrency.group).toBe(workflow("up.yml").concurrency.group);
        expect(pulumiStep(wf).with).toMatchObject({ command: "preview", refresh: true, "expect-no-changes": true });
    });

    it.each(["preview.yml", "up.yml", "drift.yml"])("%s: known inputs, credentials from secrets, pinned versions, the same stack", (name) => {
        const wf = workflow(name);
        const step = pulumiStep(wf);
        expect(Object.keys(step.with).filter((k) => !ACTION_INPUTS.includes(k))).toEqual([]);
        expect(step.with["stack-name"]).toBe("${{ vars.PULUMI_STACK || 'dev' }}");
        expect(step.env).toEqual({
            HCLOUD_TOKEN: "${{ secrets.HCLOUD_TOKEN }}",
            PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}",
            PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        });
        // No credential in clear anywhere: every env value in the file is an expression.
        const text = fs.readFileSync(path.join(WORKFLOWS, name), "utf8");
        for (const m of text.matchAll(/^\s+([A-Z_]*(TOKEN|PASSPHRASE|KEY)[A-Z_]*):\s*(.*)$/gm)) {
            expect(`${m[1]}: ${m[3]}`).toMatch(/: \$\{\{ secrets\.[A-Z_]+ \}\}$/);
        }
        // Node and the Pulumi CLI come from versions.json, like everywhere else in the project.
        expect(step.with["pulumi-version"]).toBe("${{ steps.versions.outputs.pulumi }}");
        const read = steps(wf).find((s: any) => s.id === "versions");
        expect(read.run).toContain("jq -r .pulumi versions.json");
        expect(read.run).toContain("jq -r .node versions.json");
        expect(steps(wf).find((s: any) => String(s.uses).startsWith("actions/setup-node@")).with["node-version"])
            .toBe("${{ steps.versions.outputs.node }}");
        expect(steps(wf).some((s: any) => s.run === "npm ci --no-audit --no-fund")).toBe(true);
    });
});
