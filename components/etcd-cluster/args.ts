// The component's arguments, their defaults (one object), and resolveArgs(): defaults + validation that
// throws a clear message before any resource exists. Values that must be validated are plain values,
// not Inputs: a half-built cluster is worse than a type that is a little less flexible.
import * as pulumi from "@pulumi/pulumi";
import * as versions from "../../versions.json";
import { cidrContains, cidrSize, isCidr, memberPrivateIp, parseIpv4, parseIpv4Cidr } from "./net";

/** Where the members run: Hetzner Cloud servers this component creates. */
export interface HcloudHostsArgs {
    /** Hetzner location of the servers (`hcloud location list`). @default "ash" */
    location?: string;
    /** Network zone of the subnet; must contain `location`. @default "us-east" */
    networkZone?: string;
    /** Server type, e.g. cpx11, cx22, cax11, ccx13. @default "cpx11" */
    serverType?: string;
    /** Image name or id. @default "ubuntu-22.04" */
    image?: string;
    /** IP range of the private network. @default "10.1.0.0/16" */
    networkCidr?: string;
    /** IP range of the subnet the servers attach to; must lie inside `networkCidr`. @default "10.1.1.0/24" */
    subnetCidr?: string;
    /** Member k (1-based) gets the private IP subnet address + offset + k. @default 10 (10.1.1.11, .12, …) */
    privateIpOffset?: number;
    /** Labels on every Hetzner resource, besides `etcd-cluster=<name>`. @default {} */
    labels?: Record<string, string>;
    /**
     * Names of SSH keys already in the Hetzner project to put on the servers. When set, no key is generated and
     * `sshPrivateKey` must be given. @default [] (a key is generated with @pulumi/tls)
     */
    sshKeyNames?: string[];
    /** Source CIDRs allowed to reach SSH (22/tcp) on the public interface. @default ["0.0.0.0/0", "::/0"] */
    sshAllowedCidrs?: string[];
    /**
     * Source CIDRs allowed to reach the client port (2379/tcp) on the public interface. The peer port is never
     * opened publicly: peers talk over the private network, which Hetzner firewalls do not filter.
     * @default [] (clients come over the private network)
     */
    clientAllowedCidrs?: string[];
}

/** Where the members run: machines that already exist (bring your own hosts, local test hosts). */
export interface ExistingHostArgs {
    /** Member name. @default "<memberNamePrefix>-<k>" */
    name?: string;
    /** Address peers and clients use (the private network). */
    privateIp: string;
    /** Public address, added to certificate SANs. @default privateIp */
    publicIp?: string;
    /** Address to SSH to. @default publicIp */
    sshHost?: string;
    /** @default 22 */
    sshPort?: number;
    /** @default "root" */
    sshUser?: string;
}

/** Which etcd release to install, and from where. */
export interface EtcdReleaseArgs {
    /** etcd version, `X.Y.Z` (a leading `v` is accepted). @default versions.json etcd.default (3.6.14) */
    version?: string;
    /**
     * sha256 of the linux-amd64 tarball. @default the official checksum when `version` is in KNOWN_RELEASE_SHA256,
     * otherwise required.
     */
    sha256?: string;
    /**
     * Base URL of the release assets; the tarball is `<base>/v<version>/etcd-v<version>-linux-amd64.tar.gz`.
     * Point it at a mirror for air-gapped sites. @default "https://github.com/etcd-io/etcd/releases/download"
     */
    downloadBaseUrl?: string;
}

/** etcd tunables. Each maps to one etcd flag; units are in the names. */
export interface EtcdTuningArgs {
    /** Milliseconds between leader heartbeats (`--heartbeat-interval`). @default 100 */
    heartbeatIntervalMs?: number;
    /** Milliseconds a follower waits before calling an election (`--election-timeout`); >= 5 x heartbeat. @default 1000 */
    electionTimeoutMs?: number;
    /** Backend size limit in bytes before the NOSPACE alarm (`--quota-backend-bytes`). @default 2 GiB */
    quotaBackendBytes?: number;
    /** Committed transactions between snapshots to disk (`--snapshot-count`). @default 10000 */
    snapshotCount?: number;
    /** `periodic` (retention is a duration) or `revision` (retention is a count) (`--auto-compaction-mode`). @default "periodic" */
    autoCompactionMode?: "periodic" | "revision";
    /** `--auto-compaction-retention`: e.g. "8h" for periodic, "10000" for revision; "0" disables. @default "8h" */
    autoCompactionRetention?: string;
}

