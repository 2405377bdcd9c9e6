// End to end: a cluster built by hand the way ../shared/seed/ describes (Debian's etcd-server and etcd-client
// 3.4 packages, /etc/default/etcd, OpenSSL certificates made on the operator's machine) on 3 local Debian
// hosts, with known keys, is checked and moved under the component on the same hosts (existingHosts) by the
// snapshot path: scripts/adopt.sh check, scripts/adopt.sh retire, pulumi up, scripts/restore.sh, pulumi up.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TestStack, REPO_ROOT } from "../../lab/pulumi";
import { logStep, mustRun, run } from "../../lab/run";
import { adminClientFiles, ClientFiles, Etcdctl, localEtcdctl, mustSsh, Rig, RigHost, rigStackConfig, rigUp, tearDown } from "../../lab/rig";

const VERSION = process.env.ETCD_VERSION ?? "";
const RIG = "adopt";
// Own ranges: the private network 10.23.1.0/24 and the public bridge 198.18.23.0/24 (no other file uses 10.23 or .23).
const PREFIXES = { privatePrefix: "10.23.1", publicPrefix: "198.18.23" };
const KEYS = 300;
const value = (i: number) => `value ${i} of the hand-built cluster`;
const key = (i: number) => `/adopt/key/${String(i).padStart(4, "0")}`;

