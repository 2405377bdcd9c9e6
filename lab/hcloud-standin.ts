// The local Hetzner Cloud API stand-in (tools/hcloud-standin, started by scripts/lab/hcloud-standin.sh) and a
// small reader of its API for assertions. The token is read from its file and only ever sent in headers.
import * as fs from "fs";
import * as path from "path";
import { load } from "js-yaml";
import { logStep, mustRun, run } from "./run";
import { REPO_ROOT, TestStack } from "./pulumi";
import { releaseMirror, releaseSha256 } from "./rig";

/** The dev stack's configuration (Pulumi.dev.yaml): where the e2e tests through the Hetzner layer start. */
export const devConfig = (load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, any> }).config;

/**
 * A stack of the real program through the Hetzner layer on `standin`: the dev stack's values with
 * `overrides`, etcd `version` from the stand-in's release mirror, and the stand-in's endpoint and token (a secret).
 */
export function standinStack(name: string, standin: Standin, version: string, overrides: Record<string, unknown> = {}): TestStack {
    return new TestStack({
        stack: name,
        config: {
            ...devConfig,
            ...overrides,
            release: { version, sha256: releaseSha256(version), downloadBaseUrl: standin.serveUrl },
            "hcloud:endpoint": standin.endpoint,
            "hcloud:token": standin.token,
        },
        secretKeys: ["hcloud:token"],
    });
}

const LAUNCHER = path.join(REPO_ROOT, "scripts/lab/hcloud-standin.sh");
const TESTHOSTS = path.join(REPO_ROOT, "scripts/lab/testhosts.sh");

export interface Standin {
    name: string;
    /** API endpoint, for `hcloud:endpoint` / HCLOUD_ENDPOINT (http://127.0.0.1:PORT/v1). */
    endpoint: string;
    token: string;
    publicPrefix: string;
    /** Where hosts download etcd releases from (the rig's HTTP server on the public bridge address). */
    serveUrl: string;
    log: string;
}

/** Starts a stand-in named `name` whose servers get public addresses in `publicPrefix`.0/24, serving `releases` (versions). */
export function standinUp(name: string, publicPrefix: string, versions: string[]): Standin {
    const www = releaseMirror(versions);
    const r = mustRun("bash", [LAUNCHER, "up", "--name", name, "--public-prefix", publicPrefix, "--serve", www], { timeout: 15 * 60_000 });
    logStep(`hcloud stand-in ${name} up`, r.seconds);
    const info = JSON.parse(r.stdout);
    return {
        name, endpoint: info.endpoint, token: fs.readFileSync(info.tokenFile, "utf8").trim(), publicPrefix,
        serveUrl: info.serveUrl, log: info.log,
    };
}

/** Stops the stand-in and removes its hosts, rig and state; safe to call twice. */
export function standinDown(name: string): void {
    const r = run("bash", [LAUNCHER, "down", "--name", name], { timeout: 10 * 60_000 });
    logStep(`hcloud stand-in ${name} down (exit ${r.status})`, r.seconds);
    if (r.status !== 0) process.stderr.write(r.stderr);
}

/** GET on the stand-in's API (all pages of a list). */
export async function apiGet(s: Standin, resource: string): Promise<any[]> {
    const items: any[] = [];
    for (let page = 1; page < 100; page++) {
        const res = await fetch(`${s.endpoint}/${resource}?page=${page}&per_page=50`, { headers: { Authorization: `Bearer ${s.token}` } });
        const body: any = await res.json();
        if (res.status !== 200) throw new Error(`GET /${resource}: ${res.status} ${JSON.stringify(body)}`);
        items.push(...body[resource]);
        if (!body.meta.pagination.next_page) break;
    }
    return items;
}

/** A call on the stand-in's API as an operator's client makes it (e.g. DELETE servers/7, POST servers/7/actions/poweroff); waits for the action it starts. */
export async function apiCall(s: Standin, method: "POST" | "DELETE", resource: string, body?: unknown): Promise<any> {
    const res = await fetch(`${s.endpoint}/${resource}`, {
        method, headers: { Authorization: `Bearer ${s.token}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed: any = text ? JSON.parse(text) : {};
    if (res.status >= 300) throw new Error(`${method} /${resource}: ${res.status} ${text}`);
    const action = parsed.action;
    for (let i = 0; action && i < 600; i++) {
        const a = await (await fetch(`${s.endpoint}/actions/${action.id}`, { headers: { Authorization: `Bearer ${s.token}` } })).json() as any;
        if (a.action.status === "success") break;
        if (a.action.status === "error") throw new Error(`${method} /${resource}: action ${action.id} failed: ${JSON.stringify(a.action.error)}`);
        await new Promise((r) => setTimeout(r, 500));
    }
    return parsed;
}

/** IDs of the hosts of the stand-in's rig that run now. */
export function runningHosts(s: Standin): string[] {
    return mustRun("bash", [TESTHOSTS, "running-hosts", "--rig", s.name]).stdout.split("\n").filter(Boolean);
}

/** Is any address of the network prefix (e.g. "10.1.1.") on an interface of this machine? */
export function addressInUse(prefix: string): string | undefined {
    const out = run("ip", ["-o", "-4", "addr", "show"]).stdout;
    return out.split("\n").find((l) => l.includes(` ${prefix}`));
}