/** Certificate authority and certificates. */
export interface PkiArgs {
    /** Validity of the CA certificate in hours. @default 87600 (10 years) */
    caValidityHours?: number;
    /** Validity of member and client certificates in hours. @default 8760 (1 year) */
    certValidityHours?: number;
    /** Leaf certificates are replaced this many hours before they expire, on the next `pulumi up`. @default 720 (30 days) */
    earlyRenewalHours?: number;
    /** Extra subject alternative names on every member's server and peer certificate: IPs or DNS names. @default [] */
    extraSans?: string[];
    /**
     * CA rotation. There are two CA slots, "a" and "b". `activeCa` signs every leaf certificate; `trustedCas` is
     * what members and clients trust (the `caCertificate` output is their bundle). Rotate a -> b in three
     * `pulumi up`s, each rolled one member at a time: trust both (active a, trusted [a, b]); sign with the new
     * one (active b, trusted [a, b]) — hand the new client certificates to consumers now; drop the old one
     * (active b, trusted [b]). @default "a"
     */
    activeCa?: CaSlot;
    /** CAs trusted during a rotation; must include `activeCa`. @default [activeCa] */
    trustedCas?: CaSlot[];
}

export type CaSlot = "a" | "b";

/**
 * Where scheduled snapshots are uploaded: any S3-compatible store (AWS S3, MinIO, Ceph RGW, Hetzner Object
 * Storage, …), path-style URLs `<endpoint>/<bucket>/<prefix><file>`, signed with AWS Signature V4 by the
 * backup script itself and sent with the hosts' curl. The bucket must exist; expire old objects with a lifecycle rule. Every value
 * reaches the hosts only over SSH stdin, into a 0600 file owned by `etcd`; keep the keys as Pulumi secrets.
 */
export interface BackupS3Args {
    /** Base URL, e.g. "https://s3.eu-central-1.amazonaws.com" or "http://10.0.0.5:9000". */
    endpoint: string;
    /** Bucket name (S3 rules: 3-63 characters of lowercase letters, digits, '.', '-'). */
    bucket: string;
    /** Signing region. @default "us-east-1" */
    region?: string;
    /** Key prefix of the uploaded objects. @default "<component name>/" */
    prefix?: string;
    /** Access key id. Secret. */
    accessKeyId: pulumi.Input<string>;
    /** Secret access key. Secret. */
    secretAccessKey: pulumi.Input<string>;
}

/**
 * Scheduled snapshots. Every member gets the timer; the run on the member that is the raft leader at that
 * moment takes the snapshot (one per tick for the cluster), the others log that they skipped.
 */
export interface BackupArgs {
    /** systemd `OnCalendar=` of etcd-backup.timer; "" installs no timer (start etcd-backup.service by hand). @default "hourly" */
    schedule?: string;
    /** Scheduled snapshots kept per host in `snapshotDir` (pre-upgrade snapshots are never pruned). @default 24 */
    keep?: number;
    /** Upload every scheduled snapshot to S3-compatible storage. @default none (local snapshots only) */
    s3?: BackupS3Args;
}

/** Defragmentation and the backend quota check, as systemd units on every member. */
export interface MaintenanceArgs {
    /**
     * systemd `OnCalendar=` of etcd-defrag-scheduled.timer: the leader then defragments every member, one at a
     * time. "" installs no timer (etcd-defrag.service still walks the cluster on demand). @default "weekly"
     */
    defragSchedule?: string;
    /** systemd `OnCalendar=` of etcd-alarm-check.timer. @default "*:0/5" (every five minutes) */
    alarmCheckSchedule?: string;
    /** The alarm check fails once the backend reaches this share of `tuning.quotaBackendBytes`, in percent. @default 80 */
    quotaWarnPercent?: number;
}