describe("adopting a cluster built by hand with the distribution's etcd package", () => {
    let rig: Rig;
    let stack: TestStack;
    let work: string;
    let seedClient: Etcdctl;
    let seedCreds: ClientFiles;
    let admin: Etcdctl;
    let endpoints: string[];
    let hostsFile: string;
    let snapshot: string;
    let oldRevision: number;

    const scpTo = (h: RigHost, files: string[], dest: string) => mustRun("scp", ["-i", rig.sshPrivateKeyPath, "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", ...files, `${h.sshUser}@${h.publicIp}:${dest}`]);
    /** SSH options of adopt.sh and restore.sh for the rig's hosts. */
    const sshFlags = () => ["--ssh-key", rig.sshPrivateKeyPath, "--ssh-option", "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null",
        "--ssh-option", "LogLevel=ERROR"];
    const adopt = (args: string[]) => run("bash", [path.join(REPO_ROOT, "scripts/adopt.sh"), ...args, "--hosts", hostsFile, ...sshFlags()], { timeout: 10 * 60_000 });
    const seedEndpoints = () => rig.hosts.map((h) => `https://${h.privateIp}:2379`);
    /** Waits until every old member answers healthy over TLS with the seed's certificates. */
    const waitSeedHealthy = () => {
        const deadline = Date.now() + 90_000;
        for (;;) {
            const r = seedClient.run(seedEndpoints(), ["endpoint", "health"]);
            if (r.status === 0) return;
            if (Date.now() > deadline) throw new Error(`the hand-built cluster is not healthy: ${r.stderr}${r.stdout}`);
            mustRun("sleep", ["1"]);
        }
    };

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "adopt-e2e-"));
        const debs = mustRun("bash", [path.join(REPO_ROOT, "scripts/lab/debian-etcd.sh"), "download"]).stdout.trim();
        rig = rigUp(RIG, 3, PREFIXES, [VERSION]);
        hostsFile = path.join(work, "hosts.json");
        fs.writeFileSync(hostsFile, JSON.stringify(rig.hosts.map((h) => ({ name: h.name, privateIp: h.privateIp, publicIp: h.publicIp }))));

        // The seed procedure: a CA and, per node, a server and a peer certificate (RSA 2048, the SANs it lists).
        let started = Date.now();
        const pki = path.join(work, "seed-pki");
        fs.mkdirSync(pki);
        const ossl = (args: string[]) => mustRun("openssl", args, { cwd: pki });
        ossl(["genrsa", "-out", "etcd-ca.key", "2048"]);
        ossl(["req", "-x509", "-new", "-nodes", "-key", "etcd-ca.key", "-subj", "/CN=etcd-ca", "-days", "5475", "-out", "etcd-ca.crt"]);
        for (const h of rig.hosts) {
            for (const kind of ["server", "peer"]) {
                const base = `${h.name}-etcd-${kind}`;
                fs.writeFileSync(path.join(pki, `${base}.conf`), [
                    "[ req ]", "default_bits = 2048", "prompt = no", "default_md = sha256", "req_extensions = req_ext", "distinguished_name = dn",
                    "[ dn ]", `CN = ${h.name}`, "[ req_ext ]", "subjectAltName = @alt_names",
                    "[ alt_names ]", `DNS.1 = ${h.name}`, "DNS.2 = localhost", "IP.1 = 127.0.0.1", `IP.2 = ${h.privateIp}`, `IP.3 = ${h.publicIp}`,
                    "[ v3_ext ]", "subjectAltName=@alt_names", ""].join("\n"));
                ossl(["genrsa", "-out", `${base}.key`, "2048"]);
                ossl(["req", "-new", "-key", `${base}.key`, "-config", `${base}.conf`, "-out", `${base}.csr`]);
                ossl(["x509", "-req", "-in", `${base}.csr`, "-CA", "etcd-ca.crt", "-CAkey", "etcd-ca.key", "-sha256", "-CAcreateserial", "-days", "730",
                    "-extensions", "v3_ext", "-extfile", `${base}.conf`, "-out", `${base}.crt`]);
            }
        }
        logStep("adopt: seed CA and 6 certificates with openssl", (Date.now() - started) / 1000);

        // apt install etcd-server etcd-client (from the cached .deb files: the hosts have no mirror), the
        // certificates to /etc/etcd, and /etc/default/etcd with the values the procedure lists.
        started = Date.now();
        const cluster = rig.hosts.map((h) => `${h.name}=https://${h.privateIp}:2380`).join(",");
        for (const h of rig.hosts) {
            scpTo(h, [...fs.readdirSync(debs).filter((f) => f.endsWith(".deb")).map((f) => path.join(debs, f)),
                path.join(pki, "etcd-ca.crt"), ...["server", "peer"].flatMap((k) => [path.join(pki, `${h.name}-etcd-${k}.key`), path.join(pki, `${h.name}-etcd-${k}.crt`)])], "/root/");
            const env = {
                ETCD_NAME: h.name, ETCD_INITIAL_CLUSTER: cluster, ETCD_INITIAL_ADVERTISE_PEER_URLS: `https://${h.privateIp}:2380`,
                ETCD_LISTEN_PEER_URLS: `https://${h.privateIp}:2380`, ETCD_LISTEN_CLIENT_URLS: `https://${h.privateIp}:2379,https://127.0.0.1:2379`,
                ETCD_ADVERTISE_CLIENT_URLS: `https://${h.privateIp}:2379`, ETCD_CLIENT_CERT_AUTH: "true", ETCD_PEER_CLIENT_CERT_AUTH: "true",
                ETCD_TRUSTED_CA_FILE: "/etc/etcd/ca.crt", ETCD_CERT_FILE: "/etc/etcd/server.crt", ETCD_KEY_FILE: "/etc/etcd/server.key",
                ETCD_PEER_TRUSTED_CA_FILE: "/etc/etcd/ca.crt", ETCD_PEER_CERT_FILE: "/etc/etcd/peer.crt", ETCD_PEER_KEY_FILE: "/etc/etcd/peer.key",
            };
            mustSsh(rig, h, [
                "set -euo pipefail",
                "DEBIAN_FRONTEND=noninteractive dpkg -i /root/etcd-server_*.deb /root/etcd-client_*.deb >/dev/null",
                "mkdir -p /etc/etcd",
                `mv /root/etcd-ca.crt /etc/etcd/ca.crt`,
                ...["server", "peer"].flatMap((k) => [`mv /root/${h.name}-etcd-${k}.key /etc/etcd/${k}.key`, `mv /root/${h.name}-etcd-${k}.crt /etc/etcd/${k}.crt`]),
                "chown -R etcd /etc/etcd",
                `printf '%s\\n' ${Object.entries(env).map(([k, v]) => `'${k}="${v}"'`).join(" ")} >> /etc/default/etcd`,
            ].join("\n"));
        }
        logStep("adopt: etcd-server and etcd-client 3.4 installed from the packages, configured on 3 hosts", (Date.now() - started) / 1000);
        // The procedure's client: a member's server certificate (no extended key usage, so it serves as a client's too).
        seedCreds = { ca: path.join(pki, "etcd-ca.crt"), cert: path.join(pki, `${rig.hosts[0].name}-etcd-server.crt`), key: path.join(pki, `${rig.hosts[0].name}-etcd-server.key`) };
        seedClient = new Etcdctl(localEtcdctl(VERSION, work), seedCreds);
    }, 20 * 60_000);

    afterAll(() => {
        try {
            tearDown(stack, RIG, false);
        } finally {
            if (work) fs.rmSync(work, { recursive: true, force: true });
        }
    }, 10 * 60_000);

    it("1. the procedure's restart keeps the package's own one-member data: the check refuses the three separate clusters", () => {
        // The package started etcd with its defaults when installed; `systemctl restart etcd` (the procedure's
        // next step) then finds that data and ignores ETCD_INITIAL_CLUSTER: each host is a cluster of one.
        for (const h of rig.hosts) mustSsh(rig, h, "systemctl restart etcd");
        const r = adopt(["check"]);
        logStep("adopt: check of three one-member clusters (refused)", r.seconds);
        expect(r.status).toBe(1);
        expect(r.stdout).toContain("cannot adopt this cluster; nothing was changed");
        // They even share their IDs: the same default peer URL and token.
        expect(r.stdout).toMatch(/the hosts are not one cluster \(etcd-1: cluster (\d+), member (\d+), 1 member\(s\); etcd-2: cluster \1, member \2, 1 member\(s\)/);
        // What people following it then do: stop, remove the package's data, start all members together.
        const started = Date.now();
        for (const h of rig.hosts) mustSsh(rig, h, "systemctl stop etcd && rm -rf /var/lib/etcd/default");
        for (const h of rig.hosts) mustSsh(rig, h, "systemctl start --no-block etcd");
        waitSeedHealthy();
        logStep("adopt: the hand-built 3-member cluster healthy", (Date.now() - started) / 1000);
        const members = JSON.parse(seedClient.must([seedEndpoints()[0]], ["member", "list", "-w", "json"])).members;
        expect(members.map((m: any) => m.name).sort()).toEqual(rig.hosts.map((h) => h.name).sort());
    }, 10 * 60_000);

    it("2. known keys written; the check reads version, members, health, size and alarms, and says what will happen", () => {
        let started = Date.now();
        // In batches of 100 puts per transaction (etcd's default limit is 128 operations).
        for (let b = 0; b < KEYS; b += 100) {
            const puts = Array.from({ length: Math.min(100, KEYS - b) }, (_, j) => `put ${key(b + j)} "${value(b + j)}"`).join("\n");
            const r = run(localEtcdctl(VERSION, work), [`--endpoints=${seedEndpoints()[0]}`, `--cacert=${seedCreds.ca}`, `--cert=${seedCreds.cert}`,
                `--key=${seedCreds.key}`, "txn"], { input: `\n${puts}\n\n\n` });
            expect(r.status).toBe(0);
            expect(r.stdout).toMatch(/^SUCCESS\n/);
            expect(r.stdout.match(/^OK$/gm)).toHaveLength(Math.min(100, KEYS - b));
        }
        for (const v of ["one", "two", "three"]) seedClient.must([seedEndpoints()[1]], ["put", "/adopt/history", v]);
        const all = JSON.parse(seedClient.must([seedEndpoints()[2]], ["get", "", "--prefix", "--keys-only", "-w", "json"]));
        expect(all.count).toBe(KEYS + 1);
        oldRevision = all.header.revision;
        logStep(`adopt: ${KEYS + 1} keys written to the hand-built cluster`, (Date.now() - started) / 1000);

        started = Date.now();
        const r = adopt(["check"]);
        logStep("adopt: check", r.seconds);
        expect(r.stderr + r.stdout).not.toContain("error");
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`the cluster: 3 members, etcd 3\\.4\\.23, revision ${oldRevision}, ${KEYS + 1} keys, database \\d+ bytes, healthy, no alarms`));
        for (const h of rig.hosts) expect(r.stdout).toMatch(new RegExp(`\n  ${h.name}: (etcd-client 3\\.4\\.23\\S*, )?etcd-server 3\\.4\\.23`));
        expect(r.stdout).toMatch(/unavailable from step 1 to the end of step 3: roughly \d+ min/);
        expect(r.stdout).toMatch(/rolling upgrade by one minor at a time only \(3\.4 -> 3\.5 -> \.\.\. -> \d+\.\d+\.\d+\)/);
        // It changed nothing: etcd still runs from the package everywhere.
        for (const h of rig.hosts) expect(mustSsh(rig, h, "systemctl is-active etcd; readlink -f /proc/$(systemctl show -p MainPID --value etcd)/exe").trim()).toBe("active\n/usr/bin/etcd");
    }, 10 * 60_000);

    it("3. retire, pulumi up, restore: every key and value back, the new certificates work, the package gone and its data kept", () => {
        snapshot = path.join(work, "old-cluster.db");
        const down = Date.now();
        const retire = adopt(["retire", "--snapshot-out", snapshot, "--yes"]);
        logStep("adopt: retire (snapshot, stop, data aside, package removed)", retire.seconds);
        expect(retire.status).toBe(0);
        expect(retire.stderr).toMatch(/adopt: retired in \d+ s/);
        expect(fs.statSync(snapshot).size).toBeGreaterThan(0);
        for (const h of rig.hosts) {
            expect(mustSsh(rig, h, "dpkg-query -W -f='${Status}\\n' etcd-server etcd-client 2>/dev/null || true").trim().split("\n")).not.toContain("install ok installed");
            expect(mustSsh(rig, h, "test -e /usr/bin/etcd && echo present || echo gone").trim()).toBe("gone");
            const kept = mustSsh(rig, h, "ls -d /var/lib/etcd.distribution-*").trim();
            expect(kept).toMatch(/^\/var\/lib\/etcd\.distribution-\d{8}T\d{6}Z$/);
            expect(mustSsh(rig, h, `ls ${kept}/data/member/snap/db ${kept}/default-etcd ${kept}/etc-etcd/server.key`).trim().split("\n")).toHaveLength(3);
            expect(mustSsh(rig, h, `grep -c ETCD_INITIAL_CLUSTER= ${kept}/default-etcd`).trim()).toBe("1");
        }

        stack = new TestStack({ stack: RIG, config: rigStackConfig(rig, { version: VERSION, healthTimeoutSeconds: 90 }) });
        stack.up("adopt: pulumi up on the retired hosts (existingHosts)");
        const out = stack.outputs(true);
        endpoints = out.clientEndpoints;
        admin = new Etcdctl(localEtcdctl(VERSION, work), adminClientFiles(path.join(work, "client"), out));
        const membersFile = path.join(work, "members.json");
        fs.writeFileSync(membersFile, JSON.stringify(out.members));
        const restore = run("bash", [path.join(REPO_ROOT, "scripts/restore.sh"), "--snapshot", snapshot, "--members-json", membersFile, ...sshFlags(), "--yes"],
            { timeout: 10 * 60_000 });
        logStep("adopt: restore.sh of the old cluster's snapshot", restore.seconds);
        expect(restore.status).toBe(0);
        logStep("adopt: the cluster was unavailable (retire to restored)", (Date.now() - down) / 1000);

        // Every key, with its value, and nothing else; the history key keeps its version (3 writes).
        const got = JSON.parse(admin.must([endpoints[0]], ["get", "/adopt/key/", "--prefix", "-w", "json"]));
        expect(got.count).toBe(KEYS);
        const kvs = new Map<string, string>(got.kvs.map((kv: any) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value, "base64").toString()]));
        for (let i = 0; i < KEYS; i++) expect(kvs.get(key(i))).toBe(value(i));
        const history = JSON.parse(admin.must([endpoints[1]], ["get", "/adopt/history", "-w", "json"])).kvs[0];
        expect(Buffer.from(history.value, "base64").toString()).toBe("three");
        expect(history.version).toBe(3);
        const all = JSON.parse(admin.must([endpoints[2]], ["get", "", "--prefix", "--keys-only", "-w", "json"]));
        expect(all.count).toBe(KEYS + 1);
        expect(all.header.revision).toBeGreaterThanOrEqual(oldRevision + 1_000_000_000);
        // The component's etcd, its members and certificates; the seed's certificates are refused now.
        const status = JSON.parse(admin.must(endpoints, ["endpoint", "status", "-w", "json"]));
        expect(status.map((s: any) => s.Status.version)).toEqual([VERSION, VERSION, VERSION]);
        admin.must([endpoints[0]], ["put", "/adopt/after", "written with the component's admin certificate"]);
        expect(admin.must([endpoints[2]], ["get", "--print-value-only", "/adopt/after"]).trim()).toBe("written with the component's admin certificate");
        const old = seedClient.run([endpoints[0]], ["get", key(0)]);
        expect(old.status).not.toBe(0);
        expect(old.stdout).not.toContain(value(0));
        for (const h of rig.hosts) {
            expect(mustSsh(rig, h, "dpkg-query -W -f='${Status}\\n' etcd-server 2>/dev/null || true").trim()).not.toBe("install ok installed");
            expect(mustSsh(rig, h, "ls /var/lib/etcd.distribution-*/data/member/snap/db | wc -l").trim()).toBe("1");
        }
    }, 20 * 60_000);

    it("4. a second pulumi up changes nothing", () => {
        stack.up("adopt: pulumi up (no changes)", ["--expect-no-changes"]);
    }, 10 * 60_000);
});
