import { configureScript, renderBundle } from "../../components/etcd-cluster/render/configure-script";
import { checkScript } from "../../components/etcd-cluster/render/check-script";
import { etcdFlags, etcdUnit, FlagsInput, initialCluster } from "../../components/etcd-cluster/render/flags";
import { MEMBER_LIST_FUNCTIONS, pruneScript } from "../../components/etcd-cluster/render/membership";
import { spawnSync } from "child_process";
import { installScript, uninstallScript } from "../../components/etcd-cluster/render/install-script";
import { hostLayout, PKI_FILES } from "../../components/etcd-cluster/render/layout";
import { header } from "../../components/etcd-cluster/render/shell";
import { serializeUnit } from "../../components/etcd-cluster/render/systemd";
import { hcloudSpec } from "../helpers/spec";
import { shellcheck } from "../helpers/shellcheck";

const spec = hcloudSpec();
const layout = hostLayout(spec);
const members = [
    { name: "etcd-1", privateIp: "10.1.1.11", publicIp: "203.0.113.1" },
    { name: "etcd-2", privateIp: "10.1.1.12", publicIp: "203.0.113.2" },
    { name: "etcd-3", privateIp: "10.1.1.13", publicIp: "203.0.113.3" },
];
const flagsInput: FlagsInput = { member: members[1], layout, tuning: spec.tuning, metricsOnPrivateNetwork: false, clientsOnPublicAddress: true, peerCertificatesOnly: true };
const flagMap = (flags: string[]) => Object.fromEntries(flags.map((f) => f.replace(/^--/, "").split(/=(.*)/s).slice(0, 2)));

// Subjects are rendered in beforeEach, not in a describe body: Stryker attributes code run while jest collects
// the tests (or in beforeAll) to no test, and would not run these tests against its mutants.
describe("etcd flags", () => {
    // given the second of three members, when rendered, then:
    let flags: Record<string, string>;
    beforeEach(() => { flags = flagMap(etcdFlags(flagsInput)); });
    it("name the member and leave the initial cluster out, so that scaling restarts nobody", () => {
        expect(flags["name"]).toBe("etcd-2");
        expect(Object.keys(flags).filter((k) => k.startsWith("initial-cluster"))).toEqual([]);
        expect(initialCluster(members, layout)).toBe("etcd-1=https://10.1.1.11:2380,etcd-2=https://10.1.1.12:2380,etcd-3=https://10.1.1.13:2380");
    });
    it("serve clients on the public address only when asked", () => {
        expect(flagMap(etcdFlags({ ...flagsInput, clientsOnPublicAddress: false }))["listen-client-urls"]).toBe("https://10.1.1.12:2379,https://127.0.0.1:2379");
    });
    it("keep peers on the private network and serve clients on private, public and loopback", () => {
        expect(flags["listen-peer-urls"]).toBe("https://10.1.1.12:2380");
        expect(flags["initial-advertise-peer-urls"]).toBe("https://10.1.1.12:2380");
        expect(flags["listen-client-urls"]).toBe("https://10.1.1.12:2379,https://203.0.113.2:2379,https://127.0.0.1:2379");
        expect(flags["advertise-client-urls"]).toBe("https://10.1.1.12:2379");
    });
    it("turn on client and peer mTLS with TLS >= 1.2", () => {
        expect(flags).toMatchObject({
            "client-cert-auth": "true", "peer-client-cert-auth": "true", "tls-min-version": "TLS1.2",
            "trusted-ca-file": "/etc/etcd/pki/ca.crt", "cert-file": "/etc/etcd/pki/server.crt", "key-file": "/etc/etcd/pki/server.key",
            "peer-trusted-ca-file": "/etc/etcd/pki/ca.crt", "peer-cert-file": "/etc/etcd/pki/peer.crt", "peer-key-file": "/etc/etcd/pki/peer.key",
        });
    });
    it("allow forward-secret AEAD cipher suites only", () => {
        expect(flags["cipher-suites"].split(",")).toEqual([
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ]);
    });
    it("let only member peer certificates onto the peer port", () => {
        expect(flags["peer-cert-allowed-cn"]).toBe("etcd-peer");
        // Off only while a cluster whose peer certificates predate that CN rolls new ones out.
        expect(flagMap(etcdFlags({ ...flagsInput, peerCertificatesOnly: false }))["peer-cert-allowed-cn"]).toBeUndefined();
    });
    it("read the client CRL, as DER from the PKI directory, only when one is set", () => {
        expect(flags["client-crl-file"]).toBeUndefined();
        expect(flagMap(etcdFlags({ ...flagsInput, clientCrl: true }))["client-crl-file"]).toBe("/etc/etcd/pki/client-crl.der");
    });
    it("carry the tunables with their defaults", () => {
        expect(flags).toMatchObject({
            "heartbeat-interval": "100", "election-timeout": "1000", "quota-backend-bytes": String(2 * 1024 ** 3),
            "snapshot-count": "10000", "auto-compaction-mode": "periodic", "auto-compaction-retention": "8h",
        });
    });
    it("serve metrics on a separate listener, on loopback unless asked", () => {
        expect(flags["listen-metrics-urls"]).toBe("http://127.0.0.1:2381");
        expect(flagMap(etcdFlags({ ...flagsInput, metricsOnPrivateNetwork: true }))["listen-metrics-urls"]).toBe("http://127.0.0.1:2381,http://10.1.1.12:2381");
    });
    it("do not repeat the address when public and private are the same", () => {
        const same = { name: "etcd-2", privateIp: "10.1.1.12", publicIp: "10.1.1.12" };
        expect(flagMap(etcdFlags({ ...flagsInput, member: same }))["listen-client-urls"]).toBe("https://10.1.1.12:2379,https://127.0.0.1:2379");
    });
    it("follow custom ports and a custom data dir", () => {
        const custom = hostLayout({ ...spec, dataDir: "/srv/etcd", ports: { client: 12379, peer: 12380, metrics: 12381 } });
        const f = flagMap(etcdFlags({ ...flagsInput, layout: custom }));
        expect(f).toMatchObject({ "data-dir": "/srv/etcd", "listen-peer-urls": "https://10.1.1.12:12380",
            "advertise-client-urls": "https://10.1.1.12:12379", "listen-metrics-urls": "http://127.0.0.1:12381" });
        expect(custom.localClientUrl).toBe("https://127.0.0.1:12379");
    });
});

