// The component as a package, the way other programs get it: `npm pack` of a scratch copy of the repository,
// the tarball installed into a scratch TypeScript program that type-checks against the declarations and
// previews on the real engine; then the multi-language package (examples/multi-language) over the same
// tarball, added to a Pulumi YAML program with `pulumi package add` and previewed on the real engine.
// Previews are offline: a dummy Hetzner token and an API endpoint on loopback that nothing answers.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { load } from "js-yaml";
import { REPO_ROOT } from "../../lab/pulumi";
import { logStep, mustRun, run, RunResult } from "../../lab/run";

const TOKEN = "7e57ab".repeat(10) + "cdef"; // 64 characters, recognisable if it ever leaked
const TSC = path.join(REPO_ROOT, "node_modules/.bin/tsc");
const versions = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "versions.json"), "utf8"));
const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
/** Newer than versions.pulumi and inside the package's range for @pulumi/pulumi (from the npm registry). */
const CONSUMER_PULUMI_SDK = "3.270.0";

let work: string;
let tarball: string;
let env: NodeJS.ProcessEnv;

function pulumi(cwd: string, args: string[], allowFailure = false): RunResult {
    const r = run("pulumi", [...args, "--non-interactive"], { cwd, env });
    if (r.status !== 0 && !allowFailure) {
        throw new Error(`pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout.slice(-8000)}\n--- stderr\n${r.stderr.slice(-6000)}`);
    }
    return r;
}