export interface EtcdClusterArgs {
    /** Number of members: odd, so that a majority survives the loss of (n-1)/2 members; 1 to 9. @default 3 */
    memberCount?: number;
    /** Member k is named `<memberNamePrefix>-<k>`; also the Hetzner server name. @default the component's name */
    memberNamePrefix?: string;
    /** Create Hetzner Cloud servers. Exactly one of `hcloud` and `existingHosts` is given. */
    hcloud?: HcloudHostsArgs;
    /** Use existing machines; their number is the member count. Exactly one of `hcloud` and `existingHosts`. */
    existingHosts?: ExistingHostArgs[];
    /** SSH private key (OpenSSH/PEM) for existing hosts or for `hcloud.sshKeyNames`. Stored as a secret. */
    sshPrivateKey?: pulumi.Input<string>;
    /** etcd release. @default see EtcdReleaseArgs */
    release?: EtcdReleaseArgs;
    /** etcd tunables. @default see EtcdTuningArgs */
    tuning?: EtcdTuningArgs;
    /** Certificates. @default see PkiArgs */
    pki?: PkiArgs;
    /** etcd data directory on the hosts (created 0700, owned by `etcd`). @default "/var/lib/etcd" */
    dataDir?: string;
    /** Where snapshots are kept on the hosts (pre-upgrade snapshots, scheduled backups); 0700, owned by `etcd`. @default "/var/backups/etcd" */
    snapshotDir?: string;
    /** Serve Prometheus metrics on the private IP too (plain HTTP, port 2381), not only on 127.0.0.1. @default false */
    metricsOnPrivateNetwork?: boolean;
    /** Seconds a rolling restart waits for a member to become healthy before failing the deployment. @default 120 */
    healthTimeoutSeconds?: number;
    /** Scheduled snapshots, kept locally and optionally uploaded. @default see BackupArgs */
    backup?: BackupArgs;
    /** Defragmentation and the quota alarm check. @default see MaintenanceArgs */
    maintenance?: MaintenanceArgs;
}

export const OFFICIAL_RELEASE_BASE_URL = "https://github.com/etcd-io/etcd/releases/download";

/**
 * sha256 of the official `etcd-v<version>-linux-amd64.tar.gz` assets, as published in each release's SHA256SUMS
 * (cross-checked against several independent pins, e.g. Kubespray's checksums.yml). Other versions need `sha256`.
 */
export const KNOWN_RELEASE_SHA256: Readonly<Record<string, string>> = {
    "3.6.14": "ffe840ff9295808e88cce2794a18a5ac87f12a5203c8314d0bf6aa119b41bac5",
    "3.7.0": "b05cb07f5686dab8f9cdab89986b44f0dd24aaf5c627176aff325e21fa56f9f0",
    "3.7.1": "e8cd3fa8064c98137c5dbd78b76f969417ace84efb83c481041d7a52ffdd8fb9",
    "3.7.2": "3a3679bc51a4ee9d30bccea1da7cd4fe62c6fc1d2ca1255068d2c53bf3026135",
};

