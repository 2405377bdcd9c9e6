// Drives the real Pulumi CLI against a throwaway local file backend, one stack per test.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dump, load } from "js-yaml";
import { logStep, mustRun, run, RunResult } from "./run";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** What a copy of the program needs from the repository (node_modules is linked, not copied). */
const PROGRAM_FILES = ["Pulumi.yaml", "index.ts", "components", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "versions.json", "tests/integration"];

export interface StackOptions {
    /** Folder holding Pulumi.yaml, relative to the repository root. @default "" (the real program) */
    projectDir?: string;
    /** Copy this folder (absolute) as the program instead of the repository's program files. */
    programSource?: string;
    stack: string;
    /** Stack configuration. */
    config: Record<string, unknown>;
    /** Keys of `config` to store as secrets. */
    secretKeys?: string[];
    env?: Record<string, string>;
}

export class TestStack {
    /** A scratch copy of the program with the state backend beside it, so the clone stays clean. */
    readonly dir: string;
    readonly env: NodeJS.ProcessEnv;
    readonly projectDir: string;
    /** Everything the engine printed, to search for leaked secrets. */
    engineLog = "";

    constructor(private readonly opts: StackOptions) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `pulumi-${opts.stack}-`));
        fs.mkdirSync(path.join(this.dir, "state"));
        const copy = path.join(this.dir, "program");
        if (opts.programSource) fs.cpSync(opts.programSource, copy, { recursive: true });
        else for (const f of PROGRAM_FILES) fs.cpSync(path.join(REPO_ROOT, f), path.join(copy, f), { recursive: true });
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(copy, "node_modules"));
        this.projectDir = path.join(copy, opts.projectDir ?? "");
        this.env = {
            ...process.env,
            PULUMI_BACKEND_URL: `file://${path.join(this.dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "test-passphrase",
            PULUMI_SKIP_UPDATE_CHECK: "1",
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            ...opts.env,
        };
        const secretKeys = opts.secretKeys ?? [];
        this.setConfig(Object.fromEntries(Object.entries(opts.config).filter(([k]) => !secretKeys.includes(k))));
        this.pulumi(["stack", "init", "--secrets-provider", "passphrase"]);
        this.setConfig(opts.config, secretKeys);
    }

    /**
     * Sets configuration by editing the stack's config file (so lists and maps keep their types; the CLI's
     * `--path` would turn "true" into a boolean). Secret values go through `pulumi config set --secret` over
     * stdin, so they are encrypted and never appear in a process list.
     */
    setConfig(config: Record<string, unknown>, secretKeys: string[] = []): void {
        const file = path.join(this.projectDir, `Pulumi.${this.opts.stack}.yaml`);
        const doc = (fs.existsSync(file) ? load(fs.readFileSync(file, "utf8")) : {}) as { config?: Record<string, unknown> };
        const project = (load(fs.readFileSync(path.join(this.projectDir, "Pulumi.yaml"), "utf8")) as { name: string }).name;
        const qualify = (key: string) => (key.includes(":") ? key : `${project}:${key}`);
        doc.config = { ...doc.config };
        for (const [key, value] of Object.entries(config)) {
            if (!secretKeys.includes(key)) doc.config[qualify(key)] = value;
        }
        fs.writeFileSync(file, dump(doc));
        for (const key of secretKeys) {
            this.pulumi(["config", "set", "--secret", qualify(key)], { input: String(config[key]) });
        }
    }

    /** Runs `pulumi <args>` for this stack; returns the result without throwing. */
    tryPulumi(args: string[], opts: { input?: string } = {}): RunResult {
        const r = run("pulumi", [...args, "--stack", this.opts.stack, "--non-interactive"],
            { cwd: this.projectDir, env: this.env, input: opts.input ?? "" });
        this.engineLog += `\n$ pulumi ${args.join(" ")}\n${r.stdout}\n${r.stderr}`;
        return r;
    }

    pulumi(args: string[], opts: { input?: string } = {}): RunResult {
        const r = this.tryPulumi(args, opts);
        if (r.status !== 0) {
            // The engine's diagnostics first: CI logs keep only the head of a long failure message.
            const diagnostics = /\nDiagnostics:\n[\s\S]*?(?=\n(?:Outputs|Resources):|$)/.exec(r.stdout)?.[0].trim() ?? "(none)";
            throw new Error(`pulumi ${args.join(" ")} exited ${r.status} after ${r.seconds.toFixed(1)} s\n--- diagnostics\n${diagnostics.slice(0, 6000)}`
                + `\n--- stderr\n${r.stderr.slice(-4000)}\n--- stdout\n${r.stdout.slice(-12000)}`);
        }
        return r;
    }

    up(label = "pulumi up", extra: string[] = []): RunResult {
        const r = this.pulumi(["up", "--yes", "--skip-preview", "--diff", ...extra]);
        logStep(label, r.seconds);
        return r;
    }

    /** `pulumi preview --json`: the planned steps. */
    previewSteps(): { op: string; urn: string; type?: string }[] {
        const r = this.pulumi(["preview", "--json"]);
        const parsed = JSON.parse(r.stdout);
        return (parsed.steps ?? []).map((s: any) => ({ op: s.op, urn: s.urn, type: s.newState?.type ?? s.oldState?.type }));
    }

    outputs(showSecrets = false): Record<string, any> {
        return JSON.parse(this.pulumi(["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])]).stdout);
    }

    /** `pulumi stack export`; with `showSecrets`, secrets in clear (as an operator takes the CA key to sign a CRL). */
    exportState(showSecrets = false): string {
        return this.pulumi(["stack", "export", ...(showSecrets ? ["--show-secrets"] : [])]).stdout;
    }

    /** What a Command printed in its last run, from the state (its `stdout` output). */
    commandStdout(resourceName: string): string {
        const resources = JSON.parse(this.exportState()).deployment.resources ?? [];
        const r = resources.find((x: any) => x.type === "command:remote:Command" && x.urn.endsWith(`::${resourceName}`));
        if (!r) throw new Error(`no command ${resourceName} in the state`);
        const out = r.outputs?.stdout;
        if (typeof out !== "string") throw new Error(`stdout of ${resourceName} is not plain text in the state`);
        return out;
    }

    destroy(): RunResult {
        const r = this.pulumi(["destroy", "--yes", "--skip-preview"]);
        logStep("pulumi destroy", r.seconds);
        return r;
    }

    /** Removes the stack and its temporary folder; safe after a failed test. */
    dispose(): void {
        this.tryPulumi(["stack", "rm", "--yes", "--force"]);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

export function pulumiAvailable(): boolean {
    return run("pulumi", ["version"]).status === 0;
}

export { mustRun };
