// The rules: each resolveX() applies the defaults of one argument, checks it and returns its resolved
// value, or throws EtcdClusterArgsError whose message names the argument, the value and the fix. Pure, no
// resources: plan.ts composes them before anything is created.
import * as pulumi from "@pulumi/pulumi";
import {
    BackupArgs, CaSlot, EtcdReleaseArgs, EtcdTuningArgs, ExistingHostArgs, HcloudHostsArgs, MaintenanceArgs, PkiArgs,
} from "./args";
import { defaults, KNOWN_RELEASE_SHA256, MAX_MEMBERS, MAX_QUOTA_BACKEND_BYTES } from "./defaults";
import { cidrContains, cidrSize, isCidr, memberPrivateIp, parseIpv4, parseIpv4Cidr } from "./net";
import type { ExistingHostsPlan, HcloudHostsPlan, MemberPlan, ResolvedBackup, ResolvedPki, ResolvedRelease } from "./plan";

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
/**
 * Hetzner locations and the network zone of each: the `network_zone` of every location in the API's
 * GET /locations (docs.hetzner.cloud, "Locations"; `hcloud location list`). A private network's subnet lives in
 * one zone and only servers of that zone's locations attach to it. A location not listed here passes unchecked
 * (a new one Hetzner opens); the API then decides.
 */
export const LOCATION_ZONES: Readonly<Record<string, string>> = {
    fsn1: "eu-central", nbg1: "eu-central", hel1: "eu-central", ash: "us-east", hil: "us-west", sin: "ap-southeast",
};
/**
 * Server type families offered only in some network zones (Hetzner's cloud price list per location; elsewhere
 * the API refuses the server with "unsupported location for server type", invalid_input). cpx and ccx are
 * offered in every location; cax (Arm, also eu-central only) is refused before this for its architecture.
 */
const SERVER_FAMILY_ZONES: Readonly<Record<string, readonly string[]>> = {
    cx: ["eu-central"],
};
/** One OpenSSH public key line: type, base64 body, optional comment. */
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) AAAA[A-Za-z0-9+/]+={0,2}( [^\n]*)?$/;
const DURATION_OR_COUNT = /^(\d+|(\d+(\.\d+)?(h|m|s|ms))+)$/;

