// etcd's configuration as command-line flags, and the etcd unit that runs them. Flags, not a config file:
// etcd refuses an unknown flag at start, while a config file silently ignores a misspelt key. Pure: typed
// values in, string[] and a UnitFile out.
import { EtcdTuningArgs } from "../args";
import { EtcdMemberInfo } from "../plan";
import { PEER_CERT_CN } from "../pki";
import { BOOTSTRAP_ENV_PATH, CLIENT_CRL, HostLayout, PKI_DIR, pkiPath, SERVICE_USER } from "./layout";
import { UnitFile } from "./systemd";

export interface FlagsInput {
    /** The member being configured. */
    member: EtcdMemberInfo;
    layout: HostLayout;
    tuning: Required<EtcdTuningArgs>;
    metricsOnPrivateNetwork: boolean;
    /** Serve clients on the member's public address too (only where someone may reach it there). */
    clientsOnPublicAddress: boolean;
    /** Accept members' peer certificates only on the peer port. */
    peerCertificatesOnly: boolean;
    /** Refuse client certificates listed in the client CRL (`pki.clientCrlPem`). @default false */
    clientCrl?: boolean;
    /** Where the certificates are. @default PKI_DIR (the benchmark's floor keeps its own) */
    pkiDir?: string;
}

/**
 * TLS 1.2 cipher suites on both ports, as etcd's transport security guide advises: forward secrecy and AEAD
 * only. The members' certificates are ECDSA, so only ECDSA suites can be chosen; TLS 1.3's are fixed by Go.
 */
export const TLS_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
];

function unique(values: string[]): string[] {
    return [...new Set(values)];
}

/**
 * The initial cluster (`name=peerURL,…`) of a new cluster. It is not a flag: a member reads it only on its
 * first start, from the bootstrap environment file the configure script writes (see membership.ts), so
 * growing or shrinking the cluster changes no running member's unit and restarts nobody.
 */
export function initialCluster(members: EtcdMemberInfo[], layout: HostLayout): string {
    return members.map((m) => `${m.name}=${layout.peerUrl(m.privateIp)}`).join(",");
}

export function etcdFlags(input: FlagsInput): string[] {
    const { member, layout, tuning } = input;
    const pki = (key: Parameters<typeof pkiPath>[0]) => pkiPath(key, input.pkiDir ?? PKI_DIR);
    const clientListen = unique([member.privateIp, ...(input.clientsOnPublicAddress ? [member.publicIp] : []), "127.0.0.1"]).map(layout.clientUrl);
    const metricsListen = unique(["127.0.0.1", ...(input.metricsOnPrivateNetwork ? [member.privateIp] : [])]).map(layout.metricsUrl);
    return [
        `--name=${member.name}`,
        `--data-dir=${layout.dataDir}`,
        // Peers talk over the private network only.
        `--listen-peer-urls=${layout.peerUrl(member.privateIp)}`,
        `--initial-advertise-peer-urls=${layout.peerUrl(member.privateIp)}`,
        `--listen-client-urls=${clientListen.join(",")}`,
        `--advertise-client-urls=${layout.clientUrl(member.privateIp)}`,
        `--listen-metrics-urls=${metricsListen.join(",")}`,
        // Clients and peers must present a certificate signed by the cluster CA.
        "--client-cert-auth=true",
        `--trusted-ca-file=${pki("ca")}`,
        `--cert-file=${pki("serverCert")}`,
        `--key-file=${pki("serverKey")}`,
        "--peer-client-cert-auth=true",
        `--peer-trusted-ca-file=${pki("ca")}`,
        `--peer-cert-file=${pki("peerCert")}`,
        `--peer-key-file=${pki("peerKey")}`,
        // Of the CA's certificates, only members' peer certificates may speak raft (both directions).
        ...(input.peerCertificatesOnly ? [`--peer-cert-allowed-cn=${PEER_CERT_CN}`] : []),
        ...(input.clientCrl ? [`--client-crl-file=${input.pkiDir ?? PKI_DIR}/${CLIENT_CRL.derFile}`] : []),
        "--tls-min-version=TLS1.2",
        `--cipher-suites=${TLS_CIPHER_SUITES.join(",")}`,
        `--heartbeat-interval=${tuning.heartbeatIntervalMs}`,
        `--election-timeout=${tuning.electionTimeoutMs}`,
        `--quota-backend-bytes=${tuning.quotaBackendBytes}`,
        `--snapshot-count=${tuning.snapshotCount}`,
        `--auto-compaction-mode=${tuning.autoCompactionMode}`,
        `--auto-compaction-retention=${tuning.autoCompactionRetention}`,
        "--logger=zap",
    ];
}

