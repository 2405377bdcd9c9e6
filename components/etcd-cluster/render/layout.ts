// Where things live on a host, and the addresses derived from the ports: the one source for every
// renderer (host scripts, units, maintenance tools, the restore tool), so that a custom dataDir or port
// cannot drift between them.

export const SERVICE_USER = "etcd";
export const UNIT_DIR = "/etc/systemd/system";
export const UNIT_PATH = `${UNIT_DIR}/etcd.service`;
export const CONFIG_DIR = "/etc/etcd";
export const PKI_DIR = `${CONFIG_DIR}/pki`;
/** Written when a member first starts: the initial cluster, its state (new or existing) and the token. */
export const BOOTSTRAP_ENV_PATH = `${CONFIG_DIR}/bootstrap.env`;
/** Which member of which cluster this host runs, and where its data is: `<cluster>/<member> <dataDir>`. */
export const OWNER_FILE = `${CONFIG_DIR}/owner`;
/** S3 settings and credentials (0600, owned by etcd); present only when uploads are configured. */
export const S3_ENV_FILE = `${CONFIG_DIR}/backup-s3.env`;
/** Each release gets its own directory, so the unit names the exact binary and an upgrade is a unit change. */
export const RELEASES_DIR = "/usr/local/lib/etcd";
/** The binaries of a release; the configure step keeps a stable symlink to each in LINK_DIR. */
export const BINARIES = ["etcd", "etcdctl", "etcdutl"] as const;
export const LINK_DIR = "/usr/local/bin";
/** The tools the component installs (root-owned, 0755): the maintenance units run the first three. */
export const TOOLS = {
    backup: "/usr/local/sbin/etcd-backup",
    defrag: "/usr/local/sbin/etcd-defrag",
    alarmCheck: "/usr/local/sbin/etcd-alarm-check",
    restore: "/usr/local/sbin/etcd-restore",
} as const;
/**
 * A runtime drop-in that starts etcd once with `--force-new-cluster` (as ETCD_FORCE_NEW_CLUSTER) during a
 * recovery from a survivor's data: under /run, so a reboot cannot leave it in force, and beside the unit,
 * which stays as the component wrote it.
 */
export const FORCE_NEW_CLUSTER_DROPIN = "/run/systemd/system/etcd.service.d/force-new-cluster.conf";
/**
 * Metric files of the maintenance tools (render/textfile-metrics.ts) for node_exporter's textfile collector:
 * owned by the service user, 0755. Point `--collector.textfile.directory` at it.
 */
export const METRICS_TEXTFILE_DIR = "/var/lib/etcd-metrics";
/** Scheduled snapshots are `scheduled-<UTC time>-<member>.db`: sorting by name sorts by time. */
export const SCHEDULED_PREFIX = "scheduled-";

/** Files the certificate bundle carries, with their mode. Keys are 0600 and owned by the service user. */
export const PKI_FILES = {
    ca: { file: "ca.crt", mode: "0644" },
    serverCert: { file: "server.crt", mode: "0644" },
    serverKey: { file: "server.key", mode: "0600" },
    peerCert: { file: "peer.crt", mode: "0644" },
    peerKey: { file: "peer.key", mode: "0600" },
    healthcheckCert: { file: "healthcheck-client.crt", mode: "0644" },
    healthcheckKey: { file: "healthcheck-client.key", mode: "0600" },
} as const;
export type PkiFileKey = keyof typeof PKI_FILES;

/**
 * The optional client certificate revocation list: the bundle carries it as PEM (`pki.clientCrlPem`), and the
 * host installs it as DER, the only form etcd's `--client-crl-file` reads. etcd reads the file again at every
 * new client connection, so a new list needs no restart.
 */
export const CLIENT_CRL = { pemFile: "client-crl.pem", derFile: "client-crl.der", mode: "0644" } as const;

export function pkiPath(key: PkiFileKey, dir = PKI_DIR): string {
    return `${dir}/${PKI_FILES[key].file}`;
}

export function releaseDir(version: string): string {
    return `${RELEASES_DIR}/v${version}`;
}

/** `[::1]`-style bracketing for IPv6 literals inside URLs. */
export function urlHost(ip: string): string {
    return ip.includes(":") ? `[${ip}]` : ip;
}

export function clientUrl(ip: string, port: number): string {
    return `https://${urlHost(ip)}:${port}`;
}

export function peerUrl(ip: string, port: number): string {
    return `https://${urlHost(ip)}:${port}`;
}

export function metricsUrl(ip: string, port: number): string {
    return `http://${urlHost(ip)}:${port}`;
}

/**
 * An etcdctl binary and the client certificate it presents (always the health-check client's). Two
 * choices: the target release's own binary (once it is installed), or the symlink to whatever release the
 * host runs now (the preflight runs before the target is installed; the maintenance tools outlive releases).
 */
export interface EtcdctlChoice {
    readonly binary: string;
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
}

export interface HostLayoutInput {
    dataDir: string;
    snapshotDir: string;
    ports: { client: number; peer: number; metrics: number };
    release: { version: string };
}

/** The layout of one cluster's hosts: fixed paths plus what depends on its data dirs, ports and release. */
export interface HostLayout {
    readonly dataDir: string;
    readonly snapshotDir: string;
    readonly ports: { readonly client: number; readonly peer: number; readonly metrics: number };
    readonly version: string;
    readonly releaseDir: string;
    /** The release's binaries by name. */
    readonly release: Readonly<Record<(typeof BINARIES)[number], string>>;
    /** The stable symlinks by name. */
    readonly links: Readonly<Record<(typeof BINARIES)[number], string>>;
    /** Every member serves clients on loopback too; tools on a host talk to their own member there. */
    readonly localClientUrl: string;
    readonly clientUrl: (ip: string) => string;
    readonly peerUrl: (ip: string) => string;
    readonly metricsUrl: (ip: string) => string;
    readonly etcdctl: { readonly release: EtcdctlChoice; readonly installed: EtcdctlChoice };
}

function binaries(dir: string): Record<(typeof BINARIES)[number], string> {
    return { etcd: `${dir}/etcd`, etcdctl: `${dir}/etcdctl`, etcdutl: `${dir}/etcdutl` };
}

export function hostLayout(input: HostLayoutInput): HostLayout {
    const { ports } = input;
    const dir = releaseDir(input.release.version);
    const release = binaries(dir);
    const links = binaries(LINK_DIR);
    const client = { ca: pkiPath("ca"), cert: pkiPath("healthcheckCert"), key: pkiPath("healthcheckKey") };
    return {
        dataDir: input.dataDir,
        snapshotDir: input.snapshotDir,
        ports: { client: ports.client, peer: ports.peer, metrics: ports.metrics },
        version: input.release.version,
        releaseDir: dir,
        release,
        links,
        localClientUrl: clientUrl("127.0.0.1", ports.client),
        clientUrl: (ip) => clientUrl(ip, ports.client),
        peerUrl: (ip) => peerUrl(ip, ports.peer),
        metricsUrl: (ip) => metricsUrl(ip, ports.metrics),
        etcdctl: { release: { binary: release.etcdctl, ...client }, installed: { binary: links.etcdctl, ...client } },
    };
}