/** Parses `X.Y.Z` or `vX.Y.Z`; undefined when malformed. */
export function parseVersion(text: string): [number, number, number] | undefined {
    const m = SEMVER.exec(text);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function fail(message: string): never {
    throw new EtcdClusterArgsError(message);
}

export function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
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

/**
 * Directories of the system that install would take over (chown to etcd) and uninstall would move aside,
 * or that hold other software's state: refused as dataDir/snapshotDir themselves. Their subdirectories are fine.
 */
const SYSTEM_DIRS = ["/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt", "/proc",
    "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var", "/var/backups", "/var/cache", "/var/lib",
    "/var/log", "/var/tmp", "/var/run", "/etc/etcd", "/usr/local/lib", "/usr/local/lib/etcd"];

export function hostPath(name: string, value: string): string {
    if (!/^\/[A-Za-z0-9._/-]+$/.test(value) || value.split("/").includes("..") || value.split("/").includes(".")
        || value === "/" || value.endsWith("/") || value.includes("//")) {
        fail(`${name} "${value}" must be an absolute path of letters, digits, '.', '_', '-' and '/' (no '.' or '..' parts, no trailing '/').`);
    }
    if (SYSTEM_DIRS.includes(value)) {
        fail(`${name} "${value}" is a system directory: install would hand it to the etcd user and uninstall would move it away. `
            + `Use a directory of its own, e.g. "${value === "/var/backups" ? "/var/backups/etcd" : "/var/lib/etcd"}".`);
    }
    return value;
}

/** dataDir and snapshotDir: distinct, and neither inside the other. */
export function separateDirs(dataDir: string, snapshotDir: string): void {
    const inside = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
    if (inside(snapshotDir, dataDir)) {
        fail(`snapshotDir ${snapshotDir} must not lie inside dataDir ${dataDir}: a snapshot must survive the loss of the data directory.`);
    }
    if (inside(dataDir, snapshotDir)) {
        fail(`dataDir ${dataDir} must not lie inside snapshotDir ${snapshotDir}: pruning snapshots must never touch the data. Use e.g. "/var/lib/etcd".`);
    }
}

function isIpAddress(text: string): boolean {
    return parseIpv4(text) !== undefined || (text.includes(":") && isCidr(`${text}/128`));
}

/** The member count and names: odd, 1 to MAX_MEMBERS, unique DNS labels. */
export function resolveMembers(prefix: string, memberCount: number | undefined, hosts: ExistingHostArgs[] | undefined): MemberPlan[] {
    if (!DNS_LABEL.test(`${prefix}-9`)) {
        fail(`memberNamePrefix "${prefix}" must be lowercase letters, digits and '-' (a DNS label); member names become host names.`);
    }
    const count = hosts?.length ?? memberCount ?? defaults.memberCount;
    if (hosts && memberCount !== undefined && memberCount !== count) {
        fail(`memberCount is ${memberCount} but ${count} existingHosts were given; drop memberCount or make them agree.`);
    }
    if (!Number.isInteger(count) || count < 1 || count > MAX_MEMBERS) {
        fail(`memberCount must be a whole number from 1 to ${MAX_MEMBERS} (got ${count}).`);
    }
    if (count % 2 === 0) {
        fail(`memberCount must be odd to keep a majority (got ${count}); use ${count - 1} or ${count + 1}.`);
    }
    const members: MemberPlan[] = Array.from({ length: count }, (_, index) => ({
        index,
        name: hosts?.[index]?.name ?? `${prefix}-${index + 1}`,
    }));
    const names = new Set<string>();
    for (const m of members) {
        if (!DNS_LABEL.test(m.name)) fail(`member name "${m.name}" must be a DNS label (lowercase letters, digits, '-').`);
        if (names.has(m.name)) fail(`member name "${m.name}" is used twice; member names must be unique.`);
        names.add(m.name);
    }
    return members;
}

export function resolveTuning(args: EtcdTuningArgs): Required<EtcdTuningArgs> {
    const tuning = { ...defaults.tuning, ...args };
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
    return tuning;
}

/**
 * The client CRL's shape: one PEM block `X509 CRL`. Its signature and what it revokes are checked on the hosts
 * with openssl, against the CA bundle they trust, before it is installed.
 */
export function clientCrlPem(value: string): string {
    const text = value.trim();
    if (!CRL_PEM.test(text)) {
        const start = text.split("\n")[0].slice(0, 40);
        fail(`pki.clientCrlPem must be one PEM certificate revocation list (-----BEGIN X509 CRL----- ... -----END X509 CRL-----), `
            + `got text starting with ${JSON.stringify(start)}. Make one with \`openssl ca -gencrl\` (see docs/operations.md), or leave it unset.`);
    }
    return `${text}\n`;
}
const CRL_PEM = /^-----BEGIN X509 CRL-----\r?\n[A-Za-z0-9+/=\r\n]+-----END X509 CRL-----$/;

export function resolvePki(args: PkiArgs): ResolvedPki {
    const pki = { ...defaults.pki, trustedCas: [args.activeCa ?? defaults.pki.activeCa], ...args };
    if (pki.clientCrlPem !== undefined) {
        pki.clientCrlPem = typeof pki.clientCrlPem === "string" ? clientCrlPem(pki.clientCrlPem) : pulumi.output(pki.clientCrlPem).apply(clientCrlPem);
    }
    const slots: CaSlot[] = ["a", "b"];
    if (!slots.includes(pki.activeCa)) fail(`pki.activeCa must be "a" or "b" (got ${JSON.stringify(pki.activeCa)}).`);
    if (pki.trustedCas.length === 0 || pki.trustedCas.some((c) => !slots.includes(c)) || new Set(pki.trustedCas).size !== pki.trustedCas.length) {
        fail(`pki.trustedCas must be "a", "b" or both, each once (got ${JSON.stringify(pki.trustedCas)}).`);
    }
    if (!pki.trustedCas.includes(pki.activeCa)) {
        fail(`pki.trustedCas ${JSON.stringify(pki.trustedCas)} must include pki.activeCa "${pki.activeCa}": members would not trust their own certificates.`);
    }
    pki.trustedCas = slots.filter((c) => pki.trustedCas.includes(c)); // fixed order: the bundle text stays stable
    if (typeof pki.peerCertificatesOnly !== "boolean") fail(`pki.peerCertificatesOnly must be true or false (got ${JSON.stringify(pki.peerCertificatesOnly)}).`);
    positiveInteger("pki.caValidityHours", pki.caValidityHours);
    positiveInteger("pki.certValidityHours", pki.certValidityHours);
    if (!Number.isInteger(pki.earlyRenewalHours) || pki.earlyRenewalHours < 0 || pki.earlyRenewalHours >= pki.certValidityHours) {
        fail(`pki.earlyRenewalHours (${pki.earlyRenewalHours}) must be a whole number from 0 to below pki.certValidityHours (${pki.certValidityHours}).`);
    }
    if (pki.certValidityHours > pki.caValidityHours) {
        fail(`pki.certValidityHours (${pki.certValidityHours}) must not exceed pki.caValidityHours (${pki.caValidityHours}); a leaf cannot outlive its CA.`);
    }
    for (const san of pki.extraSans) {
        if (!isIpAddress(san) && (/^[\d.]+$/.test(san) || !DNS_NAME.test(san))) {
            fail(`pki.extraSans contains "${san}", which is neither an IP address (like 203.0.113.10 or 2001:db8::1) nor a DNS name (like etcd.example.com).`);
        }
    }
    return pki;
}

/** systemd calendar expressions: letters, digits and `*:/.,~+-` and spaces; the host checks them with systemd-analyze. */
const ON_CALENDAR = /^[A-Za-z0-9*:/.,~+ -]{1,100}$/;
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Plain key characters: the same object key in rclone's paths, S3 URLs and the operator's shell. */
const S3_PREFIX = /^[A-Za-z0-9._~\/-]*$/;

/** An http(s) URL of a host and an optional port, nothing else: the characters exclude a user, path, query, fragment
 * and escapes; the WHATWG URL parser then refuses a misplaced ':', a port out of range and an empty host. */
function isHostUrl(value: string): boolean {
    return /^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(value) && URL.canParse(value) && !value.endsWith(":");
}

function onCalendar(name: string, value: string, allowEmpty: boolean): string {
    if ((value === "" && allowEmpty) || (ON_CALENDAR.test(value) && value.trim() === value)) return value;
    fail(`${name} "${value}" is not a systemd OnCalendar expression like "hourly", "daily" or "*-*-* 02:30:00"${allowEmpty ? ' (or "" for no timer)' : ""}.`);
}

export function resolveBackup(clusterName: string, args: BackupArgs): ResolvedBackup {
    const schedule = onCalendar("backup.schedule", args.schedule ?? defaults.backup.schedule, true);
    const keep = positiveInteger("backup.keep", args.keep ?? defaults.backup.keep, 10_000);
    const maxAgeHours = positiveInteger("backup.maxAgeHours", args.maxAgeHours ?? defaults.backup.maxAgeHours, 24 * 366);
    if (!args.s3) return { schedule, keep, maxAgeHours };
    const s3 = args.s3;
    const endpoint = (s3.endpoint ?? "").replace(/\/+$/, "");
    if (!isHostUrl(endpoint)) {
        fail(`backup.s3.endpoint "${s3.endpoint}" must be an http(s) URL of a host (and port), without a path, e.g. "https://s3.eu-central-1.amazonaws.com".`);
    }
    if (endpoint.startsWith("http://") && s3.allowHttp !== true) {
        fail(`backup.s3.endpoint "${endpoint}" is plain http: snapshots (every Secret in etcd) and the request signatures would cross the `
            + "network unencrypted. Use https, or set backup.s3.allowHttp: true for a store on a network you trust.");
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
    if (typeof s3.accessKeyId === "string") s3AccessKeyId(s3.accessKeyId);
    const sse = s3.serverSideEncryption;
    if (sse !== undefined && sse !== "AES256" && sse !== "aws:kms") {
        fail(`backup.s3.serverSideEncryption "${sse}" is not "AES256" or "aws:kms" (or leave it out for none).`);
    }
    if (s3.kmsKeyId !== undefined) {
        if (sse !== "aws:kms") fail(`backup.s3.kmsKeyId is set but backup.s3.serverSideEncryption is ${sse === undefined ? "not set" : `"${sse}"`}; a KMS key needs serverSideEncryption: "aws:kms".`);
        if (!/^[A-Za-z0-9:/_.-]{1,256}$/.test(s3.kmsKeyId)) fail(`backup.s3.kmsKeyId "${s3.kmsKeyId}" is not a KMS key id, alias or ARN (letters, digits, ':', '/', '_', '.', '-').`);
    }
    if (s3.encryptionPassphrase !== undefined) {
        // With crypt the prefix is a folder that rclone wraps; a partial name would become a folder of its own.
        if (prefix !== "" && !prefix.endsWith("/")) {
            fail(`backup.s3.prefix "${prefix}" must end with '/' (or be "") when backup.s3.encryptionPassphrase is set: the encrypted objects go in that folder.`);
        }
        if (typeof s3.encryptionPassphrase === "string") encryptionPassphrase(s3.encryptionPassphrase);
    }
    // S3 takes at most 5 GiB in a single PUT.
    if (s3.uploadCutoffMiB !== undefined) positiveInteger("backup.s3.uploadCutoffMiB", s3.uploadCutoffMiB, 5120);
    return {
        schedule, keep, maxAgeHours,
        s3: {
            endpoint, bucket: s3.bucket, region, prefix, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey,
            ...(sse !== undefined ? { serverSideEncryption: sse } : {}),
            ...(s3.kmsKeyId !== undefined ? { kmsKeyId: s3.kmsKeyId } : {}),
            ...(s3.encryptionPassphrase !== undefined ? { encryptionPassphrase: s3.encryptionPassphrase } : {}),
            ...(s3.uploadCutoffMiB !== undefined ? { uploadCutoffMiB: s3.uploadCutoffMiB } : {}),
        },
    };
}

/** The client-side encryption passphrase: one line (rclone obscure reads one), long enough to resist guessing. */
export function encryptionPassphrase(value: string): string {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(value)) fail("backup.s3.encryptionPassphrase contains a line break or a control character; use one line of printable characters.");
    if (value.length < 16) fail(`backup.s3.encryptionPassphrase is ${value.length} characters long; use at least 16 (e.g. openssl rand -base64 24).`);
    return value;
}

/** An access key id goes into the signed Authorization header: no quotes, backslashes or spaces. */
export function s3AccessKeyId(value: string): string {
    if (!/^[\x21-\x7e]+$/.test(value) || /["'\\]/.test(value)) {
        fail("backup.s3.accessKeyId contains a quote, a backslash, a space or a control character; access key ids are letters and "
            + "digits (e.g. AKIAIOSFODNN7EXAMPLE). Check that the secret holds the key id alone.");
    }
    return value;
}

export function resolveMaintenance(args: MaintenanceArgs): Required<MaintenanceArgs> {
    const m = { ...defaults.maintenance, ...args };
    onCalendar("maintenance.defragSchedule", m.defragSchedule, true);
    onCalendar("maintenance.alarmCheckSchedule", m.alarmCheckSchedule, false);
    positiveInteger("maintenance.quotaWarnPercent", m.quotaWarnPercent, 100);
    positiveInteger("maintenance.certificateWarnDays", m.certificateWarnDays, 3650);
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
    if (/^https?:\/\/[^/]*@/.test(base)) {
        fail(`release.downloadBaseUrl "${base.replace(/\/\/[^/]*@/, "//***@")}" carries credentials: they would be stored in the state and shown `
            + "in the hosts' process lists. Serve the mirror to the hosts' addresses without them (or put them in the hosts' ~/.netrc).");
    }
    return { version, sha256, url: `${base}/v${version}/etcd-v${version}-linux-amd64.tar.gz` };
}

/**
 * The locations of the members: `hcloud.locations`, or `[hcloud.location]`. Each is a location of
 * hcloud.networkZone where the server type is offered. Member i (0-based) goes to locations[i % L].
 */
function resolveLocations(args: HcloudHostsArgs, networkZone: string, serverType: string): string[] {
    if (args.location !== undefined && args.locations !== undefined) {
        fail(`hcloud.location "${args.location}" and hcloud.locations ${JSON.stringify(args.locations)} are both set; give one: `
            + "location for a single location, locations to spread the members over several.");
    }
    const name = args.locations !== undefined ? "hcloud.locations" : "hcloud.location";
    const locations = args.locations ?? [args.location ?? defaults.hcloud.location];
    if (!Array.isArray(locations) || locations.length === 0) {
        fail(`hcloud.locations is ${JSON.stringify(locations)}; list one or more locations of one network zone, e.g. ["fsn1", "nbg1", "hel1"].`);
    }
    const family = /^[a-z]+/.exec(serverType)![0];
    locations.forEach((location, i) => {
        const what = args.locations !== undefined ? `${name}[${i}] "${location}"` : `${name} "${location}"`;
        if (typeof location !== "string" || !/^[a-z]{3}\d?$/.test(location)) {
            fail(`${what} does not look like a Hetzner location (e.g. ash, hil, fsn1, nbg1, hel1).`);
        }
        if (locations.indexOf(location) !== i) fail(`${what} is listed twice; list each location once.`);
        const zone = LOCATION_ZONES[location];
        if (zone !== undefined && zone !== networkZone) {
            const inZone = Object.keys(LOCATION_ZONES).filter((l) => LOCATION_ZONES[l] === networkZone);
            fail(`${what} is in network zone ${zone}, not hcloud.networkZone "${networkZone}": the servers could not `
                + `attach to the subnet. Set networkZone: "${zone}"${inZone.length > 0 ? ` (or use locations of ${networkZone}: ${inZone.join(", ")})` : ""}.`);
        }
        const offered = SERVER_FAMILY_ZONES[family];
        if (zone !== undefined && offered !== undefined && !offered.includes(zone)) {
            fail(`hcloud.serverType "${serverType}" is not offered in ${what} (network zone ${zone}): Hetzner offers ${family} servers only in `
                + `${offered.join(", ")}. Use a type offered there, e.g. cpx11 or ccx13.`);
        }
    });
    return locations;
}

/**
 * Whether losing one location loses the majority: with the members per location, the largest share must leave
 * a majority of the whole behind. One location used: always lost. Returns the explanation, or undefined.
 */
export function locationFailureRisk(memberLocations: readonly string[]): string | undefined {
    const counts = new Map<string, number>();
    for (const l of memberLocations) counts.set(l, (counts.get(l) ?? 0) + 1);
    const n = memberLocations.length;
    const majority = Math.floor(n / 2) + 1;
    const [worst, most] = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a));
    if (n - most >= majority) return undefined;
    const layout = [...counts].map(([l, c]) => `${c} in ${l}`).join(", ");
    return `${n} member${n > 1 ? "s" : ""} over ${counts.size} location${counts.size > 1 ? "s" : ""} (${layout}): losing ${worst} leaves ${n - most} of ${n}, `
        + `below the majority of ${majority}, so the cluster stops accepting writes until ${worst} is back.`;
}

