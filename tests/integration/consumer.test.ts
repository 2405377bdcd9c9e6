// The kube-apiserver consumer (examples/kube-apiserver) for real: an etcd stack is deployed in a local file
// backend (examples/kube-apiserver/producer-stand-in: the component's own PKI code with the real tls provider,
// the same output names as the etcd-cluster program, no hosts), then the consumer stack reads it through a
// StackReference on the real engine. Checked: the rendered flags and kubeadm configuration, the key kept a
// secret (outputs, `pulumi stack export`, engine logs), and the rendered files with openssl.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dump } from "js-yaml";
import { REPO_ROOT } from "../../lab/pulumi";
import { logStep, mustRun, run, RunResult } from "../../lab/run";

const ADDRESSES = [
    { privateIp: "10.1.1.11", publicIp: "203.0.113.11" },
    { privateIp: "10.1.1.12", publicIp: "203.0.113.12" },
    { privateIp: "10.1.1.13", publicIp: "203.0.113.13" },
];
const ENDPOINTS = ADDRESSES.map((a) => `https://${a.privateIp}:2379`);

let work: string;
let program: string;
let env: NodeJS.ProcessEnv;
/** What the engine printed during up and preview (not `stack output --show-secrets`, which reveals on purpose). */
let engineLog = "";
const producerDir = () => path.join(program, "examples/kube-apiserver/producer-stand-in");
const consumerDir = () => path.join(program, "examples/kube-apiserver");

