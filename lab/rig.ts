// Local test hosts (scripts/lab/testhosts.sh) and the tools to look at them from the outside: SSH, and an
// etcdctl from the same release the hosts install.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { logStep, mustRun, run, RunResult } from "./run";
import { REPO_ROOT } from "./pulumi";

export interface RigHost {
    name: string;
    machine: string;
    privateIp: string;
    publicIp: string;
    sshUser: string;
    sshPrivateKeyPath: string;
}

export interface Rig {
    name: string;
    hosts: RigHost[];
    sshPrivateKeyPath: string;
    /** Where the hosts download etcd releases from: `<url>/v<version>/etcd-v<version>-linux-amd64.tar.gz`. */
    releaseBaseUrl: string;
}

const TESTHOSTS = path.join(REPO_ROOT, "scripts/lab/testhosts.sh");

export function releaseDir(): string {
    const dir = process.env.ETCD_RELEASE_DIR;
    if (!dir) throw new Error("ETCD_RELEASE_DIR is not set: source scripts/env.sh after running scripts/toolchain.sh");
    return dir;
}

export function releaseSha256(version: string): string {
    return fs.readFileSync(path.join(releaseDir(), `etcd-v${version}-linux-amd64.tar.gz.sha256`), "utf8").trim();
}

/** Lays out the toolchain's etcd tarballs the way the official download URL does, for the rig's HTTP server. */
export function releaseMirror(versions: string[]): string {
    const www = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-www-"));
    for (const v of versions) {
        const file = `etcd-v${v}-linux-amd64.tar.gz`;
        fs.mkdirSync(path.join(www, `v${v}`));
        fs.copyFileSync(path.join(releaseDir(), file), path.join(www, `v${v}`, file));
    }
    return www;
}

export function rigUp(name: string, count: number, prefixes: { privatePrefix: string; publicPrefix: string }, versions: string[]): Rig {
    const www = releaseMirror(versions);
    const r = mustRun("bash", [TESTHOSTS, "up", "--rig", name, "--count", String(count), "--private-prefix", prefixes.privatePrefix,
        "--public-prefix", prefixes.publicPrefix, "--serve", www], { timeout: 15 * 60 * 1000 });
    logStep(`${count} local hosts up`, r.seconds);
    const doc = JSON.parse(r.stdout);
    return { name, hosts: doc.hosts, sshPrivateKeyPath: doc.sshPrivateKeyPath, releaseBaseUrl: doc.serveUrl.replace(/\/$/, "") };
}

export function rigDown(name: string): void {
    const r = run("bash", [TESTHOSTS, "down", "--rig", name], { timeout: 5 * 60 * 1000 });
    logStep(`rig ${name} down (exit ${r.status})`, r.seconds);
    if (r.status !== 0) process.stderr.write(r.stderr);
}

export function rigHostCommand(rig: Rig, verb: "stop-host" | "start-host", index: number): void {
    const r = mustRun("bash", [TESTHOSTS, verb, "--rig", rig.name, "--index", String(index)]);
    logStep(`${verb} ${index}`, r.seconds);
}

