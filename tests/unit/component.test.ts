// The component under Pulumi mocks: the resource graph per member count, SANs, ordering, secrets, outputs.
import * as pulumi from "@pulumi/pulumi";

import { OptionsCapture, promiseOf, recordingMocks, unwrapSecret, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster, EtcdClusterArgsError } from "../../components/etcd-cluster";

const capture = new OptionsCapture();
const captureDependsOn = capture.transformation;
const dependencyNames = (name: string) => capture.dependencyNames(name);

async function isSecret(o: pulumi.Output<unknown>): Promise<boolean> {
    return (o as any).isSecret as Promise<boolean>;
}
const ofType = (type: string) => created.filter((c) => c.type === type);
const find = (type: string, name: string) => {
    const c = created.find((r) => r.type === type && r.name === name);
    if (!c) throw new Error(`no ${type} named ${name}; have ${created.map((r) => r.name).join(", ")}`);
    return c;
};
/** Waits until the mock engine has registered everything the component declared. */
async function settle(cluster: EtcdCluster) {
    await promiseOf(cluster.clusterCheck);
    await settled();
}

beforeEach(() => { created.length = 0; });

describe.each([1, 3, 5])("an hcloud cluster of %i", (n) => {
    it("declares the expected resources", async () => {
        const cluster = new EtcdCluster("etcd", { memberCount: n, hcloud: { labels: { cluster: "cluster-1" }, sshAllowedCidrs: ["203.0.113.0/24"] } });
        await settle(cluster);
        const count = (t: string) => ofType(t).length;
        expect(count("hcloud:index/network:Network")).toBe(1);
        expect(count("hcloud:index/networkSubnet:NetworkSubnet")).toBe(1);
        expect(count("hcloud:index/placementGroup:PlacementGroup")).toBe(1);
        expect(count("hcloud:index/firewall:Firewall")).toBe(1);
        expect(count("hcloud:index/sshKey:SshKey")).toBe(1);
        expect(count("hcloud:index/server:Server")).toBe(n);
        expect(count("tls:index/selfSignedCert:SelfSignedCert")).toBe(1);
        expect(count("tls:index/locallySignedCert:LocallySignedCert")).toBe(2 * n + 3); // server + peer per member; kube-apiserver, health check, operator
        expect(count("tls:index/privateKey:PrivateKey")).toBe(1 + 2 * n + 3 + 1 + n); // CA, members, clients, SSH, host keys
        // host generation + install + start + configure + maintenance (+ server gate, with 2 or more) per member, preflight, membership, check
        expect(count("command:remote:Command")).toBe((n > 1 ? 6 : 5) * n + 3);
        expect(count("random:index/randomId:RandomId")).toBe(1);
    });
});