describe("systemd unit", () => {
    let unit: string;
    beforeEach(() => { unit = serializeUnit(etcdUnit(layout, etcdFlags(flagsInput))); });
    it("runs the versioned binary as the etcd user with notify semantics", () => {
        expect(unit).toContain("ExecStart=/usr/local/lib/etcd/v3.6.14/etcd \\\n  --name=etcd-2 \\\n");
        expect(unit).toMatch(/^Type=notify$/m);
        expect(unit).toMatch(/^User=etcd$/m);
        expect(unit).toMatch(/^Restart=on-failure$/m);
        expect(unit).toContain("EnvironmentFile=-/etc/etcd/bootstrap.env");
    });
    it("refuses values and command words that systemd would reinterpret", () => {
        expect(() => serializeUnit(etcdUnit(layout, ["--name=a b"]))).toThrow("contains a character systemd would reinterpret");
        expect(() => serializeUnit(etcdUnit(layout, ["--name=$HOME"]))).toThrow();
        expect(() => serializeUnit([{ name: "Timer", entries: [["OnCalendar", "daily\nExecStart=/bin/sh"]] }])).toThrow("OnCalendar");
        expect(() => serializeUnit([{ name: "Timer", entries: [["OnCalendar", "%H"]] }])).toThrow();
        expect(serializeUnit([{ name: "Timer", entries: [["OnCalendar", "*-*-* 02:30:00"]] }])).toContain("OnCalendar=*-*-* 02:30:00\n");
    });
    it("matches its snapshot", () => expect(unit).toMatchSnapshot());
});

describe("script header", () => {
    it("declares each value once, read-only and shell-quoted, in the order given", () => {
        expect(header("T", { B: "it's", A: 3, L: ["x y", "z"], F: true })).toBe(
            "#!/usr/bin/env bash\nset -euo pipefail\n# T (managed by the EtcdCluster Pulumi component).\n" +
            "readonly B='it'\"'\"'s'\nreadonly A=3\nreadonly L=('x y' 'z')\nreadonly F=1\n");
    });
    it("refuses names that are not UPPER_SNAKE_CASE and numbers that are not whole", () => {
        expect(() => header("T", { lower: "x" })).toThrow("UPPER_SNAKE_CASE");
        expect(() => header("T", { N: 1.5 })).toThrow("whole number");
        expect(() => header("T\nrm -rf /", {})).toThrow("a script title is one line");
    });
    it("keeps a value inert: what bash sees is the value itself", () => {
        const tricky = `$(touch /tmp/x) \`id\` "q" 'a' \\ \${HOME}`;
        const r = spawnSync("bash", ["-c", `${header("T", { V: tricky })}printf '%s' "$V"`], { encoding: "utf8" });
        expect(r.stdout).toBe(tricky);
    });
});

