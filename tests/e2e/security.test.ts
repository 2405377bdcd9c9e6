// End to end: the trust boundaries of a real 3-member cluster on local hosts, probed from the outside with
// the certificates the stack hands out and the ones that sit on a member.
import * as fs from "fs";
import * as path from "path";
import { hostKeyUserData } from "../../components/etcd-cluster/render/host-key-user-data";
import { fingerprint } from "../../components/etcd-cluster/reachability";
import { TestStack } from "../../lab/pulumi";
import { logStep, mustRun, run } from "../../lab/run";
import { hostsConfig, mustSsh, Rig, rigStackConfig, rigUp, ssh, sshArgs, startUnit, tearDown } from "../../lab/rig";

const VERSION = process.env.ETCD_VERSION ?? "";
const RIG = "security";
/** systemd-analyze's exposure of etcd.service (0 = locked down, 10 = none); without the sandbox it is about 9. */
const MAX_EXPOSURE = 3.0;

describe("security of a 3-member cluster on local hosts", () => {
    let rig: Rig;
    let stack: TestStack;
    let files: string;
    let hostKeys: string[];
    const existingHosts = (keys: string[]) => hostsConfig(rig).map((h, i) => ({ ...h, sshHostKey: keys[i] }));
    const save = (name: string, text: string) => { const p = path.join(files, name); fs.writeFileSync(p, text, { mode: 0o600 }); return p; };

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        rig = rigUp(RIG, 3, { privatePrefix: "10.1.9", publicPrefix: "198.18.9" }, [VERSION]);
        // The hosts' real keys, pinned: every connection of the stack verifies them.
        hostKeys = rig.hosts.map((h) => mustSsh(rig, h, "cat /etc/ssh/ssh_host_ed25519_key.pub").trim());
        stack = new TestStack({ stack: RIG, config: { ...rigStackConfig(rig, { version: VERSION, healthTimeoutSeconds: 90 }), existingHosts: existingHosts(hostKeys) } });
        files = fs.mkdtempSync(path.join(stack.dir, "client-"));
        const up = stack.up("security: pulumi up from an empty stack");
        expect(up.stdout + up.stderr).not.toContain("sshHostKey");
    }, 20 * 60_000);

    afterAll(() => tearDown(stack, RIG), 10 * 60_000);

    it("the peer port accepts member peer certificates only; the others are refused there but valid on the client port", () => {
        const out = stack.outputs(true);
        const ca = save("ca.crt", out.caCertificate);
        const member = rig.hosts[0];
        const pkiFile = (file: string) => save(`member-${file}`, mustSsh(rig, member, `cat /etc/etcd/pki/${file}`));
        const certs = {
            kubeApiserver: { cert: save("kube.crt", out.kubeApiserverClientCertificate), key: save("kube.key", out.kubeApiserverClientKey) },
            admin: { cert: save("admin.crt", out.adminClientCertificate), key: save("admin.key", out.adminClientKey) },
            memberServer: { cert: pkiFile("server.crt"), key: pkiFile("server.key") },
            memberPeer: { cert: pkiFile("peer.crt"), key: pkiFile("peer.key") },
        };
        // Probed from the member the certificates sit on: the peer port also wants the address a client
        // certificate names (its IP SANs) to be the one the connection comes from, which only holds there.
        const probeDir = "/root/peer-port-probe";
        mustSsh(rig, member, `install -d -m 700 ${probeDir}`);
        for (const f of [certs.kubeApiserver.cert, certs.kubeApiserver.key, certs.admin.cert, certs.admin.key, ca]) {
            mustRun("ssh", sshArgs(rig, member, `cat > ${probeDir}/${path.basename(f)}`), { input: fs.readFileSync(f, "utf8"), timeout: 60_000 });
        }
        const onMember = (file: string) => (path.basename(file).startsWith("member-")
            ? `/etc/etcd/pki/${path.basename(file).replace(/^member-/, "")}` : `${probeDir}/${path.basename(file)}`);
        const get = (c: { cert: string; key: string }, url: string) => ssh(rig, member,
            `curl -sS --http1.1 --max-time 10 --cacert ${probeDir}/ca.crt --cert ${onMember(c.cert)} --key ${onMember(c.key)} ${url}`);
        const peerMembers = `https://${rig.hosts[1].privateIp}:2380/members`;

        const accepted = get(certs.memberPeer, peerMembers);
        expect(accepted.stderr).toBe("");
        expect(JSON.parse(accepted.stdout).map((m: any) => m.name).sort()).toEqual(rig.hosts.map((h) => h.name).sort());
        for (const [name, c] of Object.entries(certs).filter(([n]) => n !== "memberPeer")) {
            const refused = get(c, peerMembers);
            expect({ name, status: refused.status === 0 ? "accepted" : "refused" }).toEqual({ name, status: "refused" });
            expect(refused.stdout).not.toContain(member.name);
            // The same certificate is valid where it belongs: the client port.
            const client = get(c, `https://${rig.hosts[1].privateIp}:2379/version`);
            expect({ name, stderr: client.stderr }).toEqual({ name, stderr: "" });
            expect(JSON.parse(client.stdout).etcdserver).toBe(VERSION);
        }
    }, 5 * 60_000);

    it("the client port listens on the private address and loopback, not on the public address", () => {
        const out = stack.outputs(true);
        expect(out.publicClientEndpoints).toEqual([]);
        const h = rig.hosts[0];
        const get = (ip: string) => run("curl", ["-sS", "--http1.1", "--max-time", "10", "--cacert", path.join(files, "ca.crt"),
            "--cert", path.join(files, "admin.crt"), "--key", path.join(files, "admin.key"), `https://${ip}:2379/version`], { timeout: 30_000 });
        expect(JSON.parse(get(h.privateIp).stdout).etcdserver).toBe(VERSION);
        const pub = get(h.publicIp);
        expect(pub.status).toBe(7); // curl: could not connect
        expect(mustSsh(rig, h, "ss -Htln 'sport = :2379' | awk '{print $4}' | sort").trim().split("\n")).toEqual([`${h.privateIp}:2379`, "127.0.0.1:2379"].sort());
    }, 5 * 60_000);

    it("both ports speak TLS 1.2 with forward-secret AEAD suites only, or TLS 1.3", () => {
        const admin = ["-cert", path.join(files, "admin.crt"), "-key", path.join(files, "admin.key"), "-CAfile", path.join(files, "ca.crt")];
        const peer = ["-cert", path.join(files, "member-peer.crt"), "-key", path.join(files, "member-peer.key"), "-CAfile", path.join(files, "ca.crt")];
        const handshake = (port: number, args: string[]) => {
            const r = run("openssl", ["s_client", "-connect", `${rig.hosts[1].privateIp}:${port}`, ...(port === 2380 ? peer : admin), ...args],
                { input: "", timeout: 30_000 });
            return { ok: r.status === 0 && /Cipher is (?!\(NONE\))/.test(r.stdout), text: r.stdout + r.stderr };
        };
        for (const port of [2379, 2380]) {
            expect({ port, ok: handshake(port, ["-tls1_3"]).ok }).toEqual({ port, ok: true });
            expect({ port, ok: handshake(port, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]).ok }).toEqual({ port, ok: true });
            for (const weak of [["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"], ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA"], ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"]]) {
                expect({ port, weak, ok: handshake(port, weak).ok }).toEqual({ port, weak, ok: false });
            }
        }
    }, 5 * 60_000);

    it(`etcd runs sandboxed: systemd-analyze security rates etcd.service at most ${MAX_EXPOSURE} on every member`, () => {
        for (const h of rig.hosts) {
            const text = mustSsh(rig, h, "systemd-analyze security --no-pager etcd.service");
            const exposure = Number(/Overall exposure level for etcd\.service: ([\d.]+)/.exec(text)?.[1]);
            process.stdout.write(`[security] ${h.name}: systemd-analyze security etcd.service: ${exposure}\n`);
            expect(exposure).toBeLessThanOrEqual(MAX_EXPOSURE);
            expect(mustSsh(rig, h, "systemctl is-active etcd").trim()).toBe("active");
        }
    }, 5 * 60_000);

    it("the alarm check fails while a certificate under the PKI directory expires within the stated days", () => {
        const h = rig.hosts[0];
        const check = () => startUnit(rig, h, "etcd-alarm-check.service");
        const ok = check();
        expect(ok).toEqual({ ok: true, journal: expect.stringContaining("no certificate expires within 21 days") });
        // The leaves are valid for a year: with 400 days stated, every one of them is due.
        stack.setConfig({ maintenance: { certificateWarnDays: 400 } });
        stack.up("security: alarm check with certificateWarnDays 400");
        const due = check();
        expect(due.ok).toBe(false);
        expect(due.journal).toContain("FAILED: certificates expire soon: /etc/etcd/pki/healthcheck-client.crt (certificate 1");
        expect(due.journal).not.toContain("/etc/etcd/pki/ca.crt"); // the CA is valid for ten years
        for (const f of ["server.crt", "peer.crt", "healthcheck-client.crt"]) expect(due.journal).toContain(`/etc/etcd/pki/${f} (certificate 1`);
        stack.setConfig({ maintenance: {} });
        stack.up("security: alarm check back to the default");
        expect(check().ok).toBe(true);
    }, 10 * 60_000);

    it("a client CRL: the revoked certificates are refused on the client port; a new list needs no restart; a list from another CA is refused", () => {
        const out = stack.outputs(true);
        const dir = fs.mkdtempSync(path.join(files, "crl-"));
        const put = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
        put("ca.crt", out.caCertificate);
        put("kube.crt", out.kubeApiserverClientCertificate);
        put("kube.key", out.kubeApiserverClientKey);
        put("admin.crt", out.adminClientCertificate);
        put("admin.key", out.adminClientKey);
        // The CA key, where an operator takes it from: the stack's state (docs/operations.md, "Revoking a client certificate").
        const caKey = JSON.parse(stack.exportState(true)).deployment.resources
            .find((r: any) => r.type === "tls:index/privateKey:PrivateKey" && r.urn.endsWith("::etcd-ca-key")).outputs.privateKeyPem;
        put("ca.key", typeof caKey === "string" ? caKey : JSON.parse(caKey.plaintext)); // a secret: {…, plaintext: "<JSON>"}
        const openssl = (...args: string[]) => mustRun("openssl", args, { cwd: dir, timeout: 30_000 }).stdout;
        /** A CRL signed by CA (its .crt and .key in dir) revoking the certificates named, made as the docs show. */
        const crl = (ca: string, revoke: string[]) => {
            put("crl.cnf", "[ca]\ndefault_ca = crl\n[crl]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n");
            put("index.txt", "");
            put("crlnumber", "01\n");
            for (const c of revoke) openssl("ca", "-config", "crl.cnf", "-keyfile", `${ca}.key`, "-cert", `${ca}.crt`, "-revoke", `${c}.crt`);
            openssl("ca", "-config", "crl.cnf", "-keyfile", `${ca}.key`, "-cert", `${ca}.crt`, "-gencrl", "-out", "crl.pem");
            return fs.readFileSync(path.join(dir, "crl.pem"), "utf8");
        };
        /** Each member's answer on its client port to CERT: its etcd version, or "refused". */
        const answers = (cert: string) => rig.hosts.map((h) => {
            const r = run("curl", ["-sS", "--max-time", "10", "--cacert", path.join(dir, "ca.crt"), "--cert", path.join(dir, `${cert}.crt`),
                "--key", path.join(dir, `${cert}.key`), `https://${h.privateIp}:2379/version`], { timeout: 30_000 });
            return r.status === 0 ? JSON.parse(r.stdout).etcdserver : "refused";
        });
        const started = () => rig.hosts.map((h) => mustSsh(rig, h, "systemctl show etcd -p ExecMainStartTimestampMonotonic --value").trim());
        const installedCrl = () => rig.hosts.map((h) => mustSsh(rig, h, "sha256sum /etc/etcd/pki/client-crl.der").split(" ")[0]);
        const all = (answer: string) => rig.hosts.map(() => answer);
        expect(answers("kube")).toEqual(all(VERSION));

        // 1. The kube-apiserver certificate revoked: the flag rolls out, one member at a time.
        stack.setConfig({ pki: { clientCrlPem: crl("ca", ["kube"]) } });
        stack.up("security: a client CRL revoking the kube-apiserver certificate");
        expect(answers("kube")).toEqual(all("refused"));
        expect(answers("admin")).toEqual(all(VERSION));
        expect(mustSsh(rig, rig.hosts[0], "stat -c '%a %U' /etc/etcd/pki/client-crl.der").trim()).toBe("644 etcd");

        // 2. A new list that also revokes the admin certificate: installed, in force, and no member restarted.
        const before = started();
        stack.setConfig({ pki: { clientCrlPem: crl("ca", ["kube", "admin"]) } });
        stack.up("security: a new client CRL (no restart)");
        expect(stack.commandStdout(`etcd-${rig.hosts[2].name}-configure`)).toContain("client CRL installed (2 revoked certificates)");
        expect(answers("admin")).toEqual(all("refused"));
        expect(answers("kube")).toEqual(all("refused"));
        expect(started()).toEqual(before);

        // 3. A list signed by another CA: refused before anything changes; the members keep the last list.
        const kept = installedCrl();
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-subj", "/CN=other", "-days", "2", "-out", "other.crt");
        stack.setConfig({ pki: { clientCrlPem: crl("other", []) } });
        const refused = stack.tryPulumi(["up", "--yes", "--skip-preview"]);
        expect(refused.status).not.toBe(0);
        expect(refused.stdout + refused.stderr).toContain("it is not a CRL signed by a CA the cluster trusts");
        expect(installedCrl()).toEqual(kept);
        expect(answers("admin")).toEqual(all("refused"));

        // 4. Back to the first list: the admin certificate is accepted again, still without a restart. It stays
        //    for the next test, which checks that a second up changes nothing.
        stack.setConfig({ pki: { clientCrlPem: crl("ca", ["kube"]) } });
        stack.up("security: the client CRL that revokes the kube-apiserver certificate only");
        expect(answers("admin")).toEqual(all(VERSION));
        expect(answers("kube")).toEqual(all("refused"));
        expect(started()).toEqual(before);
    }, 10 * 60_000);

    it("a host that shows another SSH host key than the pinned one is refused before anything is sent to it", () => {
        mustRun("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not-the-host", "-f", path.join(files, "other_host_key")]);
        const otherKey = fs.readFileSync(path.join(files, "other_host_key.pub"), "utf8").trim();
        const target = rig.hosts[2];
        // Sessions the host accepted, counted by a session of its own (which counts itself).
        const sessions = () => Number(mustSsh(rig, target, "journalctl -u ssh --no-pager | grep -c 'Accepted publickey' || true").trim());
        const unit = () => mustSsh(rig, target, "sha256sum /etc/systemd/system/etcd.service");
        const unitBefore = unit();
        const sessionsBefore = sessions();

        stack.setConfig({ existingHosts: existingHosts([hostKeys[0], hostKeys[1], otherKey]), tuning: { snapshotCount: 5000 } });
        const failed = stack.tryPulumi(["up", "--yes", "--skip-preview"]);
        logStep("security: pulumi up against a wrong pinned host key (refused)", failed.seconds);
        expect(failed.status).not.toBe(0);
        // The reachability gate asks the host for its keys first: refused in seconds, not after minutes of dial retries.
        expect(failed.seconds).toBeLessThan(120); // 60 dials with the wrong key took 272 s; the engine alone ~10-70 s

        expect(failed.stdout + failed.stderr).toContain(`etcd member ${target.name} at ${target.publicIp}:22 does not show its pinned SSH host key ${fingerprint(otherKey)}`);
        expect(failed.stdout + failed.stderr).toContain("Nothing was changed. If the host was rebuilt on purpose, set its existingHosts[].sshHostKey");
        expect(sessions()).toBe(sessionsBefore + 1); // the second count's own session: the stack opened none
        expect(unit()).toBe(unitBefore);

        // With the right key the same change goes through.
        stack.setConfig({ existingHosts: existingHosts(hostKeys) });
        stack.up("security: pulumi up with the right host keys again");
        expect(mustSsh(rig, target, "grep -c -- '--snapshot-count=5000' /etc/systemd/system/etcd.service").trim()).toBe("1");
    }, 20 * 60_000);

    it("a second pulumi up changes nothing", () => {
        stack.up("security: pulumi up (no changes)", ["--expect-no-changes"]);
    }, 10 * 60_000);

    it("the Hetzner servers' user data installs the pinned host key: run on a member, sshd then shows that key", () => {
        mustRun("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(files, "new_host_key")]);
        const script = hostKeyUserData({
            privateKeyOpenssh: fs.readFileSync(path.join(files, "new_host_key"), "utf8"),
            publicKeyOpenssh: fs.readFileSync(path.join(files, "new_host_key.pub"), "utf8"),
        });
        const h = rig.hosts[0];
        const key = "/etc/ssh/ssh_host_ed25519_key";
        mustSsh(rig, h, `cp -p ${key} ${key}.orig && cp -p ${key}.pub ${key}.pub.orig`); // the stack pins this one: put back after
        mustRun("ssh", sshArgs(rig, h, "bash -s"), { input: script, timeout: 60_000 });
        const shown = mustRun("ssh-keyscan", ["-t", "ed25519", h.publicIp], { timeout: 30_000 }).stdout.trim().split(" ").slice(1).join(" ");
        expect(shown).toBe(fs.readFileSync(path.join(files, "new_host_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" "));
        expect(mustSsh(rig, h, `stat -c '%a %U' ${key}`).trim()).toBe("600 root");
        mustSsh(rig, h, `mv -f ${key}.orig ${key} && mv -f ${key}.pub.orig ${key}.pub && systemctl restart ssh`);
        expect(mustSsh(rig, h, `cat ${key}.pub`).trim()).toBe(hostKeys[0]);
    }, 5 * 60_000);
});