/** Every default, in one place. */
export const defaults = {
    memberCount: 3,
    hcloud: {
        location: "ash",
        networkZone: "us-east",
        serverType: "cpx11",
        image: "ubuntu-22.04",
        networkCidr: "10.1.0.0/16",
        subnetCidr: "10.1.1.0/24",
        privateIpOffset: 10,
        labels: {} as Record<string, string>,
        sshKeyNames: [] as string[],
        sshAllowedCidrs: ["0.0.0.0/0", "::/0"],
        clientAllowedCidrs: [] as string[],
    },
    release: {
        version: versions.etcd.default,
        downloadBaseUrl: OFFICIAL_RELEASE_BASE_URL,
    },
    tuning: {
        heartbeatIntervalMs: 100,
        electionTimeoutMs: 1000,
        quotaBackendBytes: 2 * 1024 ** 3,
        snapshotCount: 10_000,
        autoCompactionMode: "periodic" as "periodic" | "revision",
        autoCompactionRetention: "8h",
    },
    pki: {
        caValidityHours: 10 * 8760,
        certValidityHours: 8760,
        earlyRenewalHours: 30 * 24,
        extraSans: [] as string[],
        activeCa: "a" as CaSlot,
    },
    dataDir: "/var/lib/etcd",
    snapshotDir: "/var/backups/etcd",
    metricsOnPrivateNetwork: false,
    healthTimeoutSeconds: 120,
    backup: {
        schedule: "hourly",
        keep: 24,
        s3: { region: "us-east-1" },
    },
    maintenance: {
        defragSchedule: "weekly",
        alarmCheckSchedule: "*:0/5",
        quotaWarnPercent: 80,
    },
    ports: { client: 2379, peer: 2380, metrics: 2381 },
};

export const MAX_MEMBERS = 9;
/** etcd refuses a backend quota above 8 GiB ("exceeds maximum recommended"); we refuse it up front. */
export const MAX_QUOTA_BACKEND_BYTES = 8 * 1024 ** 3;

/** A member as the rest of the component sees it: name and, when known before deploy, its private IP. */
export interface MemberPlan {
    readonly index: number;
    readonly name: string;
}

export type ResolvedHcloud = Required<HcloudHostsArgs>;
export interface ResolvedExistingHost {
    name: string;
    privateIp: string;
    publicIp: string;
    sshHost: string;
    sshPort: number;
    sshUser: string;
}
export interface ResolvedRelease {
    version: string;
    sha256: string;
    url: string;
}

export interface ResolvedBackupS3 {
    endpoint: string;
    bucket: string;
    region: string;
    prefix: string;
    accessKeyId: pulumi.Input<string>;
    secretAccessKey: pulumi.Input<string>;
}
export interface ResolvedBackup {
    schedule: string;
    keep: number;
    s3?: ResolvedBackupS3;
}

/** The arguments with every default applied and every rule checked. */
export interface ClusterSpec {
    clusterName: string;
    members: MemberPlan[];
    hcloud?: ResolvedHcloud & { privateIps: string[] };
    existingHosts?: ResolvedExistingHost[];
    release: ResolvedRelease;
    tuning: Required<EtcdTuningArgs>;
    pki: Required<PkiArgs>;
    dataDir: string;
    snapshotDir: string;
    metricsOnPrivateNetwork: boolean;
    healthTimeoutSeconds: number;
    backup: ResolvedBackup;
    maintenance: Required<MaintenanceArgs>;
    ports: typeof defaults.ports;
}

/** Error for invalid arguments; its message names the argument, the value and what to do. */
export class EtcdClusterArgsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "EtcdClusterArgsError";
    }
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const SHA256 = /^[0-9a-f]{64}$/;
/** Hetzner server type names: family letters then digits, e.g. cx22, cpx11, cax11, ccx13. */
const SERVER_TYPE = /^[a-z]{2,4}\d{2,3}$/;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9*]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const DURATION_OR_COUNT = /^(\d+|(\d+(\.\d+)?(h|m|s|ms))+)$/;