describe("an hcloud cluster of 3", () => {
    let cluster: EtcdCluster;
    beforeEach(async () => {
        cluster = new EtcdCluster("etcd", { hcloud: { labels: { cluster: "cluster-1" }, sshAllowedCidrs: ["203.0.113.0/24"] } }, { transformations: [captureDependsOn] });
        await settle(cluster);
    });

    it("pins private IPs, spreads servers and labels them", () => {
        const servers = ofType("hcloud:index/server:Server");
        expect(servers.map((s) => s.inputs.networks[0].ip)).toEqual(["10.1.1.11", "10.1.1.12", "10.1.1.13"]);
        expect(servers.map((s) => s.inputs.name)).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
        for (const s of servers) {
            expect(s.inputs).toMatchObject({ serverType: "cpx11", image: "ubuntu-22.04", location: "ash" });
            expect(s.inputs.labels).toMatchObject({ cluster: "cluster-1", "etcd-cluster": "etcd" });
            expect(s.inputs.placementGroupId).toBeDefined();
        }
        expect(find("hcloud:index/placementGroup:PlacementGroup", "etcd-spread").inputs.type).toBe("spread");
        expect(find("hcloud:index/networkSubnet:NetworkSubnet", "etcd-subnet").inputs).toMatchObject({ ipRange: "10.1.1.0/24", networkZone: "us-east" });
    });

    it("makes each server's SSH host key, installs it by user data (secret, never replacing a server) and pins it", () => {
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) {
            const publicKey = `ssh-ed25519 AAAA${created.findIndex((c) => c.name === `etcd-${m}-host-key`)}`;
            const userData = unwrapSecret(find("hcloud:index/server:Server", `etcd-${m}`).inputs.userData);
            expect(userData.secret).toBe(true);
            expect(userData.value).toContain(`\nmock-etcd-${m}-host-key\n`);
            expect(userData.value).toContain(`'${publicKey}'`);
            expect(capture.options.get(`etcd-${m}`)?.ignoreChanges).toEqual(["userData"]);
            for (const step of ["install", "configure"]) {
                const connection = unwrapSecret(find("command:remote:Command", `etcd-${m}-${step}`).inputs.connection).value;
                expect(connection.hostKey).toBe(publicKey);
            }
        }
    });

    it("opens SSH only, and never the peer port, on the public firewall", () => {
        const rules = find("hcloud:index/firewall:Firewall", "etcd-firewall").inputs.rules;
        expect(rules.map((r: any) => r.port)).toEqual(["22"]);
    });

    it("puts the member name, loopback and both IPs into the server and peer certificate SANs", () => {
        for (const role of ["server", "peer"]) {
            const csr = find("tls:index/certRequest:CertRequest", `etcd-etcd-2-${role}-csr`).inputs;
            expect(csr.dnsNames).toEqual(["etcd-2", "localhost"]);
            expect(csr.ipAddresses).toEqual(["127.0.0.1", "::1", "10.1.1.12", expect.stringMatching(/^203\.0\.113\.\d+$/)]);
        }
    });

    it("gives peer certificates a common name no server or client certificate has (the peer port allows only it)", () => {
        const subjects = ofType("tls:index/certRequest:CertRequest").map((r) => r.inputs.subject);
        const peers = subjects.filter((s) => s.organization === "etcd-peer");
        expect(peers.map((s) => [s.commonName, s.organizationalUnit])).toEqual([["etcd-peer", "etcd-1"], ["etcd-peer", "etcd-2"], ["etcd-peer", "etcd-3"]]);
        expect(subjects.filter((s) => s.organization !== "etcd-peer").map((s) => s.commonName)).not.toContain("etcd-peer");
    });

    it("gives each certificate the usages of its role", () => {
        expect(find("tls:index/locallySignedCert:LocallySignedCert", "etcd-etcd-1-server-cert").inputs.allowedUses).toContain("server_auth");
        expect(find("tls:index/locallySignedCert:LocallySignedCert", "etcd-etcd-1-peer-cert").inputs.allowedUses).toEqual(expect.arrayContaining(["server_auth", "client_auth"]));
        const client = find("tls:index/locallySignedCert:LocallySignedCert", "etcd-kube-apiserver-etcd-client-cert").inputs;
        expect(client.allowedUses).toContain("client_auth");
        expect(client.allowedUses).not.toContain("server_auth");
        expect(client).toMatchObject({ validityPeriodHours: 8760, earlyRenewalHours: 720 });
        expect(find("tls:index/selfSignedCert:SelfSignedCert", "etcd-ca").inputs).toMatchObject({ isCaCertificate: true, validityPeriodHours: 87600 });
    });

    it("sends keys over stdin only, never on the command line", () => {
        const commands = ofType("command:remote:Command");
        expect(commands.length).toBeGreaterThan(3 * 5); // every member's steps, not an empty list
        for (const c of commands) {
            expect(c.inputs.create ?? "").not.toContain("PRIVATE KEY");
            expect(c.inputs.update ?? "").not.toContain("PRIVATE KEY");
            expect(c.inputs.delete ?? "").not.toContain("PRIVATE KEY");
        }
        const stdin = unwrapSecret(find("command:remote:Command", "etcd-etcd-1-configure").inputs.stdin);
        expect(stdin.secret).toBe(true);
        expect(stdin.value).toContain("--- FILE server.key\n-----BEGIN PRIVATE KEY-----");
        // The private key makes the whole connection a secret (or at least the key in it).
        const connection = unwrapSecret(find("command:remote:Command", "etcd-etcd-1-install").inputs.connection);
        expect(connection.secret || unwrapSecret(connection.value.privateKey).secret).toBe(true);
        expect(connection.value.privateKey).toBeDefined();
    });

    it("orders: server before install before start (members in parallel) before configure, configure one member after another, the check after all", async () => {
        expect(await dependencyNames("etcd-preflight")).toEqual(["etcd-etcd-1", "etcd-reachable"]);
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) expect(await dependencyNames(`etcd-${m}-host`)).toEqual([`etcd-${m}`]);
        expect(await dependencyNames("etcd-etcd-1-install")).toEqual(["etcd-etcd-1", "etcd-etcd-1-host", "etcd-preflight"]);
        expect(await dependencyNames("etcd-etcd-2-install")).toEqual(["etcd-etcd-2", "etcd-etcd-2-host", "etcd-preflight"]);
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) expect(await dependencyNames(`etcd-${m}-start`)).toEqual([`etcd-${m}-install`]);
        expect(await dependencyNames("etcd-etcd-1-configure")).toEqual(["etcd-etcd-1-install", "etcd-etcd-1-start"]);
        expect(await dependencyNames("etcd-etcd-2-configure")).toEqual(["etcd-etcd-2-install", "etcd-etcd-2-start", "etcd-etcd-1-configure"]);
        expect(await dependencyNames("etcd-etcd-3-configure")).toEqual(["etcd-etcd-3-install", "etcd-etcd-3-start", "etcd-etcd-2-configure"]);
        expect(await dependencyNames("etcd-membership")).toEqual(["etcd-etcd-1-configure", "etcd-etcd-2-configure", "etcd-etcd-3-configure"]);
        expect(await dependencyNames("etcd-cluster-check")).toEqual(["etcd-membership"]);
        expect(await dependencyNames("etcd-etcd-1")).toEqual(["etcd-subnet"]);
    });

    it("exposes outputs for consumers, keys as secrets", async () => {
        expect(await promiseOf(cluster.clientEndpoints)).toEqual(["https://10.1.1.11:2379", "https://10.1.1.12:2379", "https://10.1.1.13:2379"]);
        expect((await promiseOf(cluster.members)).map((m) => m.name)).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
        expect(await promiseOf(cluster.caCertificate)).toContain("BEGIN CERTIFICATE");
        expect(await isSecret(cluster.kubeApiserverClientKey)).toBe(true);
        expect(await isSecret(cluster.adminClientKey)).toBe(true);
        // The admin output is the operator's own certificate: not the health-check one whose key is on every member.
        expect(await promiseOf(cluster.adminClientCertificate)).toContain("etcd-etcd-operator-client-cert");
        const memberStdin = unwrapSecret(find("command:remote:Command", "etcd-etcd-1-configure").inputs.stdin).value as string;
        expect(memberStdin).toContain("mock-etcd-etcd-healthcheck-client-key");
        expect(memberStdin).not.toContain(await promiseOf(cluster.adminClientKey));
        expect(await isSecret(cluster.sshPrivateKey)).toBe(true);
        expect(await isSecret(cluster.kubeApiserverClientCertificate)).toBe(false);
        expect(await promiseOf(cluster.etcdctlEnvironment)).toContain("ETCDCTL_ENDPOINTS=https://10.1.1.11:2379,https://10.1.1.12:2379,https://10.1.1.13:2379");
        // Metrics stay on loopback by default: no scrape target on the private network.
        expect(await promiseOf(cluster.prometheusTargets)).toEqual([]);
        expect(await promiseOf(cluster.prometheusRules)).toContain("alert: EtcdMemberDown");
    });
});

