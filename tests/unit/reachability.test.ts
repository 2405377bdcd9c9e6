// Fail fast when a member is down: the local reachability gate under Pulumi mocks (what it probes, that every
// host step waits for it, when it runs again) and its script against real sockets on this machine.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

import { OptionsCapture, promiseOf, recordingMocks, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster, EtcdClusterArgs } from "../../components/etcd-cluster";
import { fingerprint, reachabilityScript } from "../../components/etcd-cluster/reachability";
import { shellcheck } from "../helpers/shellcheck";

const captured = new OptionsCapture();
const hosts = [{ privateIp: "10.9.0.11", sshHost: "192.0.2.11", sshPort: 2222 }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }];

async function gateOf(args: EtcdClusterArgs) {
    created.length = 0;
    captured.clear();
    const cluster = new EtcdCluster("etcd", args, { transformations: [captured.transformation] });
    await promiseOf(cluster.clusterCheck);
    await settled();
    const gate = created.find((c) => c.type === "command:local:Command" && c.name === "etcd-reachable");
    if (!gate) throw new Error("no reachability gate");
    return gate;
}

describe("the reachability gate", () => {
    it("probes every existing host's SSH address, and nothing on a host runs before it", async () => {
        const gate = await gateOf({ existingHosts: hosts, sshPrivateKey: pulumi.secret("k") });
        expect(gate.inputs.create).toContain("readonly TARGETS=('etcd-1 192.0.2.11 2222' 'etcd-2 10.9.0.12 22' 'etcd-3 10.9.0.13 22')");
        expect(gate.inputs.interpreter).toEqual(["/bin/bash", "-c"]);
        expect(await captured.dependencyNames("etcd-preflight")).toContain("etcd-reachable");
        // Existing hosts are there already: the gate comes first, even before the host generation steps (which
        // run again when a host's connection changes, and would dial a host showing the wrong key 60 times).
        expect(await captured.dependencyNames("etcd-reachable")).toEqual([]);
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) expect(await captured.dependencyNames(`etcd-${m}-host`)).toContain("etcd-reachable");
        // Everything else on a host comes after the preflight or the host step (see component.test.ts).
        expect(await captured.dependencyNames("etcd-etcd-1-install")).toEqual(expect.arrayContaining(["etcd-etcd-1-host", "etcd-preflight"]));
    });

    it("on Hetzner probes every member's server at the address the stack knows", async () => {
        const gate = await gateOf({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] } });
        // After the host generation steps, which wait for a new server's SSH.
        expect(await captured.dependencyNames("etcd-reachable")).toEqual(["etcd-etcd-1-host", "etcd-etcd-2-host", "etcd-etcd-3-host"]);
        expect(gate.inputs.create).toMatch(/readonly TARGETS=\('etcd-1 203\.0\.113\.\d+ 22' 'etcd-2 203\.0\.113\.\d+ 22' 'etcd-3 203\.0\.113\.\d+ 22'\)/);
        // ... and checks that each shows the host key generated for it (the one its user data installs).
        // (The mocks give the n-th registered resource the public key "ssh-ed25519 AAAA<n>".)
        const keys = ["etcd-1", "etcd-2", "etcd-3"].map((m) => `'ssh-ed25519 AAAA${created.findIndex((c) => c.name === `etcd-${m}-host-key`)}'`);
        expect(keys.every((k) => !k.endsWith("AAAA-1'"))).toBe(true);
        expect(gate.inputs.create).toContain(`readonly HOST_KEYS=(${keys.join(" ")})`);
    });

    it("runs again when the wanted cluster changes, and only then", async () => {
        const a = (await gateOf({ existingHosts: hosts, sshPrivateKey: pulumi.secret("k") })).inputs.triggers;
        const same = (await gateOf({ existingHosts: hosts, sshPrivateKey: pulumi.secret("other key") })).inputs.triggers;
        const tuned = (await gateOf({ existingHosts: hosts, sshPrivateKey: pulumi.secret("k"), tuning: { snapshotCount: 5000 } })).inputs.triggers;
        const moved = (await gateOf({ existingHosts: [{ ...hosts[0], sshPort: 22 }, ...hosts.slice(1)], sshPrivateKey: pulumi.secret("k") })).inputs.triggers;
        expect(a).toHaveLength(1);
        expect(same).toEqual(a);
        expect(tuned).not.toEqual(a);
        expect(moved).not.toEqual(a);
    });
});

