// EtcdCluster as a multi-language component. Pulumi derives the package schema from the TypeScript types of
// the classes this file exports, with two rules the TypeScript component's own types do not follow:
//  - the class must extend pulumi.ComponentResource directly (a subclass of EtcdCluster is not recognised), and
//    its outputs must be declared on it (inherited ones are not seen);
//  - a property may not be an unnamed union such as `"periodic" | "revision"`.
// So this is a thin parent: its arguments are EtcdClusterArgs with those few fields as plain strings (the
// component validates them exactly as for TypeScript callers), and it re-exposes every output of the child.
// The type checks at the end fail to compile when the component gains an argument or output this file lacks.
import * as pulumi from "@pulumi/pulumi";
import * as etcd from "@etcd-cluster/pulumi-hcloud";

/** etcd tunables; see EtcdTuningArgs of the TypeScript package. */
export interface TuningArgs {
    /** Milliseconds between leader heartbeats (`--heartbeat-interval`). Default 100. */
    heartbeatIntervalMs?: number;
    /** Milliseconds before a follower calls an election (`--election-timeout`); >= 5 x heartbeat. Default 1000. */
    electionTimeoutMs?: number;
    /** Backend size limit in bytes (`--quota-backend-bytes`), at most 8 GiB. Default 2 GiB. */
    quotaBackendBytes?: number;
    /** Committed transactions between snapshots to disk (`--snapshot-count`). Default 10000. */
    snapshotCount?: number;
    /** "periodic" (retention is a duration) or "revision" (retention is a count). Default "periodic". */
    autoCompactionMode?: string;
    /** e.g. "8h" for periodic, "10000" for revision; "0" disables. Default "8h". */
    autoCompactionRetention?: string;
}

/** Certificates; see PkiArgs of the TypeScript package. */
export interface CertificateArgs {
    /** CA validity in hours. Default 87600 (10 years). */
    caValidityHours?: number;
    /** Member and client certificate validity in hours. Default 8760 (1 year). */
    certValidityHours?: number;
    /** Leaves are re-issued this many hours before expiry. Default 720. */
    earlyRenewalHours?: number;
    /** Extra SANs (IPs or DNS names) on every member certificate. */
    extraSans?: string[];
    /** The peer port accepts member peer certificates only (CN etcd-peer). Default true; false for one up to migrate. */
    peerCertificatesOnly?: boolean;
    /** CA slot that signs leaves: "a" or "b". Default "a". */
    activeCa?: string;
    /** CA slots trusted during a rotation ("a", "b"); must include activeCa. Default [activeCa]. */
    trustedCas?: string[];
    /** A CRL (PEM) signed by a trusted CA: members refuse the client certificates it lists. Default none. */
    clientCrlPem?: pulumi.Input<string>;
}

/** Arguments of EtcdCluster; see EtcdClusterArgs of the TypeScript package for every default. */
export interface EtcdClusterArgs {
    /** Odd number of members, 1 to 9. Default 3. */
    memberCount?: number;
    /** Members are named <memberNamePrefix>-<k>. Default: the resource name. */
    memberNamePrefix?: string;
    /** Create Hetzner Cloud servers. Exactly one of hcloud and existingHosts. */
    hcloud?: etcd.HcloudHostsArgs;
    /** Use machines you have. Exactly one of hcloud and existingHosts. */
    existingHosts?: etcd.ExistingHostArgs[];
    /** SSH private key for existing hosts or hcloud.sshKeyNames. Pass it as a secret. */
    sshPrivateKey?: pulumi.Input<string>;
    /** etcd release: version, sha256, downloadBaseUrl. */
    release?: etcd.EtcdReleaseArgs;
    /** etcd tunables. */
    tuning?: TuningArgs;
    /** Certificates. */
    pki?: CertificateArgs;
    /** etcd data directory. Default /var/lib/etcd. */
    dataDir?: string;
    /** Where snapshots taken before a version change go. */
    snapshotDir?: string;
    /** Existing hosts: serve clients on the public address too. Default false. */
    clientsOnPublicAddress?: boolean;
    /** Serve metrics on the private IP too. Default false. */
    metricsOnPrivateNetwork?: boolean;
    /** Seconds a rolling restart waits for health. Default 120. */
    healthTimeoutSeconds?: number;
    /** Scheduled snapshots: schedule, keep, s3 (pass s3.secretAccessKey and s3.encryptionPassphrase as secrets). */
    backup?: etcd.BackupArgs;
    /** Defragmentation and alarm/quota checks: defragSchedule, alarmCheckSchedule, quotaWarnPercent. */
    maintenance?: etcd.MaintenanceArgs;
}