describe("monitoring outputs", () => {
    it("with metricsOnPrivateNetwork: a scrape target per member on its private address, rules with the cluster's quota percent", async () => {
        const cluster = new EtcdCluster("prod", {
            existingHosts: [{ name: "a", privateIp: "10.9.0.11", publicIp: "198.18.0.11" }, { name: "b", privateIp: "10.9.0.12", publicIp: "198.18.0.12" },
                { name: "c", privateIp: "10.9.0.13", publicIp: "198.18.0.13" }],
            sshPrivateKey: pulumi.secret("key"),
            metricsOnPrivateNetwork: true,
            maintenance: { quotaWarnPercent: 70 },
        });
        await settle(cluster);
        expect(await promiseOf(cluster.prometheusTargets)).toEqual(["a", "b", "c"].map((m, i) => (
            { targets: [`10.9.0.1${i + 1}:2381`], labels: { etcd_cluster: "prod", etcd_member: m } })));
        const rules = await promiseOf(cluster.prometheusRules);
        expect(rules).toContain("etcd_server_quota_backend_bytes{etcd_cluster!=\"\"} * 100 > 70'");
        expect(rules).not.toContain("> 80'");
    });
});

describe("existing hosts", () => {
    it("create no Hetzner resources and use the given addresses", async () => {
        const cluster = new EtcdCluster("local", {
            existingHosts: [{ privateIp: "10.9.0.11", publicIp: "198.18.0.11" }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }],
            sshPrivateKey: pulumi.secret("key"),
        });
        await settle(cluster);
        expect(created.filter((c) => c.type.startsWith("hcloud:"))).toEqual([]);
        expect(await promiseOf(cluster.clientEndpoints)).toEqual(["https://10.9.0.11:2379", "https://10.9.0.12:2379", "https://10.9.0.13:2379"]);
        const csr = find("tls:index/certRequest:CertRequest", "local-local-1-server-csr").inputs;
        expect(csr.ipAddresses).toEqual(["127.0.0.1", "::1", "10.9.0.11", "198.18.0.11"]);
    });
});