/** npm install from the registry's packages already in the local cache where it can; a few seconds. */
function npmInstall(cwd: string, ...args: string[]): void {
    const r = mustRun("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...args], { cwd, env });
    logStep(`npm install in ${path.basename(cwd)}`, r.seconds);
}

interface Step { op: string; urn: string; newState?: { type: string; inputs: any } }
const typeOf = (s: Step) => s.newState?.type ?? s.urn.split("::")[2];
const ofType = (steps: Step[], type: string) => steps.filter((s) => typeOf(s) === type);

beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-package-"));
    const src = path.join(work, "src");
    for (const f of ["package.json", "README.md", "LICENSE", "CHANGELOG.md", "tsconfig.json", "tsconfig.build.json", "versions.json", "components"]) {
        fs.cpSync(path.join(REPO_ROOT, f), path.join(src, f), { recursive: true });
    }
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(src, "node_modules"));
    fs.mkdirSync(path.join(work, "state"));
    env = {
        ...process.env,
        PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "package-test-passphrase",
        PULUMI_SKIP_UPDATE_CHECK: "1",
        HCLOUD_TOKEN: TOKEN,
        HCLOUD_ENDPOINT: "http://127.0.0.1:9/v1",
    };
    const r = mustRun("npm", ["pack", "--json", "--pack-destination", work], { cwd: src, env });
    logStep("npm pack (prepack builds dist/)", r.seconds);
    tarball = path.join(work, JSON.parse(r.stdout.slice(r.stdout.indexOf("[")))[0].filename);
}, 120_000);
afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("npm pack", () => {
    it("holds the compiled component, its declarations and versions.json, and nothing else", () => {
        const files = mustRun("tar", ["-tzf", tarball]).stdout.trim().split("\n").map((f) => f.replace(/^package\//, "")).sort();
        const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|components\/etcd-cluster\/README\.md|dist\/versions\.json|dist\/components\/etcd-cluster\/([a-z-]+\/)*[a-z-]+\.(js|d\.ts))$/;
        expect(files.filter((f) => !allowed.test(f))).toEqual([]);
        for (const f of ["LICENSE", "CHANGELOG.md", "dist/components/etcd-cluster/index.js", "dist/components/etcd-cluster/index.d.ts",
            "dist/components/etcd-cluster/args.d.ts", "dist/versions.json", "components/etcd-cluster/README.md"]) {
            expect(files).toContain(f);
        }
        expect(files.some((f) => /test|\.ts$/.test(f.replace(/\.d\.ts$/, "")))).toBe(false);
    });
});

describe("a TypeScript program that installs the tarball", () => {
    let dir: string;
    beforeAll(() => {
        dir = path.join(work, "ts-consumer");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({
            name: "etcd-consumer", private: true,
            // A consumer's own pins, not ours: a newer Pulumi SDK inside our range, and the providers at the
            // versions whose plugins the toolchain mirror holds.
            dependencies: {
                "@pulumi/pulumi": CONSUMER_PULUMI_SDK,
                ...Object.fromEntries(Object.entries(versions.plugins).map(([name, v]) => [`@pulumi/${name}`, v])),
            },
            // As in Pulumi's TypeScript template: without its own typescript, Pulumi falls back to a vendored 3.8.
            devDependencies: { "typescript": pkg.devDependencies.typescript, "@types/node": pkg.devDependencies["@types/node"] },
        }));
        npmInstall(dir, tarball);
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: etcd-consumer\nmain: index.ts\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
            compilerOptions: { strict: true, target: "es2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, types: ["node"] },
            include: ["index.ts"],
        }));
        fs.writeFileSync(path.join(dir, "index.ts"), [
            `import * as pulumi from "@pulumi/pulumi";`,
            `import { EtcdCluster, EtcdClusterArgs, EtcdClusterArgsError, defaults } from "${pkg.name}";`,
            `const args: EtcdClusterArgs = { memberCount: 3, hcloud: { location: "fsn1", networkZone: "eu-central", subnetCidr: "10.1.1.0/24", sshAllowedCidrs: ["203.0.113.0/24"] } };`,
            `const etcd = new EtcdCluster("etcd", args);`,
            `export const etcdServers: pulumi.Output<string[]> = etcd.clientEndpoints;`,
            `export const etcdCa: pulumi.Output<string> = etcd.caCertificate;`,
            `export const etcdKey: pulumi.Output<string> = etcd.kubeApiserverClientKey;`,
            `export const defaultEtcd: string = defaults.release.version;`,
            `export const errorName = new EtcdClusterArgsError("x").name;`,
            // The declarations are real types, not `any`: each of these must be a type error, or tsc fails
            // with "Unused '@ts-expect-error' directive".
            `export function typeErrors() {`,
            `    // @ts-expect-error memberCount is a number`,
            `    new EtcdCluster("bad", { memberCount: "3", hcloud: {} });`,
            `    // @ts-expect-error no such argument`,
            `    new EtcdCluster("bad", { memberCunt: 3, hcloud: {} });`,
            `    // @ts-expect-error an output is not a plain string`,
            `    const s: string = etcd.caCertificate;`,
            `    return s;`,
            `}`,
        ].join("\n"));
    }, 180_000);

    it("installs with the consumer's own versions of the Pulumi packages (the package asks for ranges)", () => {
        const installed = (name: string) => JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8")).version;
        expect(installed("@pulumi/pulumi")).toBe(CONSUMER_PULUMI_SDK);
        expect(CONSUMER_PULUMI_SDK).not.toBe(versions.pulumi);
        // One copy of the SDK: the package's range admitted the consumer's version instead of nesting its own.
        expect(fs.existsSync(path.join(dir, "node_modules", pkg.name, "node_modules/@pulumi/pulumi"))).toBe(false);
    });

    it("type-checks against the package's declarations (strict)", () => {
        mustRun(path.join(dir, "node_modules/.bin/tsc"), ["-p", path.join(dir, "tsconfig.json"), "--noEmit"]);
    }, 60_000);

    it("can import only the entry point, and the package reads its own versions.json", () => {
        const probe = (code: string) => run("node", ["-e", code], { cwd: dir, env });
        const main = probe(`const p = require("${pkg.name}"); console.log(JSON.stringify({ c: typeof p.EtcdCluster, v: p.defaults.release.version }))`);
        expect(main.stderr).toBe("");
        expect(JSON.parse(main.stdout)).toEqual({ c: "function", v: versions.etcd.default });
        const deep = probe(`require("${pkg.name}/dist/components/etcd-cluster/pki")`);
        expect(deep.status).not.toBe(0);
        expect(deep.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
    });

    it("previews on the real engine: the component and its 3 members' resources, no secret in the output", () => {
        pulumi(dir, ["stack", "init", "dev", "--secrets-provider", "passphrase"]);
        const r = pulumi(dir, ["preview", "--json", "--stack", "dev"]);
        logStep("TypeScript consumer of the tarball: pulumi preview", r.seconds);
        const steps: Step[] = JSON.parse(r.stdout).steps;
        expect(steps.every((s) => s.op === "create")).toBe(true);
        expect(ofType(steps, "etcd-cluster:index:EtcdCluster").map((s) => s.urn)).toEqual(["urn:pulumi:dev::etcd-consumer::etcd-cluster:index:EtcdCluster::etcd"]);
        const servers = ofType(steps, "hcloud:index/server:Server").map((s) => s.newState!.inputs);
        expect(servers.map((s) => s.networks[0].ip).sort()).toEqual(["10.1.1.11", "10.1.1.12", "10.1.1.13"]);
        expect(servers.every((s) => s.location === "fsn1")).toBe(true);
        expect(ofType(steps, "command:remote:Command").length).toBeGreaterThanOrEqual(2 * 3 + 1);
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
        expect(r.stdout + r.stderr).not.toContain("PRIVATE KEY");
    }, 180_000);
});