/** One Prometheus file_sd target group: a member's metrics address and its labels (etcd_cluster, etcd_member). */
export interface ScrapeTargetGroup {
    targets: string[];
    labels: { [key: string]: string };
}

/** A highly available, TLS-secured etcd cluster (the TypeScript EtcdCluster, as its only child). */
export class EtcdCluster extends pulumi.ComponentResource {
    /** Client URLs over the private network, in member order (kube-apiserver --etcd-servers). */
    public readonly clientEndpoints: pulumi.Output<string[]>;
    /** Client URLs over the public addresses. */
    public readonly publicClientEndpoints: pulumi.Output<string[]>;
    /** PEM of the trusted CA certificate(s) (--etcd-cafile). */
    public readonly caCertificate: pulumi.Output<string>;
    /** kube-apiserver's client certificate (--etcd-certfile). */
    public readonly kubeApiserverClientCertificate: pulumi.Output<string>;
    /** Its private key (--etcd-keyfile). Secret. */
    public readonly kubeApiserverClientKey: pulumi.Output<string>;
    /** Client certificate for administration and health checks. */
    public readonly adminClientCertificate: pulumi.Output<string>;
    /** Its private key. Secret. */
    public readonly adminClientKey: pulumi.Output<string>;
    /** Members: name, privateIp, publicIp. */
    public readonly members: pulumi.Output<etcd.EtcdMemberInfo[]>;
    /** The SSH key generated for Hetzner servers, when one was generated. Secret. */
    public readonly sshPrivateKey: pulumi.Output<string | undefined>;
    /** Shell lines that point etcdctl at the cluster. */
    public readonly etcdctlEnvironment: pulumi.Output<string>;
    /** Output of the last cluster check. */
    public readonly clusterCheck: pulumi.Output<string>;
    /** Prometheus scrape targets (file_sd): each member's metrics on its private address; empty unless metricsOnPrivateNetwork. */
    public readonly prometheusTargets: pulumi.Output<ScrapeTargetGroup[]>;
    /** Prometheus alert rules for these members (a rule file, YAML). */
    public readonly prometheusRules: pulumi.Output<string>;

    constructor(name: string, args: EtcdClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-cluster:index:EtcdCluster", name, {}, opts);
        // The strings of TuningArgs and CertificateArgs are checked by the component's own validation.
        const cluster = new etcd.EtcdCluster(name, args as etcd.EtcdClusterArgs, { parent: this });
        this.clientEndpoints = cluster.clientEndpoints;
        this.publicClientEndpoints = cluster.publicClientEndpoints;
        this.caCertificate = cluster.caCertificate;
        this.kubeApiserverClientCertificate = cluster.kubeApiserverClientCertificate;
        this.kubeApiserverClientKey = cluster.kubeApiserverClientKey;
        this.adminClientCertificate = cluster.adminClientCertificate;
        this.adminClientKey = cluster.adminClientKey;
        this.members = cluster.members;
        this.sshPrivateKey = cluster.sshPrivateKey;
        this.etcdctlEnvironment = cluster.etcdctlEnvironment;
        this.clusterCheck = cluster.clusterCheck;
        this.prometheusTargets = cluster.prometheusTargets;
        this.prometheusRules = cluster.prometheusRules;
        this.registerOutputs({});
    }
}

// Compile-time drift checks (tsc -p tsconfig.json): the same argument names, nested argument names and outputs
// as the TypeScript component.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type OutputNames<T> = { [K in keyof T]: T[K] extends pulumi.Output<unknown> ? K : never }[keyof T];
export const schemaInSync: [
    Same<keyof EtcdClusterArgs, keyof etcd.EtcdClusterArgs>,
    Same<keyof TuningArgs, keyof etcd.EtcdTuningArgs>,
    Same<keyof CertificateArgs, keyof etcd.PkiArgs>,
    Same<OutputNames<EtcdCluster>, OutputNames<etcd.EtcdCluster>>,
] = [true, true, true, true];