/** etcd.service: the release's own binary (an upgrade is a unit change) with the flags. */
export function etcdUnit(layout: HostLayout, flags: string[]): UnitFile {
    return [
        { name: "Unit", entries: [
            ["Description", "etcd key-value store"],
            ["Documentation", "https://etcd.io/docs/"],
            ["Wants", "network-online.target"],
            ["After", "network-online.target"],
        ] },
        { name: "Service", entries: [
            ["Type", "notify", "etcd tells systemd when it has joined the cluster and serves clients."],
            ["User", SERVICE_USER],
            ["EnvironmentFile", `-${BOOTSTRAP_ENV_PATH}`, "ETCD_INITIAL_CLUSTER{,_STATE,_TOKEN}: how this member first joined; read only while its data dir is empty."],
            ["Group", SERVICE_USER],
            ["ExecStart", { command: [layout.release.etcd, ...flags] }],
            ["Restart", "on-failure"],
            ["RestartSec", "5s"],
            ["TimeoutStartSec", "300s"],
            ["LimitNOFILE", 65536],
            ["Nice", -10],
            ["IOSchedulingClass", "best-effort"],
            ["IOSchedulingPriority", 0],
            ...ETCD_SANDBOX,
            ["ReadWritePaths", layout.dataDir, "etcd writes its data directory and nothing else; the snapshot directory may not exist yet."],
            ["ReadWritePaths", `-${layout.snapshotDir}`],
        ] },
        { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
    ];
}

/**
 * What etcd may do besides serving its ports and writing its data: no privileges, capabilities, devices,
 * kernel or clock settings, namespaces, other users' files; a read-only system; the syscalls of a service.
 * `systemd-analyze security etcd.service` rates the result (the e2e test holds it under a threshold).
 */
const ETCD_SANDBOX: UnitFile[number]["entries"] = [
    ["NoNewPrivileges", "yes", "Sandbox: etcd needs its ports and its data directory, nothing more."],
    ["CapabilityBoundingSet", ""],
    ["AmbientCapabilities", ""],
    ["ProtectSystem", "strict"],
    ["ProtectHome", "yes"],
    ["PrivateTmp", "yes"],
    ["PrivateDevices", "yes"],
    ["ProtectKernelTunables", "yes"],
    ["ProtectKernelModules", "yes"],
    ["ProtectKernelLogs", "yes"],
    ["ProtectControlGroups", "yes"],
    ["ProtectClock", "yes"],
    ["ProtectHostname", "yes"],
    ["ProtectProc", "invisible"],
    ["ProcSubset", "pid"],
    ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
    ["RestrictNamespaces", "yes"],
    ["RestrictRealtime", "yes"],
    ["RestrictSUIDSGID", "yes"],
    ["LockPersonality", "yes"],
    ["MemoryDenyWriteExecute", "yes"],
    ["RemoveIPC", "yes"],
    ["SystemCallArchitectures", "native"],
    ["SystemCallFilter", "@system-service"],
    ["SystemCallFilter", "~@privileged"],
    ["SystemCallErrorNumber", "EPERM"],
    ["UMask", "0077"],
];
