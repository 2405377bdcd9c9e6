// Where things live on a host. One source for every renderer, so scripts and unit agree on paths.

export const PKI_DIR = "/etc/etcd/pki";
export const UNIT_PATH = "/etc/systemd/system/etcd.service";
/** Written when a member first starts: the initial cluster, its state (new or existing) and the token. */
export const BOOTSTRAP_ENV_PATH = "/etc/etcd/bootstrap.env";
/** Each release gets its own directory, so the unit names the exact binary and an upgrade is a unit change. */
export const RELEASES_DIR = "/usr/local/lib/etcd";
export const SERVICE_USER = "etcd";

export function releaseDir(version: string): string {
    return `${RELEASES_DIR}/v${version}`;
}

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

export function pkiPath(key: PkiFileKey): string {
    return `${PKI_DIR}/${PKI_FILES[key].file}`;
}