/** Parses `X.Y.Z` or `vX.Y.Z`; undefined when malformed. */
export function parseVersion(text: string): [number, number, number] | undefined {
    const m = SEMVER.exec(text);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function fail(message: string): never {
    throw new EtcdClusterArgsError(message);
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
    if (!Number.isInteger(value) || value <= 0 || value > max) {
        fail(`${name} must be a whole number between 1 and ${max} (got ${value}).`);
    }
    return value;
}

function cidrList(name: string, values: string[]): string[] {
    for (const c of values) {
        if (!isCidr(c)) fail(`${name} contains "${c}", which is not a CIDR; write e.g. "203.0.113.0/24" or "::/0".`);
    }
    return values;
}

function hostPath(name: string, value: string): string {
    if (!/^\/[A-Za-z0-9._/-]+$/.test(value) || value.split("/").includes("..") || value === "/" || value.endsWith("/")) {
        fail(`${name} "${value}" must be an absolute path of letters, digits, '.', '_', '-' and '/' (no '..', no trailing '/').`);
    }
    return value;
}

function isIpAddress(text: string): boolean {
    return parseIpv4(text) !== undefined || (text.includes(":") && isCidr(`${text}/128`));
}

/** Applies defaults and checks every rule; throws EtcdClusterArgsError before any resource is created. */
export function resolveArgs(name: string, args: EtcdClusterArgs): ClusterSpec {
    const prefix = args.memberNamePrefix ?? name;
    if (!DNS_LABEL.test(`${prefix}-9`)) {
        fail(`memberNamePrefix "${prefix}" must be lowercase letters, digits and '-' (a DNS label); member names become host names.`);
    }
    if ((args.hcloud === undefined) === (args.existingHosts === undefined)) {
        fail("Give exactly one of `hcloud` (create Hetzner servers) and `existingHosts` (use machines you have).");
    }

    const memberCount = args.existingHosts?.length ?? args.memberCount ?? defaults.memberCount;
    if (args.existingHosts && args.memberCount !== undefined && args.memberCount !== memberCount) {
        fail(`memberCount is ${args.memberCount} but ${memberCount} existingHosts were given; drop memberCount or make them agree.`);
    }
    if (!Number.isInteger(memberCount) || memberCount < 1 || memberCount > MAX_MEMBERS) {
        fail(`memberCount must be a whole number from 1 to ${MAX_MEMBERS} (got ${memberCount}).`);
    }
    if (memberCount % 2 === 0) {
        fail(`memberCount must be odd to keep a majority (got ${memberCount}); use ${memberCount - 1} or ${memberCount + 1}.`);
    }
    const members: MemberPlan[] = Array.from({ length: memberCount }, (_, index) => ({
        index,
        name: args.existingHosts?.[index]?.name ?? `${prefix}-${index + 1}`,
    }));
    const names = new Set<string>();
    for (const m of members) {
        if (!DNS_LABEL.test(m.name)) fail(`member name "${m.name}" must be a DNS label (lowercase letters, digits, '-').`);
        if (names.has(m.name)) fail(`member name "${m.name}" is used twice; member names must be unique.`);
        names.add(m.name);
    }

    const hcloud = args.hcloud ? resolveHcloud(args.hcloud, memberCount, args.sshPrivateKey) : undefined;
    const existingHosts = args.existingHosts ? resolveExisting(args.existingHosts, members, args.sshPrivateKey) : undefined;

    const tuning = { ...defaults.tuning, ...args.tuning };
    positiveInteger("tuning.heartbeatIntervalMs", tuning.heartbeatIntervalMs, 10_000);
    positiveInteger("tuning.electionTimeoutMs", tuning.electionTimeoutMs, 50_000);
    if (tuning.electionTimeoutMs < 5 * tuning.heartbeatIntervalMs) {
        fail(`tuning.electionTimeoutMs (${tuning.electionTimeoutMs}) must be at least 5 x tuning.heartbeatIntervalMs (${tuning.heartbeatIntervalMs}), as etcd requires.`);
    }
    positiveInteger("tuning.quotaBackendBytes", tuning.quotaBackendBytes, MAX_QUOTA_BACKEND_BYTES);
    positiveInteger("tuning.snapshotCount", tuning.snapshotCount);
    if (tuning.autoCompactionMode !== "periodic" && tuning.autoCompactionMode !== "revision") {
        fail(`tuning.autoCompactionMode must be "periodic" or "revision" (got "${tuning.autoCompactionMode}").`);
    }
    const retention = tuning.autoCompactionRetention;
    if (!DURATION_OR_COUNT.test(retention) || (tuning.autoCompactionMode === "revision" && !/^\d+$/.test(retention))) {
        fail(`tuning.autoCompactionRetention "${retention}" must be a duration like "8h" (periodic) or a revision count like "10000" (revision).`);
    }

    const pki = { ...defaults.pki, trustedCas: [args.pki?.activeCa ?? defaults.pki.activeCa], ...args.pki };
    const slots: CaSlot[] = ["a", "b"];
    if (!slots.includes(pki.activeCa)) fail(`pki.activeCa must be "a" or "b" (got ${JSON.stringify(pki.activeCa)}).`);
    if (pki.trustedCas.length === 0 || pki.trustedCas.some((c) => !slots.includes(c)) || new Set(pki.trustedCas).size !== pki.trustedCas.length) {
        fail(`pki.trustedCas must be "a", "b" or both, each once (got ${JSON.stringify(pki.trustedCas)}).`);
    }
    if (!pki.trustedCas.includes(pki.activeCa)) {
        fail(`pki.trustedCas ${JSON.stringify(pki.trustedCas)} must include pki.activeCa "${pki.activeCa}": members would not trust their own certificates.`);
    }
    pki.trustedCas = slots.filter((c) => pki.trustedCas.includes(c)); // fixed order: the bundle text stays stable
    positiveInteger("pki.caValidityHours", pki.caValidityHours);
    positiveInteger("pki.certValidityHours", pki.certValidityHours);
    if (!Number.isInteger(pki.earlyRenewalHours) || pki.earlyRenewalHours < 0 || pki.earlyRenewalHours >= pki.certValidityHours) {
        fail(`pki.earlyRenewalHours (${pki.earlyRenewalHours}) must be a whole number from 0 to below pki.certValidityHours (${pki.certValidityHours}).`);
    }
    if (pki.certValidityHours > pki.caValidityHours) {
        fail(`pki.certValidityHours (${pki.certValidityHours}) must not exceed pki.caValidityHours (${pki.caValidityHours}); a leaf cannot outlive its CA.`);
    }
    for (const san of pki.extraSans) {
        if (!isIpAddress(san) && !DNS_NAME.test(san)) fail(`pki.extraSans contains "${san}", which is neither an IP address nor a DNS name.`);
    }

    const dataDir = hostPath("dataDir", args.dataDir ?? defaults.dataDir);
    const snapshotDir = hostPath("snapshotDir", args.snapshotDir ?? defaults.snapshotDir);
    if (snapshotDir === dataDir || snapshotDir.startsWith(`${dataDir}/`)) {
        fail(`snapshotDir ${snapshotDir} must not lie inside dataDir ${dataDir}: a snapshot must survive the loss of the data directory.`);
    }
    const healthTimeoutSeconds = positiveInteger("healthTimeoutSeconds", args.healthTimeoutSeconds ?? defaults.healthTimeoutSeconds, 3600);

    return {
        clusterName: name,
        members,
        hcloud,
        existingHosts,
        release: resolveRelease(args.release ?? {}),
        tuning,
        pki,
        dataDir,
        snapshotDir,
        metricsOnPrivateNetwork: args.metricsOnPrivateNetwork ?? defaults.metricsOnPrivateNetwork,
        healthTimeoutSeconds,
        backup: resolveBackup(name, args.backup ?? {}),
        maintenance: resolveMaintenance(args.maintenance ?? {}),
        ports: defaults.ports,
    };
}

/** systemd calendar expressions: letters, digits and `*:/.,~+-` and spaces; the host checks them with systemd-analyze. */
const ON_CALENDAR = /^[A-Za-z0-9*:/.,~+ -]{1,100}$/;
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Characters that need no percent-encoding in a SigV4 canonical URI. */
const S3_PREFIX = /^[A-Za-z0-9._~\/-]*$/;

function onCalendar(name: string, value: string, allowEmpty: boolean): string {
    if ((value === "" && allowEmpty) || (ON_CALENDAR.test(value) && value.trim() === value)) return value;
    fail(`${name} "${value}" is not a systemd OnCalendar expression like "hourly", "daily" or "*-*-* 02:30:00"${allowEmpty ? ' (or "" for no timer)' : ""}.`);
}

export function resolveBackup(clusterName: string, args: BackupArgs): ResolvedBackup {
    const schedule = onCalendar("backup.schedule", args.schedule ?? defaults.backup.schedule, true);
    const keep = positiveInteger("backup.keep", args.keep ?? defaults.backup.keep, 10_000);
    if (!args.s3) return { schedule, keep };
    const s3 = args.s3;
    const endpoint = (s3.endpoint ?? "").replace(/\/+$/, "");
    if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+(:\d+)?$/.test(endpoint)) {
        fail(`backup.s3.endpoint "${s3.endpoint}" must be an http(s) URL of a host (and port), without a path, e.g. "https://s3.eu-central-1.amazonaws.com".`);
    }
    if (!S3_BUCKET.test(s3.bucket ?? "") || s3.bucket.includes("..")) {
        fail(`backup.s3.bucket "${s3.bucket}" is not an S3 bucket name (3-63 lowercase letters, digits, '.', '-').`);
    }
    const region = s3.region ?? defaults.backup.s3.region;
    if (!/^[a-z0-9-]{1,32}$/.test(region)) fail(`backup.s3.region "${region}" is not a region name like "us-east-1" or "eu-central-1".`);
    const prefix = s3.prefix ?? `${clusterName}/`;
    if (!S3_PREFIX.test(prefix) || prefix.startsWith("/") || prefix.split("/").includes("..") || prefix.length > 200) {
        fail(`backup.s3.prefix "${prefix}" must be letters, digits, '.', '_', '~', '-' and '/' (not leading), e.g. "etcd/prod/".`);
    }
    if (s3.accessKeyId === undefined || s3.secretAccessKey === undefined) {
        fail("backup.s3 needs accessKeyId and secretAccessKey (as Pulumi secrets).");
    }
    return { schedule, keep, s3: { endpoint, bucket: s3.bucket, region, prefix, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

export function resolveMaintenance(args: MaintenanceArgs): Required<MaintenanceArgs> {
    const m = { ...defaults.maintenance, ...args };
    onCalendar("maintenance.defragSchedule", m.defragSchedule, true);
    onCalendar("maintenance.alarmCheckSchedule", m.alarmCheckSchedule, false);
    positiveInteger("maintenance.quotaWarnPercent", m.quotaWarnPercent, 100);
    return m;
}

export function resolveRelease(args: EtcdReleaseArgs): ResolvedRelease {
    const requested = args.version ?? defaults.release.version;
    const parsed = parseVersion(requested);
    if (!parsed) fail(`release.version "${requested}" is not a version like "3.6.16".`);
    const [major, minor] = parsed;
    if (major !== 3 || minor < 5) fail(`release.version ${requested} is not supported; use etcd 3.5 or newer (3.6.x recommended).`);
    const version = parsed.join(".");
    const sha256 = (args.sha256 ?? KNOWN_RELEASE_SHA256[version] ?? "").toLowerCase();
    if (!args.sha256 && !sha256) {
        fail(`release.sha256 is required for etcd ${version}: no official checksum for it is built in. Take it from the release's SHA256SUMS.`);
    }
    if (!SHA256.test(sha256)) fail(`release.sha256 "${args.sha256}" is not a sha256 (64 hex digits).`);
    const base = (args.downloadBaseUrl ?? defaults.release.downloadBaseUrl).replace(/\/+$/, "");
    if (!/^https?:\/\/[^\s'"]+$/.test(base)) fail(`release.downloadBaseUrl "${base}" must be an http(s) URL.`);
    return { version, sha256, url: `${base}/v${version}/etcd-v${version}-linux-amd64.tar.gz` };
}

function resolveHcloud(args: HcloudHostsArgs, memberCount: number, sshPrivateKey: unknown): ResolvedHcloud & { privateIps: string[] } {
    const h = { ...defaults.hcloud, ...args };
    if (!SERVER_TYPE.test(h.serverType)) {
        fail(`hcloud.serverType "${h.serverType}" does not look like a Hetzner server type (e.g. cpx11, cx22, cax11, ccx13).`);
    }
    if (!/^[a-z]{3}\d?$/.test(h.location)) fail(`hcloud.location "${h.location}" does not look like a Hetzner location (e.g. ash, hil, fsn1, nbg1, hel1).`);
    if (!/^[a-z]+-[a-z]+$/.test(h.networkZone)) fail(`hcloud.networkZone "${h.networkZone}" does not look like a network zone (e.g. us-east, eu-central).`);
    if (h.image.trim() === "") fail("hcloud.image must not be empty (e.g. ubuntu-22.04).");
    const network = parseIpv4Cidr(h.networkCidr) ?? fail(`hcloud.networkCidr "${h.networkCidr}" is not an IPv4 network like 10.1.0.0/16.`);
    const subnet = parseIpv4Cidr(h.subnetCidr) ?? fail(`hcloud.subnetCidr "${h.subnetCidr}" is not an IPv4 network like 10.1.1.0/24.`);
    if (!cidrContains(network, subnet)) fail(`hcloud.subnetCidr ${h.subnetCidr} is not inside hcloud.networkCidr ${h.networkCidr}.`);
    if (!Number.isInteger(h.privateIpOffset) || h.privateIpOffset < 1) fail(`hcloud.privateIpOffset must be a whole number >= 1 (got ${h.privateIpOffset}).`);
    // The last address of a subnet is its broadcast address; Hetzner also keeps the first for its gateway.
    if (h.privateIpOffset + memberCount >= cidrSize(subnet) - 1) {
        fail(`hcloud.subnetCidr ${h.subnetCidr} has too few addresses for ${memberCount} members from offset ${h.privateIpOffset}; use a larger subnet or a smaller offset.`);
    }
    cidrList("hcloud.sshAllowedCidrs", h.sshAllowedCidrs);
    cidrList("hcloud.clientAllowedCidrs", h.clientAllowedCidrs);
    for (const [k, v] of Object.entries(h.labels)) {
        if (typeof v !== "string") {
            fail(`hcloud.labels entry "${k}" must be a string (got ${typeof v} ${JSON.stringify(v)}); quote it in YAML: ${k}: "${v}".`);
        }
        if (!/^([a-z0-9.-]+\/)?[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$/.test(k) || !/^([a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?)?$/.test(v)) {
            fail(`hcloud.labels entry "${k}=${v}" is not a valid Hetzner label (letters, digits, '-', '_', '.', at most 63 characters).`);
        }
    }
    if (h.sshKeyNames.length > 0 && sshPrivateKey === undefined) {
        fail("hcloud.sshKeyNames is set, so sshPrivateKey must be given too: the component connects over SSH to configure etcd.");
    }
    const privateIps = Array.from({ length: memberCount }, (_, i) => memberPrivateIp(subnet, h.privateIpOffset, i + 1));
    return { ...h, privateIps };
}

function resolveExisting(hosts: ExistingHostArgs[], members: MemberPlan[], sshPrivateKey: unknown): ResolvedExistingHost[] {
    if (sshPrivateKey === undefined) fail("existingHosts needs sshPrivateKey: the component configures the hosts over SSH.");
    const seen = new Set<string>();
    return hosts.map((h, i) => {
        const where = `existingHosts[${i}]`;
        for (const [field, value] of [["privateIp", h.privateIp], ["publicIp", h.publicIp]] as const) {
            if (value !== undefined && !isIpAddress(value)) fail(`${where}.${field} "${value}" is not an IP address.`);
        }
        if (seen.has(h.privateIp)) fail(`${where}.privateIp ${h.privateIp} is used by another host; each member needs its own address.`);
        seen.add(h.privateIp);
        const sshPort = h.sshPort ?? 22;
        positiveInteger(`${where}.sshPort`, sshPort, 65535);
        const publicIp = h.publicIp ?? h.privateIp;
        return {
            name: members[i].name,
            privateIp: h.privateIp,
            publicIp,
            sshHost: h.sshHost ?? publicIp,
            sshPort,
            sshUser: h.sshUser ?? "root",
        };
    });
}
