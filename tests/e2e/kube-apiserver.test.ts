// End to end: a real kube-apiserver (v1.37.2, built from the k8s.io/kubernetes module by tools/kube-apiserver)
// on this machine, against a real 3-member cluster on local hosts. It knows of etcd only what the stacks
// export: the consumer stack (examples/kube-apiserver) reads the etcd stack through a StackReference, and its
// `etcdFlags` and `etcdFiles` are all kube-apiserver is given about etcd.
//   1. /healthz/etcd is ok; an object created through the API is read back through it, and etcd holds it
//      under /registry/;
//   2. it keeps serving while the cluster rolls a change (every member restarted, one at a time): every
//      create and read through the API during the roll succeeds.
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, TestStack } from "../../lab/pulumi";
import { logStep, mustRun, run } from "../../lab/run";
import { adminClientFiles, Etcdctl, localEtcdctl, mustSsh, Rig, rigStackConfig, rigUp, tearDown } from "../../lab/rig";

const VERSION = process.env.ETCD_VERSION ?? "";
const RIG = "kubeapi";
const PRIVATE_PREFIX = "10.1.12";
const PORT = 16443;
/** The API requests of the roll's client are bounded in count and time. */
const ROLL_CLIENT_MAX_ROUNDS = 2000;
const ROLL_CLIENT_MAX_SECONDS = 600;

/**
 * Whether a child process still runs. The test's code is synchronous (spawnSync), so Node never gets to
 * handle the child's exit and `exitCode` stays null: ask the kernel (an exited, unreaped child is a zombie).
 */
function running(pid: number | undefined): boolean {
    if (pid === undefined) return false;
    try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
}