describe("host scripts", () => {
    const render = () => {
        const configureInput = {
            memberName: "etcd-2", layout, unit: serializeUnit(etcdUnit(layout, etcdFlags(flagsInput))),
            peerClientUrls: ["https://10.1.1.11:2379", "https://10.1.1.13:2379"], healthTimeoutSeconds: 120,
            selfPeerUrl: "https://10.1.1.12:2380", initialCluster: initialCluster(members, layout), clusterToken: "etcd-0123456789abcdef",
        };
        return {
            install: installScript({ release: spec.release, layout, owner: "etcd/etcd-2" }),
            uninstall: uninstallScript({ release: spec.release, layout, owner: "etcd/etcd-2" }),
            configure: configureScript(configureInput),
            start: configureScript({ ...configureInput, firstStartOnly: true }),
            check: checkScript({ layout, memberNames: members.map((m) => m.name), clientUrls: members.map((m) => layout.clientUrl(m.privateIp)), timeoutSeconds: 120 }),
            prune: pruneScript({ layout, wantedPeerUrls: members.map((m) => layout.peerUrl(m.privateIp)), clientUrls: members.map((m) => layout.clientUrl(m.privateIp)), healthTimeoutSeconds: 120 }),
        };
    };
    const names = ["install", "uninstall", "configure", "start", "check", "prune"] as const;
    let install: string, uninstall: string, configure: string, start: string, check: string, prune: string;
    beforeEach(() => { ({ install, uninstall, configure, start, check, prune } = render()); });

    it.each(names)("%s passes shellcheck and is strict", (name) => {
        const script = render()[name];
        expect(script.startsWith("#!/usr/bin/env bash\nset -euo pipefail\n")).toBe(true);
        expect(shellcheck(script)).toBe("");
    });
    it.each(names)("%s matches its snapshot", (name) => expect(render()[name]).toMatchSnapshot());
    it("install verifies the pinned sha256, refuses the distribution package and creates a 0700 data dir", () => {
        expect(install).toContain(`readonly SHA256='${spec.release.sha256}'`);
        expect(install).toContain("sha256sum --check");
        expect(install).toContain(`readonly URL='${spec.release.url}'`);
        expect(install).toContain("apt-get purge");
        expect(install).toContain("readonly DATA_DIR='/var/lib/etcd'");
        expect(install).toContain('install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"');
    });
    it("uninstall keeps the data", () => {
        expect(uninstall).toContain('mv "$DATA_DIR" "$kept"');
        expect(uninstall).not.toMatch(/rm -rf[^\n]*DATA_DIR/);
    });
    it("configure installs keys 0600 owned by etcd and gates restarts on the other members' health", () => {
        expect(configure).toContain("readonly MODES=('0644' '0644' '0600' '0644' '0600' '0644' '0600')");
        expect(configure).toContain("readonly FILES=('ca.crt' 'server.crt' 'server.key' 'peer.crt' 'peer.key' 'healthcheck-client.crt' 'healthcheck-client.key')");
        expect(configure).toContain('install -m "${MODES[$i]}" -o "$SERVICE_USER" -g "$SERVICE_USER"');
        expect(configure).toContain("refusing to restart etcd on $MEMBER");
        expect(configure).toContain("readonly PEERS=('https://10.1.1.11:2379' 'https://10.1.1.13:2379')");
    });
    it("configure snapshots the data before a member changes etcd version, and waits for all members after", () => {
        expect(configure).toContain("snapshot save \"$snapshot.part\"");
        expect(configure).toContain('"$ETCDUTL" snapshot status');
        expect(configure).toContain("readonly ETCDUTL='/usr/local/lib/etcd/v3.6.14/etcdutl'");
        expect(configure).toContain("pre-upgrade-v$running_version-to-v$VERSION");
        expect(configure).toContain('all_running "$list" "$(grep -c . <<<"$list")"');
    });
    it("configure joins a running cluster as a learner and promotes it, or starts a new one with the rendered initial cluster", () => {
        expect(configure).toContain("member add \"$MEMBER\" --peer-urls=\"$SELF_PEER_URL\" --learner");
        expect(configure).toContain("member promote \"$join_id\"");
        expect(configure).toContain("readonly INITIAL_CLUSTER='etcd-1=https://10.1.1.11:2380,etcd-2=https://10.1.1.12:2380,etcd-3=https://10.1.1.13:2380'");
        expect(configure).toContain("ETCD_INITIAL_CLUSTER_TOKEN=%s");
        expect(configure).toContain("readonly CLUSTER_TOKEN='etcd-0123456789abcdef'");
    });
    it("the start variant differs from the configure script by one header line", () => {
        const diff = (a: string, b: string) => a.split("\n").filter((l, i) => l !== b.split("\n")[i]);
        expect(diff(start, configure)).toEqual(["readonly FIRST_START_ONLY=1"]);
    });
    it("prune removes unwanted members one at a time, moving leadership first", () => {
        expect(prune).toContain("readonly WANTED=('https://10.1.1.11:2380' 'https://10.1.1.12:2380' 'https://10.1.1.13:2380')");
        expect(prune).toContain("move-leader");
        expect(prune).toContain("member remove");
    });
    it("check demands every member started and healthy and a round trip through each", () => {
        expect(check).toContain("readonly NAMES=('etcd-1' 'etcd-2' 'etcd-3')");
        expect(check).toContain('all_running "$list" "${#NAMES[@]}"');
        expect(check).toContain("endpoint health");
        expect(check).toContain("put \"$key\"");
        expect(check).toContain("get --consistency=l --print-value-only");
        expect(check).toContain("del \"$key\"");
    });
    it("the cluster-wide scripts use the target release's etcdctl with the health-check client certificate", () => {
        for (const s of [check, prune]) {
            expect(s).toContain("readonly ETCDCTL='/usr/local/lib/etcd/v3.6.14/etcdctl'");
            expect(s).toContain("readonly CLIENT_CERT='/etc/etcd/pki/healthcheck-client.crt'");
        }
    });
    it("no script pipes into grep -q, which fails at random under pipefail when grep exits early", () => {
        for (const s of Object.values(render())) expect(s).not.toMatch(/\|\s*grep\s+-\w*q/);
    });
    it("no script carries key material", () => {
        for (const s of [install, configure, check]) expect(s).not.toContain("PRIVATE KEY");
    });
});

