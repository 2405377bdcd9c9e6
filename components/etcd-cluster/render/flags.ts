// etcd's configuration as command-line flags. Flags, not a config file: etcd refuses an unknown flag at
// start, while a config file silently ignores a misspelt key. Pure: typed values in, string[] out.
import { EtcdTuningArgs } from "../args";
import { pkiPath } from "./layout";

export interface MemberAddress {
    name: string;
    privateIp: string;
    publicIp: string;
}

export interface FlagsInput {
    /** The member being configured. */
    member: MemberAddress;
    dataDir: string;
    tuning: Required<EtcdTuningArgs>;
    ports: { client: number; peer: number; metrics: number };
    metricsOnPrivateNetwork: boolean;
}

/** `[::1]`-style bracketing for IPv6 literals inside URLs. */
function hostPart(ip: string): string {
    return ip.includes(":") ? `[${ip}]` : ip;
}

export function peerUrl(ip: string, port: number): string {
    return `https://${hostPart(ip)}:${port}`;
}

export function clientUrl(ip: string, port: number): string {
    return `https://${hostPart(ip)}:${port}`;
}

function unique(values: string[]): string[] {
    return [...new Set(values)];
}

/**
 * The initial cluster (`name=peerURL,…`) of a new cluster. It is not a flag: a member reads it only on its
 * first start, from the bootstrap environment file the configure script writes (see membership.ts), so
 * growing or shrinking the cluster changes no running member's unit and restarts nobody.
 */
export function initialCluster(members: MemberAddress[], peerPort: number): string {
    return members.map((m) => `${m.name}=${peerUrl(m.privateIp, peerPort)}`).join(",");
}

export function etcdFlags(input: FlagsInput): string[] {
    const { member, ports, tuning } = input;
    const clientListen = unique([member.privateIp, member.publicIp, "127.0.0.1"]).map((ip) => clientUrl(ip, ports.client));
    const metricsListen = unique(["127.0.0.1", ...(input.metricsOnPrivateNetwork ? [member.privateIp] : [])])
        .map((ip) => `http://${hostPart(ip)}:${ports.metrics}`);
    return [
        `--name=${member.name}`,
        `--data-dir=${input.dataDir}`,
        // Peers talk over the private network only.
        `--listen-peer-urls=${peerUrl(member.privateIp, ports.peer)}`,
        `--initial-advertise-peer-urls=${peerUrl(member.privateIp, ports.peer)}`,
        `--listen-client-urls=${clientListen.join(",")}`,
        `--advertise-client-urls=${clientUrl(member.privateIp, ports.client)}`,
        `--listen-metrics-urls=${metricsListen.join(",")}`,
        // Clients and peers must present a certificate signed by the cluster CA.
        "--client-cert-auth=true",
        `--trusted-ca-file=${pkiPath("ca")}`,
        `--cert-file=${pkiPath("serverCert")}`,
        `--key-file=${pkiPath("serverKey")}`,
        "--peer-client-cert-auth=true",
        `--peer-trusted-ca-file=${pkiPath("ca")}`,
        `--peer-cert-file=${pkiPath("peerCert")}`,
        `--peer-key-file=${pkiPath("peerKey")}`,
        "--tls-min-version=TLS1.2",
        `--heartbeat-interval=${tuning.heartbeatIntervalMs}`,
        `--election-timeout=${tuning.electionTimeoutMs}`,
        `--quota-backend-bytes=${tuning.quotaBackendBytes}`,
        `--snapshot-count=${tuning.snapshotCount}`,
        `--auto-compaction-mode=${tuning.autoCompactionMode}`,
        `--auto-compaction-retention=${tuning.autoCompactionRetention}`,
        "--logger=zap",
    ];
}
