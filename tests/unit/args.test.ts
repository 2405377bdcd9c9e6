import * as versions from "../../versions.json";
import { EtcdClusterArgs } from "../../components/etcd-cluster/args";
import { defaults, KNOWN_RELEASE_SHA256 } from "../../components/etcd-cluster/defaults";
import { resolveArgs } from "../../components/etcd-cluster/plan";

const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n";
const resolve = (args: EtcdClusterArgs) => resolveArgs("etcd", args);
const hc = (hcloud: EtcdClusterArgs["hcloud"], more: Partial<EtcdClusterArgs> = {}) => () => resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"], ...hcloud }, ...more });

describe("defaults", () => {
    it("match the seed procedure and the pinned etcd release", () => {
        const spec = resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] } });
        expect(spec.members.map((m) => m.name)).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
        expect(spec.hosts).toMatchObject({ kind: "hcloud", ssh: { kind: "generated" }, locations: ["ash"], memberLocations: ["ash", "ash", "ash"], networkZone: "us-east", serverType: "cpx11", image: "ubuntu-22.04",
            networkCidr: "10.1.0.0/16", subnetCidr: "10.1.1.0/24" });
        expect(spec.hosts.kind === "hcloud" && spec.hosts.privateIps).toEqual(["10.1.1.11", "10.1.1.12", "10.1.1.13"]);
        expect(spec.release.version).toBe(versions.etcd.default);
        expect(spec.release.sha256).toBe(KNOWN_RELEASE_SHA256[versions.etcd.default]);
        expect(spec.release.url).toBe(`https://github.com/etcd-io/etcd/releases/download/v${versions.etcd.default}/etcd-v${versions.etcd.default}-linux-amd64.tar.gz`);
        expect(spec.pki).toEqual({ caValidityHours: 87600, certValidityHours: 8760, earlyRenewalHours: 720, extraSans: [], activeCa: "a", trustedCas: ["a"], peerCertificatesOnly: true });
    });
    it("resolving with no overrides equals resolving with the defaults passed explicitly", () => {
        const implicit = resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] } });
        const explicit = resolve({
            memberCount: defaults.memberCount, hcloud: { ...defaults.hcloud, sshAllowedCidrs: ["203.0.113.0/24"] }, release: { ...defaults.release, sha256: implicit.release.sha256 },
            tuning: { ...defaults.tuning }, pki: { ...defaults.pki }, dataDir: defaults.dataDir, snapshotDir: defaults.snapshotDir,
            metricsOnPrivateNetwork: defaults.metricsOnPrivateNetwork, healthTimeoutSeconds: defaults.healthTimeoutSeconds,
            backup: { schedule: defaults.backup.schedule, keep: defaults.backup.keep }, maintenance: { ...defaults.maintenance },
        });
        expect(explicit).toEqual(implicit);
    });
    it("accepts a leading v and a mirror", () => {
        const spec = resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, release: { version: "v3.7.1", downloadBaseUrl: "http://mirror.local/etcd/" } });
        expect(spec.release.url).toBe("http://mirror.local/etcd/v3.7.1/etcd-v3.7.1-linux-amd64.tar.gz");
    });
});