describe("SSH host keys of existing hosts", () => {
    it("are pinned when given, and the others are connected to unverified", async () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheFirstHost root@h1";
        const cluster = new EtcdCluster("local", {
            existingHosts: [{ privateIp: "10.9.0.11", sshHostKey: `${key}\n` }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }],
            sshPrivateKey: pulumi.secret("key"),
        });
        await settle(cluster);
        const hostKey = (m: string) => unwrapSecret(find("command:remote:Command", `local-${m}-configure`).inputs.connection).value.hostKey;
        expect(hostKey("local-1")).toBe(key);
        expect(hostKey("local-2")).toBeUndefined();
    });
});

describe("CA rotation", () => {
    const hosts = [{ privateIp: "10.9.0.11" }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }];
    it.each([
        ["a", ["a"], ["local-ca"], "local-ca", 1],
        ["a", ["a", "b"], ["local-ca", "local-ca-b"], "local-ca", 2],
        ["b", ["a", "b"], ["local-ca", "local-ca-b"], "local-ca-b", 2],
        ["b", ["b"], ["local-ca-b"], "local-ca-b", 1],
    ] as const)("active %s, trusted %j: CAs %j, leaves signed by %s, bundle of %i", async (activeCa, trustedCas, caNames, signer, bundled) => {
        const cluster = new EtcdCluster("local", { existingHosts: hosts, sshPrivateKey: pulumi.secret("key"), pki: { activeCa, trustedCas: [...trustedCas] } });
        await settle(cluster);
        expect(ofType("tls:index/selfSignedCert:SelfSignedCert").map((c) => c.name).sort()).toEqual([...caNames]);
        const leaf = find("tls:index/locallySignedCert:LocallySignedCert", "local-local-2-peer-cert").inputs;
        expect(leaf.caCertPem).toContain(`\n${signer}\n`);
        const bundle = await promiseOf(cluster.caCertificate);
        expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(bundled);
        const stdin = unwrapSecret(find("command:remote:Command", "local-local-1-configure").inputs.stdin).value as string;
        expect(stdin.split("--- FILE server.crt")[0].match(/BEGIN CERTIFICATE/g)).toHaveLength(bundled);
    });
});

describe("invalid arguments", () => {
    it("throw before any resource is registered", () => {
        expect(() => new EtcdCluster("bad", { memberCount: 4, hcloud: {} })).toThrow(EtcdClusterArgsError);
        expect(created.filter((c) => c.type !== "etcd-cluster:index:EtcdCluster")).toEqual([]);
    });
});