describe("Pulumi YAML through the multi-language package (examples/multi-language)", () => {
    let plugin: string;
    let program: string;
    beforeAll(() => {
        // Pulumi YAML's language host, built from its Go module (the release mirror has only Node.js's).
        const yamlHost = mustRun("bash", [path.join(REPO_ROOT, "scripts/lab/go-tools.sh"), "pulumi-language-yaml"], { env }).stdout.trim();
        env = { ...env, PATH: `${path.dirname(yamlHost)}:${env.PATH}` };
        const root = path.join(work, "multi-language");
        fs.cpSync(path.join(REPO_ROOT, "examples/multi-language"), root, { recursive: true });
        plugin = path.join(root, "etcd-cluster-plugin");
        program = path.join(root, "yaml");
        npmInstall(plugin, tarball); // the package from the tarball instead of the repository checkout
        // Drop the `packages:` entry, so that `pulumi package add` is what puts it back.
        const project = fs.readFileSync(path.join(program, "Pulumi.yaml"), "utf8");
        fs.writeFileSync(path.join(program, "Pulumi.yaml"), project.replace(/^packages:\n( .*\n)+/m, ""));
    }, 600_000);

    it("the package's arguments and outputs match the TypeScript component's (tsc, strict)", () => {
        mustRun(TSC, ["-p", path.join(plugin, "tsconfig.json"), "--noEmit"]);
    }, 60_000);

    it("pulumi package add finds the component and adds the package", () => {
        expect((load(fs.readFileSync(path.join(program, "Pulumi.yaml"), "utf8")) as any).packages).toBeUndefined();
        const r = pulumi(program, ["package", "add", "../etcd-cluster-plugin"]);
        logStep("pulumi package add (schema from the TypeScript types)", r.seconds);
        expect((load(fs.readFileSync(path.join(program, "Pulumi.yaml"), "utf8")) as any).packages).toEqual({ "etcd-cluster": "../etcd-cluster-plugin" });
        const schema = JSON.parse(pulumi(program, ["package", "get-schema", "../etcd-cluster-plugin"]).stdout);
        const component = schema.resources["etcd-cluster:index:EtcdCluster"];
        expect(component.isComponent).toBe(true);
        expect(Object.keys(component.inputProperties)).toEqual(expect.arrayContaining(["memberCount", "hcloud", "existingHosts", "sshPrivateKey", "tuning", "pki"]));
        expect(Object.keys(component.properties)).toEqual(expect.arrayContaining(["clientEndpoints", "caCertificate", "kubeApiserverClientCertificate", "kubeApiserverClientKey"]));
        expect(schema.types["etcd-cluster:index:HcloudHostsArgs"].properties.labels.additionalProperties.type).toBe("string");
    }, 300_000);

    it("a YAML program previews the cluster on the real engine", () => {
        pulumi(program, ["stack", "init", "dev", "--secrets-provider", "passphrase"]);
        const r = pulumi(program, ["preview", "--json", "--stack", "dev"]);
        logStep("YAML consumer: pulumi preview", r.seconds);
        const steps: Step[] = JSON.parse(r.stdout).steps;
        expect(ofType(steps, "etcd-cluster:index:EtcdCluster").map((s) => s.urn).sort()).toEqual([
            "urn:pulumi:dev::etcd-cluster-yaml::etcd-cluster:index:EtcdCluster$etcd-cluster:index:EtcdCluster::etcd",
            "urn:pulumi:dev::etcd-cluster-yaml::etcd-cluster:index:EtcdCluster::etcd",
        ]);
        const servers = ofType(steps, "hcloud:index/server:Server").map((s) => s.newState!.inputs);
        expect(servers.map((s) => s.networks[0].ip).sort()).toEqual(["10.1.1.11", "10.1.1.12", "10.1.1.13"]);
        expect(servers.map((s) => s.labels.team)).toEqual(["platform", "platform", "platform"]);
        expect(ofType(steps, "tls:index/locallySignedCert:LocallySignedCert").length).toBeGreaterThanOrEqual(2 * 3 + 3);
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
    }, 300_000);

    it("the component's validation reaches the YAML user", () => {
        pulumi(program, ["config", "set", "memberCount", "4", "--stack", "dev"]);
        const r = pulumi(program, ["preview", "--stack", "dev"], true);
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toContain("memberCount must be odd to keep a majority (got 4); use 3 or 5.");
    }, 300_000);
});