describe("kube-apiserver on the cluster, configured from the stacks' outputs only", () => {
    let rig: Rig;
    let etcd: TestStack;
    let consumer: TestStack | undefined;
    let apiserver: ChildProcess | undefined;
    let work: string;
    let admin: Etcdctl;
    let endpoints: string[];
    const api = `https://127.0.0.1:${PORT}`;
    const tokenHeader = () => path.join(work, "auth-header");
    /** A request to the API server as the test's admin user (its token in a header file, not in argv). */
    const request = (method: string, urlPath: string, body?: unknown) => {
        const r = run("curl", ["-sS", "--max-time", "20", "-k", "-X", method, "-H", `@${tokenHeader()}`, "-H", "Content-Type: application/json",
            "-w", "\n%{http_code}", ...(body === undefined ? [] : ["--data-binary", JSON.stringify(body)]), `${api}${urlPath}`], { timeout: 30_000 });
        const lines = r.stdout.trimEnd().split("\n");
        return { code: Number(lines.pop()), body: lines.join("\n"), stderr: r.stderr };
    };
    const serviceStarts = () => rig.hosts.map((h) => Number(mustSsh(rig, h, "systemctl show etcd -p ExecMainStartTimestampMonotonic --value").trim()));
    const apiserverLog = () => (work && fs.existsSync(path.join(work, "kube-apiserver.log")) ? fs.readFileSync(path.join(work, "kube-apiserver.log"), "utf8").slice(-6000) : "");

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        const build = mustRun("bash", [path.join(REPO_ROOT, "scripts/lab/go-tools.sh"), "kube-apiserver"], { timeout: 40 * 60_000 });
        logStep("kube-apiserver built (when not cached)", build.seconds);
        const binary = build.stdout.trim();
        rig = rigUp(RIG, 3, { privatePrefix: PRIVATE_PREFIX, publicPrefix: "198.18.12" }, [VERSION]);
        etcd = new TestStack({ stack: RIG, config: rigStackConfig(rig, { version: VERSION, healthTimeoutSeconds: 60 }) });
        etcd.up("kube-apiserver: the etcd stack");
        const out = etcd.outputs(true);
        endpoints = out.clientEndpoints;
        admin = new Etcdctl(localEtcdctl(VERSION, etcd.dir), adminClientFiles(path.join(etcd.dir, "admin"), out));

        // The consumer stack, in the same backend, and what it exports: the flags and the files they name.
        work = fs.mkdtempSync(path.join(etcd.dir, "kube-"));
        const pkiDir = path.join(work, "pki");
        consumer = new TestStack({
            stack: "k8s", programSource: path.join(REPO_ROOT, "examples/kube-apiserver"),
            config: { etcdStack: `organization/etcd-cluster/${RIG}`, pkiDir },
            env: { PULUMI_BACKEND_URL: etcd.env.PULUMI_BACKEND_URL! },
        });
        consumer.up("kube-apiserver: the consumer stack");
        const k8s = consumer.outputs(true);
        for (const f of Object.values(k8s.etcdFiles) as { path: string; mode: string; content: string }[]) {
            fs.mkdirSync(path.dirname(f.path), { recursive: true, mode: 0o700 });
            fs.writeFileSync(f.path, f.content, { mode: parseInt(f.mode, 8) });
        }

        // What kube-apiserver needs besides etcd: a service-account key pair and a token for this test's requests.
        mustRun("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path.join(work, "sa.key")]);
        mustRun("openssl", ["ec", "-in", path.join(work, "sa.key"), "-pubout", "-out", path.join(work, "sa.pub")]);
        const token = crypto.randomBytes(24).toString("hex");
        fs.writeFileSync(path.join(work, "tokens.csv"), `${token},e2e-admin,e2e-admin,"system:masters"\n`, { mode: 0o600 });
        fs.writeFileSync(tokenHeader(), `Authorization: Bearer ${token}\n`, { mode: 0o600 });
        const log = fs.openSync(path.join(work, "kube-apiserver.log"), "w");
        apiserver = spawn(binary, [
            ...k8s.etcdFlags,
            "--bind-address=127.0.0.1", `--secure-port=${PORT}`, `--advertise-address=${PRIVATE_PREFIX}.1`,
            `--cert-dir=${path.join(work, "serving")}`,
            `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
            `--service-account-key-file=${path.join(work, "sa.pub")}`, `--service-account-signing-key-file=${path.join(work, "sa.key")}`,
            "--service-cluster-ip-range=10.96.0.0/16",
            `--token-auth-file=${path.join(work, "tokens.csv")}`, "--authorization-mode=RBAC",
            "--enable-priority-and-fairness=false", "--profiling=false",
        ], { stdio: ["ignore", log, log] });
        fs.closeSync(log);
        const ready = () => request("GET", "/readyz").code === 200;
        const started = Date.now();
        while (!ready()) {
            if (!running(apiserver.pid) || Date.now() - started > 180_000) {
                throw new Error(`kube-apiserver did not become ready (${running(apiserver.pid) ? "still starting" : "it exited"}):\n${apiserverLog()}`);
            }
            run("sleep", ["1"]);
        }
        logStep("kube-apiserver ready", (Date.now() - started) / 1000);
    }, 60 * 60_000);

    afterAll(() => {
        if (running(apiserver?.pid)) apiserver!.kill("SIGTERM");
        consumer?.dispose();
        tearDown(etcd, RIG);
    }, 10 * 60_000);

    it("reports /healthz/etcd ok; an object created through it is read back through it and is in etcd under /registry/", () => {
        const health = request("GET", "/healthz/etcd");
        expect({ code: health.code, body: health.body }).toEqual({ code: 200, body: "ok" });
        const marker = crypto.randomBytes(8).toString("hex");
        const created = request("POST", "/api/v1/namespaces/default/configmaps", {
            apiVersion: "v1", kind: "ConfigMap", metadata: { name: "from-the-etcd-stack" }, data: { marker },
        });
        expect(created.code).toBe(201);
        const read = request("GET", "/api/v1/namespaces/default/configmaps/from-the-etcd-stack");
        expect(read.code).toBe(200);
        expect(JSON.parse(read.body).data).toEqual({ marker });
        // In etcd itself, read with the operator's certificate: the key kube-apiserver wrote, and the value in it.
        const key = "/registry/configmaps/default/from-the-etcd-stack";
        expect(admin.must(endpoints, ["get", key, "--keys-only"]).trim()).toBe(key);
        expect(admin.must(endpoints, ["get", key, "--print-value-only"])).toContain(marker);
    }, 5 * 60_000);

    it("keeps serving while the cluster rolls a change: every create and read during the roll succeeds", () => {
        const before = serviceStarts();
        const stop = path.join(work, "roll-client.stop");
        const results = path.join(work, "roll-client.log");
        // A client in its own process (the up below blocks this one): create, then read, one object a round.
        const client = spawn("bash", ["-c", `set -uo pipefail
for ((i = 1; i <= $1 && SECONDS < $2; i++)); do
  [ -e "$3" ] && break
  c=$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' -H "@$4" -H 'Content-Type: application/json' -X POST \\
        --data-binary "{\\"apiVersion\\":\\"v1\\",\\"kind\\":\\"ConfigMap\\",\\"metadata\\":{\\"name\\":\\"roll-$i\\"}}" "$5/api/v1/namespaces/default/configmaps")
  g=$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' -H "@$4" "$5/api/v1/namespaces/default/configmaps/roll-$i")
  echo "$i $c $g $SECONDS"
  sleep 0.1
done > "$6"
touch "$6.done"`, "roll-client", String(ROLL_CLIENT_MAX_ROUNDS), String(ROLL_CLIENT_MAX_SECONDS), stop, tokenHeader(), api, results], { stdio: "ignore" });
        try {
            run("sleep", ["2"]);
            etcd.setConfig({ tuning: { snapshotCount: 9000 } });
            etcd.up("kube-apiserver: a rolling change under the API server");
            run("sleep", ["2"]);
        } finally {
            fs.writeFileSync(stop, "");
            for (let t = 0; t < 60 && !fs.existsSync(`${results}.done`); t++) run("sleep", ["0.5"]);
            if (running(client.pid)) client.kill("SIGKILL");
        }
        serviceStarts().forEach((t, i) => expect(t).toBeGreaterThan(before[i])); // every member restarted
        const rounds = fs.readFileSync(results, "utf8").trim().split("\n").map((l) => l.split(" "));
        const failed = rounds.filter(([, c, g]) => c !== "201" || g !== "200");
        console.log(`[kube-apiserver] during the roll: ${rounds.length} rounds of create + read, ${failed.length} failed`);
        expect(rounds.length).toBeGreaterThanOrEqual(20);
        expect(failed.map((r) => r.join(" "))).toEqual([]);
        expect(running(apiserver?.pid)).toBe(true);
        expect(request("GET", "/healthz/etcd").body).toBe("ok");
    }, 10 * 60_000);
});