/** The arguments of `ssh` that run `command` as the rig's user on `host`. */
export function sshArgs(rig: Rig, host: RigHost, command: string): string[] {
    return ["-i", rig.sshPrivateKeyPath, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", `${host.sshUser}@${host.publicIp}`, command];
}

export function ssh(rig: Rig, host: RigHost, command: string): RunResult {
    return run("ssh", sshArgs(rig, host, command), { timeout: 120_000 });
}

export function mustSsh(rig: Rig, host: RigHost, command: string): string {
    const r = ssh(rig, host, command);
    if (r.status !== 0) throw new Error(`ssh ${host.name} '${command}' exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
}

/**
 * Starts a oneshot unit on a host and waits for it to end: whether it succeeded, and what that run logged.
 * A run its timer began before the caller's setup is waited out first (a start would only join it). The
 * journal after the start's cursor may still hold that run's last lines: only the last run's are returned,
 * by invocation id (read from the entries, since systemd unloads an inactive unit no timer refers to). Its
 * lines are waited for: the script's stdout reaches the journal after systemd's own lines at times.
 */
export function startUnit(rig: Rig, host: RigHost, unit: string): { ok: boolean; journal: string } {
    const r = ssh(rig, host, [
        `c=$(journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')`,
        `while [ "$(systemctl show -p ActiveState --value ${unit})" = activating ]; do sleep 0.2; done`,
        `rc=0; systemctl start ${unit} >/dev/null 2>&1 || rc=$?`,
        // journald may store systemd's "Finished"/"Failed" before the lines the script wrote to its stdout
        // stream, even after --sync: read until the run's own lines are there and nothing more comes for 1 s.
        `read_run() { journalctl -u ${unit} --after-cursor="$c" --no-pager -o json --output-fields=MESSAGE,_SYSTEMD_INVOCATION_ID,INVOCATION_ID; }`,
        // (Entries are counted: journalctl's JSON lists the fields in no fixed order.)
        `prev=-1; out=""`,
        `for _ in $(seq 1 30); do`,
        `  journalctl --sync; out=$(read_run); n=$(grep -c '^{' <<<"$out" || true)`,
        `  if [ "$n" = "$prev" ] && grep -v '"INVOCATION_ID"' <<<"$out" | grep -q '^{'; then break; fi`,
        `  prev=$n; sleep 1`,
        `done`,
        `printf '%s\\n' "$out"`,
        `exit $rc`,
    ].join("\n"));
    const entries = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { ok: r.status === 0, journal: lastRunLines(entries) };
}

/**
 * The messages of the last run among journal entries (`-o json`), one per line. A run's own lines carry
 * _SYSTEMD_INVOCATION_ID and systemd's lines about it INVOCATION_ID; journald cannot read the id of a line
 * whose process had already exited (often a run's last line), so such a line belongs to the run of the next
 * entry that has an id: systemd's "Finished"/"Failed" of that run always comes after its lines.
 */
export function lastRunLines(entries: Record<string, unknown>[]): string {
    const runs = entries.map((e) => String(e._SYSTEMD_INVOCATION_ID ?? e.INVOCATION_ID ?? ""));
    for (let i = runs.length - 2; i >= 0; i--) if (runs[i] === "") runs[i] = runs[i + 1];
    const last = runs.filter((id) => id !== "").pop();
    return entries.filter((_, i) => last === undefined || runs[i] === last).map((e) => `${journalMessage(e.MESSAGE)}\n`).join("");
}

/** A journal entry's MESSAGE in `-o json`: a string, or an array of bytes when it is not valid UTF-8. */
function journalMessage(m: unknown): string {
    return Array.isArray(m) ? Buffer.from(m as number[]).toString("utf8") : String(m ?? "");
}

/** An etcdctl binary on this machine, from the toolchain's tarball of `version`. */
export function localEtcdctl(version: string, workDir: string): string {
    const dir = path.join(workDir, `etcd-v${version}`);
    if (!fs.existsSync(path.join(dir, "etcdctl"))) {
        fs.mkdirSync(dir, { recursive: true });
        mustRun("tar", ["-xzf", path.join(releaseDir(), `etcd-v${version}-linux-amd64.tar.gz`), "-C", dir, "--strip-components=1"]);
    }
    return path.join(dir, "etcdctl");
}

/** etcdctl against the cluster with the given client credentials (files), bounded in time. */
/** etcd's uint64 ids as strings: JSON numbers above 2^53 lose digits in JSON.parse. */
export function parseWithIds(text: string): any {
    return JSON.parse(text.replace(/("(?:ID|id|leader|member_id|cluster_id)"\s*:\s*)(\d+)/g, '$1"$2"'));
}

/** An etcd client's TLS files: CA bundle, certificate and key. */
export interface ClientFiles { ca: string; cert: string; key: string }

/**
 * The admin client's files from a stack's outputs, written into `dir` (made if missing) as ca.crt,
 * admin.crt and admin.key, each 0600 and replaced atomically, as a consumer rolls its credentials: a
 * client running beside never reads half a file. Call again after a rotation.
 */
export function adminClientFiles(dir: string, out: Record<string, unknown>): ClientFiles {
    for (const k of ["caCertificate", "adminClientCertificate", "adminClientKey"]) {
        if (typeof out[k] !== "string") throw new Error(`adminClientFiles: the stack has no output ${k} (read the outputs with secrets shown)`);
    }
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = { ca: path.join(dir, "ca.crt"), cert: path.join(dir, "admin.crt"), key: path.join(dir, "admin.key") };
    for (const [file, text] of [[files.ca, out.caCertificate], [files.cert, out.adminClientCertificate], [files.key, out.adminClientKey]] as [string, string][]) {
        fs.writeFileSync(`${file}.new`, text, { mode: 0o600 });
        fs.renameSync(`${file}.new`, file);
    }
    return files;
}

export class Etcdctl {
    constructor(private readonly binary: string, private readonly creds: { ca: string; cert?: string; key?: string }) {}

    run(endpoints: string[], args: string[]): RunResult {
        const tls = [`--cacert=${this.creds.ca}`, ...(this.creds.cert ? [`--cert=${this.creds.cert}`, `--key=${this.creds.key}`] : [])];
        return run(this.binary, [`--endpoints=${endpoints.join(",")}`, ...tls, "--dial-timeout=3s", "--command-timeout=5s", ...args],
            { timeout: 30_000, env: { ...process.env, ETCDCTL_API: "3" } });
    }

    must(endpoints: string[], args: string[]): string {
        const r = this.run(endpoints, args);
        if (r.status !== 0) throw new Error(`etcdctl ${args.join(" ")} on ${endpoints.join(",")} exited ${r.status}: ${r.stderr}`);
        return r.stdout;
    }
}

/** The program's `existingHosts` for the first `count` hosts of a rig. */
export function hostsConfig(rig: Rig, count = rig.hosts.length): { name: string; privateIp: string; publicIp: string }[] {
    return rig.hosts.slice(0, count).map((h) => ({ name: h.name, privateIp: h.privateIp, publicIp: h.publicIp }));
}

/** The program's `release` for a version the toolchain built, downloaded from the rig's HTTP server. */
export function releaseConfig(rig: Rig, version: string): { version: string; sha256: string; downloadBaseUrl: string } {
    return { version, sha256: releaseSha256(version), downloadBaseUrl: rig.releaseBaseUrl };
}

/** Stack configuration that deploys the program onto a rig's hosts. */
export function rigStackConfig(rig: Rig, opts: { version: string; count?: number; healthTimeoutSeconds: number }): Record<string, unknown> {
    return {
        existingHosts: hostsConfig(rig, opts.count),
        sshPrivateKeyPath: rig.sshPrivateKeyPath,
        release: releaseConfig(rig, opts.version),
        healthTimeoutSeconds: opts.healthTimeoutSeconds,
    };
}

/** For afterAll: destroy what the stack still has, remove it, and always take the rig down. */
export function tearDown(stack: { tryPulumi(args: string[]): unknown; dispose(): void } | undefined, rigName: string,
    destroy = true): void {
    destroyThen(stack, destroy, () => rigDown(rigName));
}

/** Destroy what the stack still has (when `destroy`), remove it, and always run `takeDown` (the rig or stand-in). */
export function destroyThen(stack: { tryPulumi(args: string[]): unknown; dispose(): void } | undefined, destroy: boolean,
    takeDown: () => void): void {
    try {
        if (stack && destroy) stack.tryPulumi(["destroy", "--yes", "--skip-preview"]);
        stack?.dispose();
    } finally {
        takeDown();
    }
}