/** `pulumi <args> --stack <stack>` in a project folder of the scratch copy; throws on failure unless `allowFailure`. */
function pulumi(cwd: string, stack: string, args: string[], opts: { input?: string; allowFailure?: boolean } = {}): RunResult {
    const r = run("pulumi", [...args, "--stack", stack, "--non-interactive"], { cwd, env, input: opts.input ?? "" });
    if (["up", "preview", "destroy"].includes(args[0])) engineLog += `\n$ pulumi ${args.join(" ")}\n${r.stdout}\n${r.stderr}`;
    if (r.status !== 0 && !opts.allowFailure) {
        throw new Error(`pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout.slice(-8000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
    }
    return r;
}

function initStack(cwd: string, stack: string, config: Record<string, unknown>): void {
    fs.writeFileSync(path.join(cwd, `Pulumi.${stack}.yaml`), dump({ config }));
    pulumi(cwd, stack, ["stack", "init", "--secrets-provider", "passphrase"]);
}

const outputs = (cwd: string, stack: string, showSecrets: boolean) =>
    JSON.parse(pulumi(cwd, stack, ["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])]).stdout);

beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-consumer-"));
    program = path.join(work, "program");
    for (const f of ["components", "versions.json", "tsconfig.json", "package.json", "examples/kube-apiserver"]) {
        fs.cpSync(path.join(REPO_ROOT, f), path.join(program, f), { recursive: true });
    }
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(program, "node_modules"));
    fs.mkdirSync(path.join(work, "state"));
    env = {
        ...process.env,
        PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "consumer-test-passphrase",
        PULUMI_SKIP_UPDATE_CHECK: "1",
        PULUMI_NODEJS_TRANSPILE_ONLY: "true", // types are checked once, below, with tsc
    };
});
afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("examples/kube-apiserver reads an etcd stack through a StackReference", () => {
    let plain: Record<string, any>;
    let revealed: Record<string, any>;
    let producer: Record<string, any>;

    it("type-checks with its own tsconfig (strict)", () => {
        mustRun(path.join(REPO_ROOT, "node_modules/.bin/tsc"), ["-p", path.join(consumerDir(), "tsconfig.json"), "--noEmit"]);
    }, 120_000);

    it("the etcd stack (stand-in) deploys with the real tls provider", () => {
        initStack(producerDir(), "prod", { "etcd-cluster:addresses": ADDRESSES });
        const r = pulumi(producerDir(), "prod", ["up", "--yes", "--skip-preview"]);
        logStep("etcd stand-in: pulumi up", r.seconds);
        producer = outputs(producerDir(), "prod", true);
        expect(producer.clientEndpoints).toEqual(ENDPOINTS);
        expect(outputs(producerDir(), "prod", false).kubeApiserverClientKey).toBe("[secret]");
    }, 300_000);

    it("the consumer stack deploys against it", () => {
        initStack(consumerDir(), "k8s", { "etcd-kube-apiserver:etcdStack": "organization/etcd-cluster/prod" });
        const r = pulumi(consumerDir(), "k8s", ["up", "--yes", "--skip-preview"]);
        logStep("kube-apiserver consumer: pulumi up", r.seconds);
        plain = outputs(consumerDir(), "k8s", false);
        revealed = outputs(consumerDir(), "k8s", true);
    }, 300_000);

    it("renders kube-apiserver's four etcd flags from the etcd stack's outputs", () => {
        expect(plain.etcdFlags).toEqual([
            `--etcd-servers=${ENDPOINTS.join(",")}`,
            "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
            "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
        ]);
        expect(plain.kubeadmClusterConfiguration).toBe([
            "apiVersion: kubeadm.k8s.io/v1beta4",
            "kind: ClusterConfiguration",
            "etcd:",
            "  external:",
            "    endpoints:",
            ...ENDPOINTS.map((e) => `      - ${e}`),
            "    caFile: /etc/kubernetes/pki/etcd/ca.crt",
            "    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt",
            "    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key",
            "",
        ].join("\n"));
    });

    it("renders the files the flags name, with the etcd stack's certificates and key", () => {
        const files = revealed.etcdFiles;
        expect(files.ca).toMatchObject({ path: "/etc/kubernetes/pki/etcd/ca.crt", mode: "0644", content: producer.caCertificate });
        expect(files.cert).toMatchObject({ path: "/etc/kubernetes/pki/apiserver-etcd-client.crt", mode: "0644", content: producer.kubeApiserverClientCertificate });
        expect(files.key).toMatchObject({ path: "/etc/kubernetes/pki/apiserver-etcd-client.key", mode: "0600", content: producer.kubeApiserverClientKey });
        expect(files.key.content).toMatch(/^-----BEGIN (RSA |EC )?PRIVATE KEY-----/);
    });

    it("keeps the key a secret: masked in outputs, encrypted in the state, absent from the engine's output", () => {
        expect(plain.etcdFiles.key.content).toBe("[secret]");
        expect(plain.etcdFiles.cert.content).toMatch(/^-----BEGIN CERTIFICATE-----/); // only the key is secret
        const state = pulumi(consumerDir(), "k8s", ["stack", "export"]).stdout;
        expect(state).toContain("etcdFiles");
        expect(state).not.toContain("PRIVATE KEY");
        expect(state).toContain("4dabf18193072939515e22adb298388d"); // Pulumi's secret signature
        expect(engineLog).not.toContain("PRIVATE KEY");
        expect(engineLog).not.toContain("is not a secret"); // the consumer's warning for a producer that leaks it
    });

    it("the rendered certificate chains to the rendered CA, is a client certificate, and matches the key", () => {
        const dir = fs.mkdtempSync(path.join(work, "files-"));
        const write = (name: string, text: string) => { const p = path.join(dir, name); fs.writeFileSync(p, text, { mode: 0o600 }); return p; };
        const ca = write("ca.crt", revealed.etcdFiles.ca.content);
        const cert = write("client.crt", revealed.etcdFiles.cert.content);
        const key = write("client.key", revealed.etcdFiles.key.content);
        expect(mustRun("openssl", ["verify", "-CAfile", ca, cert]).stdout.trim()).toBe(`${cert}: OK`);
        const text = mustRun("openssl", ["x509", "-noout", "-text", "-in", cert]).stdout;
        expect(text).toContain("CN = kube-apiserver-etcd-client");
        expect(text.split("X509v3 Extended Key Usage:")[1].split("\n")[1].trim()).toBe("TLS Web Client Authentication");
        const certPub = mustRun("openssl", ["x509", "-noout", "-pubkey", "-in", cert]).stdout;
        expect(mustRun("openssl", ["pkey", "-pubout", "-in", key]).stdout).toBe(certPub);
    });

    it("an etcd stack that leaks the key: the outputs here keep it secret, only the StackReference copy is clear, and it warns", () => {
        initStack(producerDir(), "leaky", { "etcd-cluster:addresses": ADDRESSES, "etcd-cluster:leakKey": true });
        pulumi(producerDir(), "leaky", ["up", "--yes", "--skip-preview"]);
        expect(outputs(producerDir(), "leaky", false).kubeApiserverClientKey).toMatch(/PRIVATE KEY/); // the leak is real
        initStack(consumerDir(), "k8s-leaky", { "etcd-kube-apiserver:etcdStack": "organization/etcd-cluster/leaky" });
        const r = pulumi(consumerDir(), "k8s-leaky", ["up", "--yes", "--skip-preview"]);
        expect(r.stdout + r.stderr).toContain("kubeApiserverClientKey is not a secret in organization/etcd-cluster/leaky");
        expect(outputs(consumerDir(), "k8s-leaky", false).etcdFiles.key.content).toBe("[secret]");
        // This stack's own outputs hold it encrypted; the StackReference's state, though, is a copy of the etcd
        // stack's outputs as that stack exported them (Pulumi's design), which is what the warning says.
        const resources: any[] = JSON.parse(pulumi(consumerDir(), "k8s-leaky", ["stack", "export"]).stdout).deployment.resources;
        const inClear = resources.filter((r) => JSON.stringify(r).includes("PRIVATE KEY")).map((r) => r.type);
        expect(inClear).toEqual(["pulumi:pulumi:StackReference"]);
        const stackOutputs = resources.find((r) => r.type === "pulumi:pulumi:Stack").outputs;
        expect(JSON.stringify(stackOutputs.etcdFiles.key.content)).toContain("4dabf18193072939515e22adb298388d");
    }, 300_000);

    it("refuses a relative pkiDir before anything changes", () => {
        pulumi(consumerDir(), "k8s", ["config", "set", "pkiDir", "etc/kubernetes/pki"]);
        const r = pulumi(consumerDir(), "k8s", ["preview"], { allowFailure: true });
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(`pkiDir "etc/kubernetes/pki" must be an absolute path`);
    }, 120_000);

    it("fails clearly when the etcd stack does not exist", () => {
        pulumi(consumerDir(), "k8s", ["config", "rm", "pkiDir"]);
        pulumi(consumerDir(), "k8s", ["config", "set", "etcdStack", "organization/etcd-cluster/nope"]);
        const r = pulumi(consumerDir(), "k8s", ["preview"], { allowFailure: true });
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(/organization\/etcd-cluster\/nope/);
    }, 120_000);
});