describe("the reachability script", () => {
    it("names a pinned key by the fingerprint ssh-keygen -lf prints", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fp-"));
        spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "x", "-f", path.join(dir, "k")]);
        const line = fs.readFileSync(path.join(dir, "k.pub"), "utf8");
        const printed = spawnSync("ssh-keygen", ["-lf", path.join(dir, "k.pub")], { encoding: "utf8" }).stdout.split(" ")[1];
        expect(fingerprint(line)).toBe(printed);
        // As an operator pastes it: surrounding blanks, several spaces between the fields.
        expect(fingerprint(`  ${line.trim().split(" ").join("   ")}  \n`)).toBe(printed);
        fs.rmSync(dir, { recursive: true });
    });

    it("pins the type and key of a pasted host key line, without its comment or blanks", () => {
        const script = reachabilityScript([{ name: "etcd-1", host: "h", port: 22, hostKey: "  ssh-ed25519   AAAAC3Nz   root@etcd-1 \n" }], "existing");
        expect(script).toContain("readonly HOST_KEYS=('ssh-ed25519 AAAAC3Nz')\n");
    });

    let server: net.Server;
    let open: number;
    let closed: number;
    beforeAll(async () => {
        server = net.createServer((s) => s.end()).listen(0, "127.0.0.1");
        await new Promise((r) => server.once("listening", r));
        open = (server.address() as net.AddressInfo).port;
        const probe = net.createServer().listen(0, "127.0.0.1");
        await new Promise((r) => probe.once("listening", r));
        closed = (probe.address() as net.AddressInfo).port;
        await new Promise((r) => probe.close(r));
    });
    afterAll(() => server.close());

    const run = (targets: { name: string; host: string; port: number; state?: string; hostKey?: string }[], layer: "hcloud" | "existing" = "hcloud") => {
        const started = Date.now();
        const r = spawnSync("bash", ["-c", reachabilityScript(targets, layer, 1)], { encoding: "utf8", timeout: 30_000 });
        return { ...r, seconds: (Date.now() - started) / 1000 };
    };

    it("passes when every member answers, and passes shellcheck", () => {
        const r = run([{ name: "etcd-1", host: "127.0.0.1", port: open }, { name: "etcd-2", host: "127.0.0.1", port: open }]);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("every member's SSH port answers (2 probed; 0 showed their pinned host key)");
        expect(shellcheck(reachabilityScript([{ name: "a", host: "h", port: 22, hostKey: "ssh-ed25519 AAAA x" }], "existing"))).toBe("");
    });

    it("fails in seconds, naming each down member and saying what to do", () => {
        const r = run([
            { name: "etcd-1", host: "127.0.0.1", port: open },
            { name: "etcd-2", host: "127.0.0.1", port: closed, state: "server status off" },
            { name: "etcd-3", host: "192.0.2.1", port: 22 }, // TEST-NET-1: nothing answers, the timeout ends it
        ]);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`etcd member etcd-2 is down: its SSH port 127.0.0.1:${closed} does not answer within 1 s (server status off).`);
        expect(r.stderr).toContain("etcd member etcd-3 is down: its SSH port 192.0.2.1:22 does not answer within 1 s.");
        expect(r.stderr).not.toContain("etcd-1 is down");
        expect(r.stderr).toContain("Nothing was changed. Start it (hcloud server poweron <name>)");
        expect(r.stderr).toContain("pulumi up --refresh");
        expect(r.stderr).toContain('See docs/operations.md, "A member is down".');
        expect(r.seconds).toBeLessThan(10);
    });

    it("tells the owner of existing hosts how to bring one back or re-join a rebuilt one", () => {
        const r = run([{ name: "etcd-1", host: "127.0.0.1", port: closed }], "existing");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("Nothing was changed. Bring the host back and run pulumi up again. If the host was rebuilt " +
            "(etcd and its data are gone), run pulumi up --replace '<URN of its <cluster>-<member>-host step>' (pulumi stack " +
            "--show-urns lists it): the member is installed and re-joins. See docs/operations.md, \"A member is down\".");
        expect(r.stderr).not.toContain("hcloud server poweron");
    });

    it("on Hetzner, says where a server's host key comes from when another one answers", () => {
        const pinned = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxHbZk0aL8cMzRbt4VwJzPq2Xn0t8nQe2q4mP6a8Y1c etcd-1";
        const r = run([{ name: "etcd-1", host: "127.0.0.1", port: open, hostKey: pinned }], "hcloud");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("Nothing was changed. Each server this component creates gets a generated host key through its user data; "
            + "a server made before that, or rebuilt by hand, shows another one. Look at the server on its console before trusting it; if it "
            + "is lost, delete it and run pulumi up --refresh. See docs/operations.md, \"A member shows another SSH host key\".");
        expect(r.stderr).not.toContain("existingHosts[].sshHostKey");
    });

    it("refuses a member whose address answers without its pinned SSH host key, in seconds, saying what to do", () => {
        // Something answers on the port but shows no SSH host key at all: the pin cannot be met.
        const pinned = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxHbZk0aL8cMzRbt4VwJzPq2Xn0t8nQe2q4mP6a8Y1c etcd-2";
        const r = run([{ name: "etcd-1", host: "127.0.0.1", port: open }, { name: "etcd-2", host: "127.0.0.1", port: open, hostKey: pinned }], "existing");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`etcd member etcd-2 at 127.0.0.1:${open} does not show its pinned SSH host key ${fingerprint(pinned)}: another machine`);
        expect(r.stderr).not.toContain("etcd member etcd-1 at");
        expect(r.stderr).toContain("Nothing was changed. If the host was rebuilt on purpose, set its existingHosts[].sshHostKey to its new "
            + "/etc/ssh/ssh_host_ed25519_key.pub (read it on the host's console) and run pulumi up again; otherwise find "
            + 'out what answers on that address. See docs/operations.md, "A member shows another SSH host key".');
        expect(r.seconds).toBeLessThan(10);
    });
});