export function resolveHcloud(args: HcloudHostsArgs, memberCount: number, sshPrivateKey: pulumi.Input<string> | undefined): HcloudHostsPlan {
    const { location: _location, locations: _locations, ...rest } = args;
    const h = { ...defaults.hcloud, sshAllowedCidrs: undefined as unknown as string[], ...rest };
    if (!SERVER_TYPE.test(h.serverType)) {
        fail(`hcloud.serverType "${h.serverType}" does not look like a Hetzner server type (e.g. cpx11, cx22, cax11, ccx13).`);
    }
    if (!/^[a-z]+-[a-z]+$/.test(h.networkZone)) fail(`hcloud.networkZone "${h.networkZone}" does not look like a network zone (e.g. us-east, eu-central).`);
    if (/^cax/.test(h.serverType)) {
        fail(`hcloud.serverType "${h.serverType}" is an Arm64 server; the component installs etcd's linux-amd64 release. `
            + "Use an x86 type such as cpx11, cx22 or ccx13.");
    }
    const locations = resolveLocations(args, h.networkZone, h.serverType);
    const memberLocations = Array.from({ length: memberCount }, (_, i) => locations[i % locations.length]);
    if (typeof h.requireLocationFailureTolerance !== "boolean") {
        fail(`hcloud.requireLocationFailureTolerance must be true or false (got ${JSON.stringify(h.requireLocationFailureTolerance)}).`);
    }
    const risk = locationFailureRisk(memberLocations);
    if (risk && h.requireLocationFailureTolerance) {
        fail(`hcloud.requireLocationFailureTolerance is true, but ${risk} Spread the members so that no location holds half of them or more: `
            + "3 or more locations, e.g. 3 members over 3 locations, 5 over 3 or more.");
    }
    // One location by choice is the documented single-location layout; several that do not tolerate a loss are a surprise.
    const layoutWarning = risk && locations.length > 1 ? `hcloud.locations: ${risk} Use 3 or more locations (e.g. 3 or 5 members over 3).` : undefined;
    if (h.image.trim() === "") fail("hcloud.image must not be empty (e.g. ubuntu-22.04).");
    const network = parseIpv4Cidr(h.networkCidr) ?? fail(`hcloud.networkCidr "${h.networkCidr}" is not an IPv4 network like 10.1.0.0/16.`);
    const subnet = parseIpv4Cidr(h.subnetCidr) ?? fail(`hcloud.subnetCidr "${h.subnetCidr}" is not an IPv4 network like 10.1.1.0/24.`);
    if (!cidrContains(network, subnet)) fail(`hcloud.subnetCidr ${h.subnetCidr} is not inside hcloud.networkCidr ${h.networkCidr}.`);
    if (!Number.isInteger(h.privateIpOffset) || h.privateIpOffset < 1) fail(`hcloud.privateIpOffset must be a whole number >= 1 (got ${h.privateIpOffset}).`);
    // The last address of a subnet is its broadcast address; Hetzner also keeps the first for its gateway.
    if (h.privateIpOffset + memberCount >= cidrSize(subnet) - 1) {
        fail(`hcloud.subnetCidr ${h.subnetCidr} has too few addresses for ${memberCount} members from offset ${h.privateIpOffset}; use a larger subnet or a smaller offset.`);
    }
    if (!Array.isArray(h.sshAllowedCidrs) || h.sshAllowedCidrs.length === 0) {
        fail(`hcloud.sshAllowedCidrs is ${JSON.stringify(h.sshAllowedCidrs)}; list the source CIDRs that may reach SSH (22/tcp), `
            + 'where `pulumi up` runs from and your operators, e.g. ["203.0.113.7/32"] (["0.0.0.0/0", "::/0"] opens it to everyone).');
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
    const privateIps = Array.from({ length: memberCount }, (_, i) => memberPrivateIp(subnet, h.privateIpOffset, i + 1));
    const { sshKeyNames, location: _single, requireLocationFailureTolerance: _checked, ...server } = h;
    const placed = { ...server, locations, memberLocations, ...(layoutWarning ? { layoutWarning } : {}) };
    if (sshKeyNames.length === 0) return { kind: "hcloud", ...placed, privateIps, ssh: { kind: "generated" } };
    if (sshPrivateKey === undefined) {
        fail("hcloud.sshKeyNames is set, so sshPrivateKey must be given too: the component connects over SSH to configure etcd.");
    }
    return { kind: "hcloud", ...placed, privateIps, ssh: { kind: "projectKeys", keyNames: sshKeyNames, privateKey: sshPrivateKey } };
}

export function resolveExisting(hosts: ExistingHostArgs[], members: MemberPlan[],
    sshPrivateKey: pulumi.Input<string> | undefined): ExistingHostsPlan {
    if (sshPrivateKey === undefined) fail("existingHosts needs sshPrivateKey: the component configures the hosts over SSH.");
    const seen = new Set<string>();
    const resolved = hosts.map((h, i) => {
        const where = `existingHosts[${i}]`;
        if (h.privateIp === undefined || h.privateIp === null || h.privateIp === "") {
            fail(`${where}.privateIp is missing: every host needs the address peers and clients use (its private network address), e.g. "10.0.0.11".`);
        }
        if (h.sshUser !== undefined && h.sshUser !== "root") {
            fail(`${where}.sshUser is "${h.sshUser}": the host scripts install packages, users and units without sudo, so the component `
                + "connects as root. Use \"root\" (authorize the key in /root/.ssh/authorized_keys).");
        }
        for (const [field, value] of [["privateIp", h.privateIp], ["publicIp", h.publicIp]] as const) {
            if (value !== undefined && !isIpAddress(value)) fail(`${where}.${field} "${value}" is not an IP address.`);
        }
        if (seen.has(h.privateIp)) fail(`${where}.privateIp ${h.privateIp} is used by another host; each member needs its own address.`);
        seen.add(h.privateIp);
        const sshPort = h.sshPort ?? 22;
        positiveInteger(`${where}.sshPort`, sshPort, 65535);
        const publicIp = h.publicIp ?? h.privateIp;
        if (h.sshHostKey !== undefined && !SSH_PUBLIC_KEY.test(h.sshHostKey.trim())) {
            fail(`${where}.sshHostKey "${h.sshHostKey}" is not an SSH public key line like "ssh-ed25519 AAAAC3Nza…"; `
                + "copy it from the host's /etc/ssh/ssh_host_ed25519_key.pub.");
        }
        return {
            name: members[i].name,
            privateIp: h.privateIp,
            publicIp,
            sshHost: h.sshHost ?? publicIp,
            sshPort,
            sshUser: h.sshUser ?? "root",
            sshHostKey: h.sshHostKey?.trim(),
        };
    });
    return { kind: "existing", hosts: resolved, sshPrivateKey };
}
