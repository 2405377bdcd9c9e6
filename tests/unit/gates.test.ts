// The safety gates of the rendered host scripts, executed: each script runs under bash with fake etcdctl,
// systemctl, install, curl or ssh on PATH that record what they were asked to do, and each test checks
// both the refusal and that nothing after the gate ran. Paths are redirected to a temporary directory by
// rewriting the script's `readonly` header lines (the only place values enter a script).
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { configureScript, renderBundle } from "../../components/etcd-cluster/render/configure-script";
import { installScript } from "../../components/etcd-cluster/render/install-script";
import { hostLayout, PKI_FILES, PkiFileKey } from "../../components/etcd-cluster/render/layout";
import { pruneScript } from "../../components/etcd-cluster/render/membership";
import { restoreTool } from "../../components/etcd-cluster/render/restore-tool";

const layout = hostLayout({ dataDir: "/var/lib/etcd", snapshotDir: "/var/backups/etcd", ports: { client: 2379, peer: 2380, metrics: 2381 }, release: { version: "3.6.14" } });
const ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];

/** A scratch directory with bin/ (put first on PATH) and calls (what the fakes were asked), removed after each test. */
let dir: string;
beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gates-"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "calls"), "");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fake command: records its name and arguments in $dir/calls, then runs BODY. */
function fake(name: string, body = "exit 0") {
    fs.writeFileSync(path.join(dir, "bin", name), `#!/usr/bin/env bash\necho "${name} $*" >> '${dir}/calls'\n${body}\n`, { mode: 0o755 });
}
const calls = () => fs.readFileSync(path.join(dir, "calls"), "utf8").split("\n").filter(Boolean);

/** Replaces the script's `readonly NAME=...` line for each variable; fails if a line is missing. */
function withVars(script: string, vars: Record<string, string>): string {
    for (const [name, value] of Object.entries(vars)) {
        const re = new RegExp(`^readonly ${name}=.*$`, "m");
        if (!re.test(script)) throw new Error(`no readonly ${name} in the script`);
        script = script.replace(re, () => `readonly ${name}='${value}'`);
    }
    return script;
}