describe("certificate bundle", () => {
    it("frames every PKI file in a fixed order", () => {
        const files = Object.fromEntries(Object.keys(PKI_FILES).map((k) => [k, `-----BEGIN X-----\n${k}\n-----END X-----\n`])) as never;
        const bundle = renderBundle(files);
        expect(bundle.split("\n").filter((l) => l.startsWith("--- FILE "))).toEqual(Object.values(PKI_FILES).map((f) => `--- FILE ${f.file}`));
        expect(bundle).toContain("--- FILE server.key\n-----BEGIN X-----\nserverKey\n-----END X-----\n");
        expect(bundle).not.toContain("client-crl");
    });
    it("carries the client CRL last, when there is one", () => {
        const files = Object.fromEntries(Object.keys(PKI_FILES).map((k) => [k, k])) as never;
        const bundle = renderBundle(files, "-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n");
        expect(bundle.endsWith("--- FILE client-crl.pem\n-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n")).toBe(true);
    });
});

describe("the shellcheck helper", () => {
    it("does report a real finding, so a clean result means something", () => {
        expect(shellcheck("#!/usr/bin/env bash\nrm -rf $dir/*\n")).toMatch(/SC2086|SC2115/);
    });
});

describe("member list parsing in bash", () => {
    // Lines as `etcdctl member list` prints them: id, status, name, peer URLs, client URLs, is learner.
    const list = [
        "6c252072b5c4c7d9, started, etcd-1, https://10.1.1.11:2380, https://10.1.1.11:2379, false",
        "b3e2bd74d6c9b230, started, etcd-2, https://10.1.1.12:2380, https://10.1.1.12:2379, false",
        "5a4111050ecf0621, started, etcd-3, https://10.1.1.13:2380, , false", // initial member, never started
        "7d1ab2c3d4e5f601, unstarted, , https://10.1.1.14:2380, , true",     // learner added, not started
    ].join("\n");
    const bash = (body: string) => spawnSync("bash", ["-c", `set -euo pipefail\n${MEMBER_LIST_FUNCTIONS}\n${body}`, "_", list], { encoding: "utf8" });
    it("finds a member by peer URL", () => {
        expect(bash('member_line "$1" https://10.1.1.14:2380').stdout.trim()).toBe("7d1ab2c3d4e5f601, unstarted, , https://10.1.1.14:2380, , true");
        expect(bash('member_line "$1" https://10.1.1.99:2380').status).toBe(1);
    });
    it("tells a member that ran from one that only has a name", () => {
        expect(bash('member_running "$(member_line "$1" https://10.1.1.12:2380)"').status).toBe(0);
        expect(bash('member_running "$(member_line "$1" https://10.1.1.13:2380)"').status).toBe(1);
    });
    it("lists the client URLs of the members that ran, except one", () => {
        expect(bash('client_urls "$1" https://10.1.1.11:2380').stdout.trim()).toBe("https://10.1.1.12:2379");
        expect(bash('client_urls "$1"').stdout.trim()).toBe("https://10.1.1.11:2379,https://10.1.1.12:2379");
    });
    it("all_running demands the count, a client URL on each and no learner", () => {
        const three = list.split("\n").slice(0, 2).join("\n");
        expect(spawnSync("bash", ["-c", `${MEMBER_LIST_FUNCTIONS}\nall_running "$1" 2`, "_", three]).status).toBe(0);
        expect(spawnSync("bash", ["-c", `${MEMBER_LIST_FUNCTIONS}\nall_running "$1" 3`, "_", three]).status).toBe(1);
        expect(bash('all_running "$1" 4').status).toBe(1);
    });
});