describe("validation errors name the argument, the value and the fix", () => {
    it.each([
        [hc({}, { memberCount: 4 }), "memberCount must be odd to keep a majority (got 4); use 3 or 5."],
        [hc({}, { memberCount: 0 }), "memberCount must be a whole number from 1 to 9 (got 0)."],
        [hc({}, { memberCount: 11 }), "memberCount must be a whole number from 1 to 9 (got 11)."],
        [hc({}, { memberCount: 2.5 }), "memberCount must be a whole number from 1 to 9 (got 2.5)."],
        [hc({ subnetCidr: "10.2.1.0/24" }), "hcloud.subnetCidr 10.2.1.0/24 is not inside hcloud.networkCidr 10.1.0.0/16."],
        [hc({ networkCidr: "10.1.0.0/33" }), 'hcloud.networkCidr "10.1.0.0/33" is not an IPv4 network like 10.1.0.0/16.'],
        [hc({ subnetCidr: "10.1.1.7/24" }), 'hcloud.subnetCidr "10.1.1.7/24" is not an IPv4 network like 10.1.1.0/24.'],
        [hc({ subnetCidr: "10.1.1.0/29" }), "hcloud.subnetCidr 10.1.1.0/29 has too few addresses for 3 members from offset 10"],
        [hc({ serverType: "big-one" }), 'hcloud.serverType "big-one" does not look like a Hetzner server type'],
        [hc({ sshAllowedCidrs: ["0.0.0.0"] }), 'hcloud.sshAllowedCidrs contains "0.0.0.0", which is not a CIDR'],
        [() => resolve({ hcloud: {} }), 'hcloud.sshAllowedCidrs is undefined; list the source CIDRs that may reach SSH (22/tcp), where `pulumi up` runs from and your operators, e.g. ["203.0.113.7/32"]'],
        [hc({ sshAllowedCidrs: [] }), "hcloud.sshAllowedCidrs is []; list the source CIDRs"],
        [hc({ location: "fsn1" }), 'hcloud.location "fsn1" is in network zone eu-central, not hcloud.networkZone "us-east": the servers could not attach to the subnet. Set networkZone: "eu-central"'],
        [hc({ serverType: "cax11" }), 'hcloud.serverType "cax11" is an Arm64 server; the component installs etcd\'s linux-amd64 release. Use an x86 type'],
        [() => resolve({ existingHosts: [{} as any], sshPrivateKey: key }), "existingHosts[0].privateIp is missing: every host needs the address peers and clients use"],
        [() => resolve({ existingHosts: [{ privateIp: "10.0.0.1", sshUser: "admin" }], sshPrivateKey: key }), 'existingHosts[0].sshUser is "admin": the host scripts install packages, users and units without sudo, so the component connects as root. Use "root"'],
        [hc({}, { pki: { peerCertificatesOnly: "no" as any } }), 'pki.peerCertificatesOnly must be true or false (got "no").'],
        [hc({}, { pki: { extraSans: ["10.0.0.300"] } }), 'pki.extraSans contains "10.0.0.300", which is neither an IP address'],
        [hc({}, { release: { downloadBaseUrl: "https://user:hunter2@mirror.example.com/etcd" } }), 'release.downloadBaseUrl "https://***@mirror.example.com/etcd" carries credentials'],
        [hc({}, { dataDir: "/var/lib" }), 'dataDir "/var/lib" is a system directory: install would hand it to the etcd user and uninstall would move it away. Use a directory of its own, e.g. "/var/lib/etcd".'],
        [hc({}, { snapshotDir: "/etc" }), 'snapshotDir "/etc" is a system directory'],
        [hc({}, { dataDir: "/srv/etcd/data", snapshotDir: "/srv/etcd" }), "dataDir /srv/etcd/data must not lie inside snapshotDir /srv/etcd"],
        [hc({}, { dataDir: "/srv/etcd", snapshotDir: "/srv/etcd/snapshots" }), "snapshotDir /srv/etcd/snapshots must not lie inside dataDir /srv/etcd"],
        [hc({}, { backup: { s3: { endpoint: "http://10.0.0.5:9000", bucket: "bkp", accessKeyId: "a", secretAccessKey: "b" } } }), 'backup.s3.endpoint "http://10.0.0.5:9000" is plain http'],
        [hc({}, { backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp", accessKeyId: 'AKIA"X', secretAccessKey: "b" } } }), "backup.s3.accessKeyId contains a quote, a backslash, a space or a control character"],
        [hc({}, { clientsOnPublicAddress: true }), "clientsOnPublicAddress is for existingHosts; on Hetzner, hcloud.clientAllowedCidrs decides: the client port "
            + "listens on the public address exactly when that list names who may reach it."],
        [hc({}, { healthTimeoutSeconds: 0 }), "healthTimeoutSeconds must be a whole number between 1 and 3600 (got 0)."],
        [hc({ clientAllowedCidrs: ["10.0.0.0/8", "nope"] }), 'hcloud.clientAllowedCidrs contains "nope"'],
        [hc({ sshKeyNames: ["mine"] }), "hcloud.sshKeyNames is set, so sshPrivateKey must be given too"],
        [hc({ labels: { "bad key!": "x" } }), 'hcloud.labels entry "bad key!=x" is not a valid Hetzner label'],
        [hc({ labels: { etcd: true as unknown as string } }), 'hcloud.labels entry "etcd" must be a string (got boolean true); quote it in YAML: etcd: "true".'],
        [hc({}, { release: { version: "3.6" } }), 'release.version "3.6" is not a version like "3.6.16".'],
        [hc({}, { release: { version: "3.4.30", sha256: "a".repeat(64) } }), "release.version 3.4.30 is not supported"],
        [hc({}, { release: { version: "3.6.99" } }), "release.sha256 is required for etcd 3.6.99"],
        [hc({}, { release: { version: "3.6.99", sha256: "xyz" } }), 'release.sha256 "xyz" is not a sha256 (64 hex digits).'],
        [hc({}, { release: { downloadBaseUrl: "ftp://x" } }), 'release.downloadBaseUrl "ftp://x" must be an http(s) URL.'],
        [hc({}, { tuning: { heartbeatIntervalMs: 100, electionTimeoutMs: 400 } }), "tuning.electionTimeoutMs (400) must be at least 5 x tuning.heartbeatIntervalMs (100)"],
        [hc({}, { tuning: { quotaBackendBytes: 9 * 1024 ** 3 } }), "tuning.quotaBackendBytes must be a whole number between 1 and 8589934592"],
        [hc({}, { tuning: { autoCompactionMode: "revision", autoCompactionRetention: "8h" } }), 'tuning.autoCompactionRetention "8h" must be'],
        [hc({}, { pki: { certValidityHours: 100000 } }), "pki.certValidityHours (100000) must not exceed pki.caValidityHours (87600)"],
        [hc({}, { pki: { earlyRenewalHours: 9000 } }), "pki.earlyRenewalHours (9000) must be a whole number from 0 to below pki.certValidityHours (8760)."],
        [hc({}, { pki: { extraSans: ["etcd.example.com", "not a name"] } }), 'pki.extraSans contains "not a name"'],
        [hc({}, { pki: { activeCa: "b", trustedCas: ["a"] } }), 'pki.trustedCas ["a"] must include pki.activeCa "b"'],
        [hc({}, { pki: { trustedCas: [] } }), "pki.trustedCas must be \"a\", \"b\" or both, each once (got [])."],
        [hc({}, { pki: { activeCa: "c" as never } }), 'pki.activeCa must be "a" or "b" (got "c").'],
        [hc({}, { backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp", accessKeyId: "a", secretAccessKey: "b", uploadCutoffMiB: 6000 } } }),
            "backup.s3.uploadCutoffMiB must be a whole number between 1 and 5120 (got 6000)."],
        [hc({}, { pki: { clientCrlPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" } }),
            'pki.clientCrlPem must be one PEM certificate revocation list (-----BEGIN X509 CRL----- ... -----END X509 CRL-----), got text starting with "-----BEGIN CERTIFICATE-----"'],
        [hc({}, { dataDir: "var/lib/etcd" }), 'dataDir "var/lib/etcd" must be an absolute path'],
        [hc({}, { snapshotDir: "/var/lib/etcd/backups" }), "snapshotDir /var/lib/etcd/backups must not lie inside dataDir /var/lib/etcd"],
        [hc({}, { memberNamePrefix: "Etcd_" }), 'memberNamePrefix "Etcd_" must be lowercase letters'],
        [() => resolve({}), "Give exactly one of `hcloud`"],
        [() => resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, existingHosts: [{ privateIp: "10.0.0.1" }], sshPrivateKey: key }), "Give exactly one of `hcloud`"],
        [() => resolve({ existingHosts: [{ privateIp: "10.0.0.1" }] }), "existingHosts needs sshPrivateKey"],
        [() => resolve({ existingHosts: [{ privateIp: "10.0.0.1" }, { privateIp: "10.0.0.2" }], sshPrivateKey: key }), "memberCount must be odd to keep a majority (got 2); use 1 or 3."],
        [() => resolve({ existingHosts: [{ privateIp: "10.0.0.1" }, { privateIp: "10.0.0.1" }, { privateIp: "10.0.0.3" }], sshPrivateKey: key }), "existingHosts[1].privateIp 10.0.0.1 is used by another host"],
        [() => resolve({ existingHosts: [{ privateIp: "10.0.0.300" }], sshPrivateKey: key }), 'existingHosts[0].privateIp "10.0.0.300" is not an IP address.'],
        [() => resolve({ memberCount: 5, existingHosts: [{ privateIp: "10.0.0.1" }], sshPrivateKey: key }), "memberCount is 5 but 1 existingHosts were given"],
        [() => resolve({ existingHosts: [{ privateIp: "10.0.0.1", sshHostKey: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s" }], sshPrivateKey: key }),
            'existingHosts[0].sshHostKey "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s" is not an SSH public key line like "ssh-ed25519 AAAAC3Nza…"; copy it from the host\'s /etc/ssh/ssh_host_ed25519_key.pub.'],
    ])("%#: %s", (run, message) => {
        expect(run).toThrow(message);
    });
});

describe("CA rotation phases", () => {
    it("trusted CAs come out in a fixed order and default to the active one", () => {
        expect(resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, pki: { activeCa: "b" } }).pki.trustedCas).toEqual(["b"]);
        expect(resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, pki: { activeCa: "b", trustedCas: ["b", "a"] } }).pki.trustedCas).toEqual(["a", "b"]);
    });
});

describe("existing hosts", () => {
    it("default public IP, SSH host, port and user", () => {
        const spec = resolve({ existingHosts: [{ privateIp: "10.9.0.11" }, { privateIp: "10.9.0.12", publicIp: "198.18.0.12", name: "db-b", sshUser: "root" }, { privateIp: "10.9.0.13", sshHost: "jump", sshPort: 2222 }], sshPrivateKey: key });
        expect(spec.hosts).toMatchObject({ kind: "existing", sshPrivateKey: key });
        expect(spec.hosts.kind === "existing" && spec.hosts.hosts).toEqual([
            { name: "etcd-1", privateIp: "10.9.0.11", publicIp: "10.9.0.11", sshHost: "10.9.0.11", sshPort: 22, sshUser: "root" },
            { name: "db-b", privateIp: "10.9.0.12", publicIp: "198.18.0.12", sshHost: "198.18.0.12", sshPort: 22, sshUser: "root" },
            { name: "etcd-3", privateIp: "10.9.0.13", publicIp: "10.9.0.13", sshHost: "jump", sshPort: 2222, sshUser: "root" },
        ]);
    });
});

describe("the plan's hosts", () => {
    it("say which kind they are and carry the SSH key the component connects with", () => {
        expect(resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] } }).hosts).toMatchObject({ kind: "hcloud", ssh: { kind: "generated" } });
        expect(resolve({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, sshPrivateKey: key }).hosts).toMatchObject({ kind: "hcloud", ssh: { kind: "generated" } });
        expect(resolve({ hcloud: { sshKeyNames: ["mine"], sshAllowedCidrs: ["203.0.113.0/24"] }, sshPrivateKey: key }).hosts)
            .toMatchObject({ kind: "hcloud", ssh: { kind: "projectKeys", keyNames: ["mine"], privateKey: key } });
        expect(resolve({ existingHosts: [{ privateIp: "10.9.0.11" }], sshPrivateKey: key }).hosts)
            .toMatchObject({ kind: "existing", sshPrivateKey: key });
    });
});

describe("the client port on public addresses", () => {
    const existing = (more: Partial<EtcdClusterArgs> = {}) => resolve({ existingHosts: [{ privateIp: "10.9.0.11", publicIp: "198.18.0.11" }], sshPrivateKey: key, ...more });
    it("is off unless asked for (existing hosts) or someone may reach it there (Hetzner)", () => {
        expect(existing().clientsOnPublicAddress).toBe(false);
        expect(existing({ clientsOnPublicAddress: true }).clientsOnPublicAddress).toBe(true);
        expect(hc({})().clientsOnPublicAddress).toBe(false);
        expect(hc({ clientAllowedCidrs: ["198.51.100.0/24"] })().clientsOnPublicAddress).toBe(true);
    });
});

describe("accepted near the refused ones", () => {
    it("subdirectories of system directories, an http S3 endpoint when allowed, a location in its zone", () => {
        expect(hc({}, { dataDir: "/var/lib/etcd-main", snapshotDir: "/var/backups/etcd-main" })().dataDir).toBe("/var/lib/etcd-main");
        expect(hc({}, { backup: { s3: { endpoint: "http://10.0.0.5:9000", allowHttp: true, bucket: "bkp", accessKeyId: "a", secretAccessKey: "b" } } })().backup.s3?.endpoint)
            .toBe("http://10.0.0.5:9000");
        expect(hc({ location: "fsn1", networkZone: "eu-central" })().hosts).toMatchObject({ locations: ["fsn1"] });
        expect(hc({}, { pki: { extraSans: ["10.0.0.30", "etcd.example.com"] } })().pki.extraSans).toEqual(["10.0.0.30", "etcd.example.com"]);
        expect(hc({}, { pki: { clientCrlPem: "\n-----BEGIN X509 CRL-----\nMIIBCz\nAA==\n-----END X509 CRL-----" } })().pki.clientCrlPem)
            .toBe("-----BEGIN X509 CRL-----\nMIIBCz\nAA==\n-----END X509 CRL-----\n");
    });
});