function run(script: string, args: string[] = [], input = "") {
    return spawnSync("bash", ["-c", script, "script", ...args], {
        encoding: "utf8", input, timeout: 30_000, env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` },
    });
}

const memberLine = (n: number, learner = false) => `${n}, started, etcd-${n}, https://${ips[n - 1]}:2380, https://${ips[n - 1]}:2379, ${learner}`;

describe("the health gate before a restart", () => {
    /**
     * etcd-1 restarts after a certificate change; `unhealthy` is the client URL whose health check fails;
     * `restartRuns`: the queued restart gives the unit a new run (InvocationID), or the old run goes on answering.
     */
    const configure = (unhealthy: string | undefined, restartRuns = true) => {
        fs.mkdirSync(path.join(dir, "data/member"), { recursive: true });
        fs.mkdirSync(path.join(dir, "pki"), { recursive: true });
        fake("etcdctl", `case "$*" in
  *"member list"*) printf '%s\\n' '${memberLine(1)}' '${memberLine(2)}' '${memberLine(3)}' ;;
  *"endpoint health"*) ${unhealthy ? `if [[ $* == *${unhealthy}* ]]; then echo "${unhealthy} is unhealthy: failed to commit proposal" >&2; exit 1; fi` : ""}
                       echo "healthy" ;;
esac`);
        fake("systemctl", `case "$1" in
  show) cat '${dir}/invocation' 2>/dev/null || echo old-run ;;
  restart) ${restartRuns ? `echo new-run > '${dir}/invocation'` : ":"} ;;
esac`);
        fake("install");
        fake("ln");
        const script = withVars(configureScript({
            memberName: "etcd-1", layout, unit: "[Unit]\nDescription=etcd\n",
            peerClientUrls: [layout.clientUrl(ips[1]), layout.clientUrl(ips[2])], selfPeerUrl: layout.peerUrl(ips[0]),
            initialCluster: "unused", clusterToken: "t", healthTimeoutSeconds: 2,
        }), {
            ETCDCTL: `${dir}/bin/etcdctl`, PKI_DIR: `${dir}/pki`, DATA_DIR: `${dir}/data`, SNAPSHOT_DIR: `${dir}/snapshots`,
            UNIT_PATH: `${dir}/etcd.service`, BOOTSTRAP_ENV_PATH: `${dir}/bootstrap.env`,
        });
        const bundle = renderBundle(Object.fromEntries(Object.keys(PKI_FILES).map((k) => [k, `new ${k}`])) as Record<PkiFileKey, string>);
        return run(script, [], bundle);
    };

    it("refuses with a peer unhealthy: exit 1, nothing installed, nothing restarted", () => {
        const r = configure("https://10.0.0.3:2379");
        expect(r.stderr).toContain("refusing to restart etcd on etcd-1: not every other member is healthy");
        expect(r.stderr).toContain("https://10.0.0.3:2379 is unhealthy");
        expect(r.status).toBe(1);
        // The gate asked the other members (not itself), and nothing after it ran.
        expect(calls()).toContainEqual(expect.stringMatching(/^etcdctl .*--endpoints=https:\/\/10\.0\.0\.2:2379,https:\/\/10\.0\.0\.3:2379 endpoint health$/));
        expect(calls().filter((c) => /^(install|ln) /.test(c) || /^systemctl (restart|daemon-reload|enable|stop)/.test(c))).toEqual([]);
        expect(fs.existsSync(path.join(dir, "etcd.service"))).toBe(false);
    });

    it("with every peer healthy the same run installs and restarts (so the test above can see a restart)", () => {
        const r = configure(undefined);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(calls()).toContain("systemctl restart --no-block etcd.service");
        expect(calls().filter((c) => c.startsWith("install "))).toHaveLength(Object.keys(PKI_FILES).length + 1); // the files and the unit
    });

    it("removes a client CRL no longer wanted only once the restarted unit (without the flag) is healthy", () => {
        const crl = path.join(dir, "pki", "client-crl.der");
        fs.mkdirSync(path.dirname(crl), { recursive: true });
        fs.writeFileSync(crl, "old list");
        expect(configure("https://10.0.0.3:2379").status).toBe(1);
        expect(fs.existsSync(crl)).toBe(true); // refused before the restart: the running etcd still reads it
        const r = configure(undefined);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("etcd on etcd-1: client CRL removed");
        expect(fs.existsSync(crl)).toBe(false);
    });

    it("after the restart, waits for a new run of the unit: the old run still answering healthy does not let the next member go", () => {
        const r = configure(undefined, false);
        expect(calls()).toContain("systemctl restart --no-block etcd.service");
        expect(r.stderr).toContain("etcd on etcd-1 or the cluster was not healthy within 2s after the restart");
        expect(r.status).toBe(1);
    });
});

describe("the client CRL, checked on the host before it is installed", () => {
    /** openssl in DIR/ca: a CA, the health-check certificate and a consumer's, each signed by it. */
    const ossl = (...args: string[]) => {
        const r = spawnSync("openssl", args, { cwd: path.join(dir, "ca"), encoding: "utf8" });
        if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
    };
    const newCa = (name: string) => {
        ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
        ossl("req", "-x509", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-days", "2", "-out", `${name}.crt`);
    };
    const newLeaf = (name: string, ca: string) => {
        ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
        ossl("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`);
        ossl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-days", "1", "-out", `${name}.crt`);
    };
    /** A CRL signed by CA that revokes the certificates named (openssl ca's own database, as docs/operations.md does it). */
    const crl = (ca: string, revoke: string[]) => {
        fs.writeFileSync(path.join(dir, "ca", "crl.cnf"),
            "[ca]\ndefault_ca = crl\n[crl]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n");
        fs.writeFileSync(path.join(dir, "ca", "index.txt"), "");
        fs.writeFileSync(path.join(dir, "ca", "crlnumber"), "01\n");
        for (const cert of revoke) ossl("ca", "-config", "crl.cnf", "-keyfile", `${ca}.key`, "-cert", `${ca}.crt`, "-revoke", `${cert}.crt`);
        ossl("ca", "-config", "crl.cnf", "-keyfile", `${ca}.key`, "-cert", `${ca}.crt`, "-gencrl", "-out", "crl.pem");
        return fs.readFileSync(path.join(dir, "ca", "crl.pem"), "utf8");
    };
    const pem = (name: string) => fs.readFileSync(path.join(dir, "ca", `${name}.crt`), "utf8");
    const installed = () => path.join(dir, "pki", "client-crl.der");

    /** etcd-1 with every file current and etcd running: only the CRL can change. */
    const configure = (clientCrlPem: string) => {
        fs.mkdirSync(path.join(dir, "data/member"), { recursive: true });
        fs.mkdirSync(path.join(dir, "pki"), { recursive: true });
        const files = Object.fromEntries(Object.keys(PKI_FILES).map((k) => [k, `current ${k}`])) as Record<PkiFileKey, string>;
        files.ca = pem("cluster-ca");
        files.healthcheckCert = pem("healthcheck");
        for (const [key, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, "pki", PKI_FILES[key as PkiFileKey].file), `${text.trimEnd()}\n`);
        const unit = "[Unit]\nDescription=etcd\n";
        fs.writeFileSync(path.join(dir, "etcd.service"), unit);
        fake("etcdctl", `echo '${memberLine(1)}'`);
        fake("systemctl");
        fake("install", 'cp "${@: -2:1}" "${@: -1}"'); // the owner needs the etcd user, which this machine lacks
        const script = withVars(configureScript({
            memberName: "etcd-1", layout, unit, peerClientUrls: [layout.clientUrl(ips[1])], selfPeerUrl: layout.peerUrl(ips[0]),
            initialCluster: "unused", clusterToken: "t", healthTimeoutSeconds: 2,
        }), { ETCDCTL: `${dir}/bin/etcdctl`, PKI_DIR: `${dir}/pki`, DATA_DIR: `${dir}/data`, UNIT_PATH: `${dir}/etcd.service` });
        return run(script, [], renderBundle(files, clientCrlPem));
    };

    beforeEach(() => {
        fs.mkdirSync(path.join(dir, "ca"));
        newCa("cluster-ca");
        newCa("other-ca");
        newLeaf("healthcheck", "cluster-ca");
        newLeaf("consumer", "cluster-ca");
    });

    it("installs a list signed by the cluster CA as DER, without a restart; the same list again changes nothing", () => {
        const list = crl("cluster-ca", ["consumer"]);
        const r = configure(list);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("etcd on etcd-1: client CRL installed (1 revoked certificates)");
        expect(r.stdout).toContain("configuration unchanged and running");
        expect(calls().filter((c) => /^systemctl (restart|stop)/.test(c))).toEqual([]);
        // What etcd reads: the DER form of the same list, naming the consumer's serial.
        const der = spawnSync("openssl", ["crl", "-inform", "DER", "-in", installed(), "-noout", "-text"], { encoding: "utf8" }).stdout;
        const serial = ossl("x509", "-in", "consumer.crt", "-noout", "-serial").trim().replace(/^serial=/, "");
        expect(der).toContain(`Serial Number: ${serial}`);
        const again = configure(list);
        expect(again.status).toBe(0);
        expect(again.stdout).not.toContain("client CRL installed");
    });

    it("refuses a list signed by another CA: exit 1, nothing installed", () => {
        const r = configure(crl("other-ca", []));
        expect(r.stderr).toContain("refusing pki.clientCrlPem on etcd-1: it is not a CRL signed by a CA the cluster trusts");
        expect(r.status).toBe(1);
        expect(fs.existsSync(installed())).toBe(false);
    });

    it("refuses a list that revokes the health-check certificate: exit 1, nothing installed", () => {
        const r = configure(crl("cluster-ca", ["consumer", "healthcheck"]));
        expect(r.stderr).toContain("refusing pki.clientCrlPem on etcd-1: it revokes the health-check certificate");
        expect(r.status).toBe(1);
        expect(fs.existsSync(installed())).toBe(false);
    });
});

describe("scale-down with the leader among the removed members", () => {
    /**
     * 5 members, 1-3 wanted; `leader` leads until move-leader hands leadership on. `member remove` answers
     * `refusal` the first `refused` times.
     */
    const prune = (leader: number, refused = 0, healthTimeoutSeconds = 30, refusal = "Error: etcdserver: unhealthy cluster") => {
        fs.writeFileSync(path.join(dir, "leader"), String(leader));
        fs.writeFileSync(path.join(dir, "refusals-left"), String(refused));
        fake("etcdctl", `state='${dir}'
case "$*" in
  *"member list"*)
    for n in 1 2 3 4 5; do
      [ -f "$state/removed-$n" ] || echo "$n, started, etcd-$n, https://10.0.0.$n:2380, https://10.0.0.$n:2379, false"
    done ;;
  *"endpoint status"*)
    [[ $* =~ --endpoints=https://10\\.0\\.0\\.([0-9]):2379 ]] || exit 1
    echo "[{\\"Endpoint\\":\\"x\\",\\"Status\\":{\\"header\\":{\\"member_id\\":\${BASH_REMATCH[1]}},\\"leader\\":$(cat "$state/leader")}}]" ;;
  *"move-leader"*) args="$*"; echo "\${args##* }" > "$state/leader" ;;
  *"member remove"*)
    args="$*"; id=\${args##* }
    left=$(cat "$state/refusals-left")
    if [ "$left" -gt 0 ]; then echo $((left - 1)) > "$state/refusals-left"; echo ${JSON.stringify(refusal)} >&2; exit 1; fi
    [ "$(cat "$state/leader")" != "$id" ] || echo "removed the leader $id" >> "$state/calls"
    touch "$state/removed-$id" ;;
esac`);
        const script = withVars(pruneScript({
            layout, wantedPeerUrls: ips.slice(0, 3).map(layout.peerUrl), clientUrls: ips.map(layout.clientUrl), healthTimeoutSeconds,
        }), { ETCDCTL: `${dir}/bin/etcdctl` });
        return run(script);
    };
    const ops = () => calls().filter((c) => /move-leader|member remove|removed the leader/.test(c)).map((c) => c.replace(/^etcdctl .* (move-leader|member remove)/, "$1"));

    it.each([4, 5])("moves leadership from member %i to a wanted member before removing it", (leader) => {
        const r = prune(leader);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("membership: 2 member(s) removed; 3 member(s) remain");
        const moved = ops().filter((c) => c.startsWith("move-leader"));
        expect(moved).toHaveLength(1);
        expect(["move-leader 1", "move-leader 2", "move-leader 3"]).toContain(moved[0]);
        expect(ops().indexOf(moved[0])).toBeLessThan(ops().indexOf(`member remove ${leader}`));
        expect(ops().filter((c) => c.startsWith("member remove"))).toEqual(["member remove 4", "member remove 5"]);
        expect(ops()).not.toContainEqual(expect.stringMatching(/^removed the leader/));
    });

    it("moves no leadership when a wanted member leads", () => {
        const r = prune(2);
        expect(r.status).toBe(0);
        expect(ops()).toEqual(["member remove 4", "member remove 5"]);
    });

    it("waits while etcd answers \"unhealthy cluster\" (its leader not yet connected long enough to the others)", () => {
        const r = prune(2, 2);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(ops()).toEqual(["member remove 4", "member remove 4", "member remove 4", "member remove 5"]);
        expect(r.stdout).toContain("membership: 2 member(s) removed; 3 member(s) remain");
    });

    it("gives up after healthTimeoutSeconds, saying why; any other refusal fails at once", () => {
        const late = prune(2, 100, 1);
        expect(late.status).toBe(1);
        expect(late.stderr).toContain("member remove 4 failed: Error: etcdserver: unhealthy cluster");
        expect(ops().filter((c) => c === "member remove 5")).toEqual([]);
        fs.writeFileSync(path.join(dir, "calls"), "");
        const other = prune(2, 1, 30, "Error: etcdserver: re-configuration failed due to not enough started members");
        expect(other.status).toBe(1);
        expect(other.stderr).toContain("member remove 4 failed: Error: etcdserver: re-configuration failed due to not enough started members");
        expect(ops()).toEqual(["member remove 4"]);
    });
});

describe("the install script's checksum", () => {
    /** Serves TARBALL from the fake curl; the script expects SHA256. */
    const install = (expectSha: (tarball: Buffer) => string) => {
        const rel = path.join(dir, "tar/etcd-v3.6.14-linux-amd64");
        fs.mkdirSync(rel, { recursive: true });
        for (const b of ["etcd", "etcdctl", "etcdutl"]) {
            fs.writeFileSync(path.join(rel, b), `#!/usr/bin/env bash\nprintf 'etcd Version: 3.6.14\\nGit SHA: x\\n'\n`, { mode: 0o755 });
        }
        const tarball = path.join(dir, "etcd.tar.gz");
        expect(spawnSync("tar", ["-czf", tarball, "-C", path.join(dir, "tar"), "etcd-v3.6.14-linux-amd64"]).status).toBe(0);
        fake("curl", `out=""; while (($#)); do if [ "$1" = -o ]; then out=$2; fi; shift; done; cp '${tarball}' "$out"`);
        fake("dpkg-query", "exit 1");
        fake("getent");
        const script = withVars(installScript({
            release: { version: "3.6.14", sha256: expectSha(fs.readFileSync(tarball)), url: "https://example.invalid/etcd.tar.gz" }, layout,
            owner: "etcd/etcd-1",
        }), {
            DEST: `${dir}/release`, DATA_DIR: `${dir}/data`, CONFIG_DIR: `${dir}/etc`, PKI_DIR: `${dir}/etc/pki`, RELEASES_DIR: `${dir}/releases`,
            SERVICE_USER: "root", OWNER_FILE: `${dir}/etc/owner`, UNIT_PATH: `${dir}/etc/etcd.service`,
        });
        return run(script);
    };

    it("refuses a download whose sha256 differs: exit 1, nothing unpacked, no release in place", () => {
        const r = install(() => "0".repeat(64));
        expect(r.stderr).toMatch(/^checksum mismatch for https:\/\/example\.invalid\/etcd\.tar\.gz: expected 0{64}, got [0-9a-f]{64}$/m);
        expect(r.status).toBe(1);
        expect(fs.existsSync(path.join(dir, "release"))).toBe(false);
    });

    it("installs the same tarball when the sha256 matches (so the test above can see an install)", () => {
        const r = install((t) => crypto.createHash("sha256").update(t).digest("hex"));
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain(`installed etcd 3.6.14 in ${dir}/release`);
        expect(fs.existsSync(path.join(dir, "release/etcdutl"))).toBe(true);
    });
});

describe("scripts/restore.sh with the rendered host tool", () => {
    const repo = path.resolve(__dirname, "../..");
    const members = [
        { name: "etcd-1", privateIp: "10.0.0.1", publicIp: "203.0.113.1" },
        { name: "etcd-2", privateIp: "10.0.0.2", publicIp: "203.0.113.2" },
        { name: "etcd-3", privateIp: "fd00::3", publicIp: null },
    ];
    /**
     * Runs restore.sh against a fake ssh that runs the rendered etcd-restore locally (one data directory per
     * host under $dir/hosts). `failCheckOn` makes that host's check fail; `corrupt` alters the snapshot in
     * transit to that host.
     */
    const restore = (opts: { args?: string[]; failCheckOn?: string; corrupt?: string; members?: unknown } = {}) => {
        const tool = withVars(restoreTool({ layout }), {
            DATA_DIR: `${dir}/hosts/$SSH_HOST/data`, SNAPSHOT_DIR: `${dir}/hosts/$SSH_HOST/snapshots`, ETCDUTL: `${dir}/bin/etcdutl`,
            UNIT_PATH: `${dir}/calls`, SERVICE_USER: "root", ETCDCTL: `${dir}/bin/etcdctl`,
        }).replace(/^readonly (DATA_DIR|SNAPSHOT_DIR)='(.*)'$/gm, 'readonly $1="$2"'); // per host, from the fake ssh
        fs.writeFileSync(path.join(dir, "etcd-restore"), tool, { mode: 0o755 });
        fake("ssh", `host=\${*: -2:1}; host=\${host#*@}; cmd=\${*: -1}
[ "$host" != '${opts.failCheckOn ?? ""}' ] || [[ $cmd != *" check "* ]] || { echo "no etcdutl on $host" >&2; exit 1; }
mkdir -p '${dir}/hosts/'"$host"
if [ "$host" = '${opts.corrupt ?? ""}' ] && [[ $cmd == *" receive "* ]]; then
  { cat; echo corrupted; } | SSH_HOST=$host bash -c "\${cmd/\\/usr\\/local\\/sbin\\/etcd-restore/bash '${dir}/etcd-restore'}"
else
  SSH_HOST=$host bash -c "\${cmd/\\/usr\\/local\\/sbin\\/etcd-restore/bash '${dir}/etcd-restore'}"
fi`);
        fake("etcdutl", `case "$1" in
  version) echo "etcdutl version: 3.6.14" ;;
  snapshot) [ "$2" = status ] && printf '"Revision" : 7\\n"Keys" : 3\\n' ;;
esac`);
        fake("systemctl", "exit 3"); // is-active: inactive
        fake("install", `while (($# > 1)); do shift; done; mkdir -p "$1"`);
        fake("chown");
        fs.writeFileSync(path.join(dir, "snap.db"), "snapshot bytes");
        fs.writeFileSync(path.join(dir, "members.json"), JSON.stringify(opts.members ?? members));
        return spawnSync("bash", [path.join(repo, "scripts/restore.sh"), "--snapshot", path.join(dir, "snap.db"), "--members-json", path.join(dir, "members.json"), ...(opts.args ?? ["--yes"])], {
            encoding: "utf8", input: "", timeout: 30_000, env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` },
        });
    };
    const steps = () => calls().filter((c) => c.startsWith("ssh ")).map((c) => c.replace(/^ssh .* root@(\S+) \/usr\/local\/sbin\/etcd-restore (\w+).*$/, "$1 $2"));
    const stops = () => calls().filter((c) => c.startsWith("systemctl stop") || c.startsWith("systemctl disable") || / stop\s*$/.test(c));

    it("reads the members JSON: names, private IPs (IPv6 too), SSH to the public address or the private one", () => {
        const r = restore({ args: [] }); // stops at the confirmation, after the checks
        expect(r.stdout).toContain("restore: members: etcd-1=10.0.0.1,etcd-2=10.0.0.2,etcd-3=fd00::3");
        expect(steps()).toEqual(["203.0.113.1 check", "203.0.113.2 check", "fd00::3 check"]);
        const again = restore({ args: ["--ssh-host-field", "privateIp"] });
        expect(again.stdout).toContain("restore: members: etcd-1=10.0.0.1,etcd-2=10.0.0.2,etcd-3=fd00::3");
        expect(steps().slice(3)).toEqual(["10.0.0.1 check", "10.0.0.2 check", "fd00::3 check"]);
    });

    it("refuses a member line it cannot use, before any SSH", () => {
        const r = restore({ members: [{ name: "etcd-1; reboot", privateIp: "10.0.0.1", publicIp: "203.0.113.1" }] });
        expect(r.stderr).toContain("restore: error: cannot use member line: etcd-1; reboot");
        expect(r.status).toBe(1);
        expect(steps()).toEqual([]);
        const empty = restore({ members: [] });
        expect(empty.stderr).toContain("restore: error: no members in");
        expect(empty.status).toBe(1);
    });

    it("refuses without --yes when stdin is not a terminal: hosts checked, nothing copied or stopped", () => {
        const r = restore({ args: [] });
        expect(r.stderr).toContain("restore: error: stdin is not a terminal: pass --yes to go ahead");
        expect(r.status).toBe(1);
        expect(steps().every((s) => s.endsWith(" check"))).toBe(true);
        expect(stops()).toEqual([]);
    });

    it("stops at a failed host check, before any snapshot is copied or any etcd stops", () => {
        const r = restore({ failCheckOn: "203.0.113.2" });
        expect(r.stderr).toContain("no etcdutl on 203.0.113.2");
        expect(r.status).not.toBe(0);
        expect(steps()).toEqual(["203.0.113.1 check", "203.0.113.2 check"]);
        expect(stops()).toEqual([]);
    });

    it("refuses a snapshot whose sha256 changed in transit, before any etcd stops, and keeps no partial copy", () => {
        const r = restore({ corrupt: "203.0.113.2" });
        expect(r.stderr).toMatch(/: the snapshot arrived with sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
        expect(r.status).not.toBe(0);
        expect(steps()).toEqual(["203.0.113.1 check", "203.0.113.2 check", "fd00::3 check", "203.0.113.1 receive", "203.0.113.2 receive"]);
        expect(stops()).toEqual([]);
        expect(fs.readdirSync(path.join(dir, "hosts/203.0.113.2/snapshots"))).toEqual([]);
        expect(fs.readdirSync(path.join(dir, "hosts/203.0.113.1/snapshots"))).toHaveLength(1); // an intact copy is kept and verified
    });
});

describe("scripts/restore.sh --from-member with the rendered host tool (quorum lost)", () => {
    const repo = path.resolve(__dirname, "../..");
    const members = [
        { name: "etcd-1", privateIp: "10.0.0.1", publicIp: "203.0.113.1" },
        { name: "etcd-2", privateIp: "10.0.0.2", publicIp: "203.0.113.2" },
        { name: "etcd-3", privateIp: "10.0.0.3", publicIp: "203.0.113.3" },
    ];
    const ONE = "a1, started, etcd-2, https://10.0.0.2:2380, https://10.0.0.2:2379, false";
    /**
     * A fake host etcd-2 (203.0.113.2) under $dir/host: `systemctl start` runs etcd (the file `running`), as a
     * one-member cluster (the file `forced`) when the force drop-in is there, and keeps a copy of the drop-in
     * it saw. etcdctl: a linearizable read succeeds at `quorumAt` (a private IP), or locally once forced.
     */
    const recover = (opts: { args?: string[]; quorumAt?: string; wal?: boolean } = {}) => {
        const host = `${dir}/host`;
        fs.mkdirSync(`${host}/data/member/wal`, { recursive: true });
        if (opts.wal !== false && !fs.existsSync(`${host}/data/member/wal/0.wal`)) fs.writeFileSync(`${host}/data/member/wal/0.wal`, "wal");
        const tool = withVars(restoreTool({ layout }), {
            DATA_DIR: `${host}/data`, SNAPSHOT_DIR: `${host}/snapshots`, ETCDUTL: `${dir}/bin/etcdutl`, UNIT_PATH: `${dir}/calls`,
            SERVICE_USER: "root", ETCDCTL: `${dir}/bin/etcdctl`, FORCE_DROPIN: `${host}/run/etcd.service.d/force.conf`,
        });
        fs.writeFileSync(path.join(dir, "etcd-restore"), tool, { mode: 0o755 });
        fake("ssh", `cmd=\${*: -1}; bash -c "\${cmd/\\/usr\\/local\\/sbin\\/etcd-restore/bash '${dir}/etcd-restore'}"`);
        fake("etcdutl", `echo "etcdutl version: 3.6.14"`);
        fake("systemctl", `case "$1" in
  is-active) if [ -e '${host}/running' ]; then echo active; else echo inactive; exit 3; fi ;;
  stop) rm -f '${host}/running' ;;
  start | restart) touch '${host}/running'; if [ -e '${host}/run/etcd.service.d/force.conf' ]; then cp '${host}/run/etcd.service.d/force.conf' '${host}/dropin-seen'; touch '${host}/forced'; fi ;;
esac`);
        fake("etcdctl", `ep=""; for a in "$@"; do case "$a" in --endpoints=*) ep=\${a#--endpoints=} ;; esac; done
# etcd-2 answers on loopback and on its private address.
local_up() { [[ $ep == https://127.0.0.1:2379 || $ep == *//10.0.0.2:* ]] && [ -e '${host}/running' ] && [ -e '${host}/forced' ]; }
case "$*" in
  *--count-only*) echo "Error: --count-only is only for --write-out=fields" >&2; exit 1 ;; # as etcdctl 3.6 says
  *" get "*) local_up || [[ $ep == *'//${opts.quorumAt ?? "none"}:'* ]] || { echo "context deadline exceeded" >&2; exit 1; } ;;
  *" member list"*) local_up || exit 1; printf '${ONE}\\n' ;;
  *" endpoint status"*) echo status ;;
esac`);
        fake("install", `while (($# > 1)); do shift; done; mkdir -p "$1"`);
        fake("du", `printf '12K\\t%s\\n' "$2"`);
        fs.writeFileSync(path.join(dir, "members.json"), JSON.stringify(members));
        return spawnSync("bash", [path.join(repo, "scripts/restore.sh"), "--members-json", path.join(dir, "members.json"), ...(opts.args ?? ["--from-member", "etcd-2", "--yes"])], {
            encoding: "utf8", input: "", timeout: 30_000, env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` },
        });
    };
    const steps = () => calls().filter((c) => c.startsWith("ssh ")).map((c) => c.replace(/^ssh .* root@(\S+) \/usr\/local\/sbin\/etcd-restore (\S+).*$/, "$1 $2"));
    const units = () => calls().filter((c) => c.startsWith("systemctl ") && !c.startsWith("systemctl is-active"));

    it("starts the survivor once with ETCD_FORCE_NEW_CLUSTER from a runtime drop-in, then from its unit alone; run again, it changes nothing", () => {
        const r = recover();
        expect(r.status).toBe(0);
        expect(steps()).toEqual(["203.0.113.2 check", "203.0.113.2 survivor", "203.0.113.2 force-new-cluster"]);
        expect(r.stdout).toContain("restore: [etcd-2] ");
        expect(r.stdout).toContain("no member serves a linearizable read (the quorum is lost); etcd-2 has data in");
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) expect(r.stderr).toContain(`: ${m} serves no linearizable read: context deadline exceeded`);
        expect(units()).toEqual(["systemctl stop etcd.service", "systemctl daemon-reload", "systemctl start etcd.service",
            "systemctl daemon-reload", "systemctl restart etcd.service"]);
        expect(fs.readFileSync(`${dir}/host/dropin-seen`, "utf8")).toBe("[Service]\nEnvironment=ETCD_FORCE_NEW_CLUSTER=true\n");
        expect(fs.existsSync(`${dir}/host/run/etcd.service.d/force.conf`)).toBe(false);
        expect(fs.readdirSync(`${dir}/host/data/member/wal`)).toEqual(["0.wal"]); // the data stays
        expect(r.stdout).toContain("etcd-2 runs alone with its data, from its unit as the component wrote it");

        fs.writeFileSync(path.join(dir, "calls"), "");
        const again = recover();
        expect(again.status).toBe(0);
        expect(again.stdout).toContain("etcd-2 already runs as a one-member cluster with its data; nothing to force");
        expect(again.stdout).toContain("restore: nothing to do.");
        expect(steps()).toEqual(["203.0.113.2 check", "203.0.113.2 survivor"]);
        expect(units()).toEqual([]);
    });

    it("refuses while another member still serves a linearizable read (a quorum), before anything stops", () => {
        const r = recover({ quorumAt: "10.0.0.3" });
        expect(r.stderr).toContain("refusing --from-member etcd-2: the cluster still has a quorum (etcd-3 serves a linearizable read). Nothing was changed.");
        expect(r.stderr).toContain("restore: error: nothing was changed (see above)");
        expect(r.status).toBe(1);
        expect(steps()).toEqual(["203.0.113.2 check", "203.0.113.2 survivor"]);
        expect(units()).toEqual([]);
    });

    it("refuses a survivor without data, before anything stops", () => {
        const r = recover({ wal: false });
        expect(r.stderr).toMatch(/refusing --from-member etcd-2: etcd-2 has no data \(\S+\/member\/wal is missing or empty\)\. Nothing was changed\. Name the member whose data survived, or restore from a snapshot/);
        expect(r.status).toBe(1);
        expect(units()).toEqual([]);
    });

    it("refuses an unknown member, a snapshot as well, and goes no further without --yes", () => {
        const unknown = recover({ args: ["--from-member", "etcd-9", "--yes"] });
        expect(unknown.stderr).toContain("restore: error: --from-member etcd-9: no member of that name in");
        expect(unknown.stderr).toContain("(members: etcd-1 etcd-2 etcd-3)");
        expect(unknown.status).toBe(1);
        const both = recover({ args: ["--from-member", "etcd-2", "--snapshot", "x.db", "--yes"] });
        expect(both.stderr).toContain("restore: error: --snapshot and --from-member are two different recoveries: pass one of them");
        expect(steps()).toEqual([]);
        const unconfirmed = recover({ args: ["--from-member", "etcd-2"] });
        expect(unconfirmed.stderr).toContain("restore: error: stdin is not a terminal: pass --yes to go ahead");
        expect(unconfirmed.status).toBe(1);
        expect(steps()).toEqual(["203.0.113.2 check", "203.0.113.2 survivor"]);
        expect(units()).toEqual([]);
    });
});
