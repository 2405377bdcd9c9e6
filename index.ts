// The program: reads the stack's configuration, builds one EtcdCluster, exports what consumers need.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import {
    BackupArgs, EtcdCluster, EtcdReleaseArgs, EtcdTuningArgs, ExistingHostArgs, HcloudHostsArgs, MaintenanceArgs, PkiArgs,
} from "./components/etcd-cluster";

const config = new pulumi.Config();

/** The SSH key for existing hosts: inline as a secret (`sshPrivateKey`) or from a file (`sshPrivateKeyPath`). */
function existingHostsSshKey(): pulumi.Output<string> | undefined {
    const path = config.get("sshPrivateKeyPath");
    if (path) return pulumi.secret(fs.readFileSync(path, "utf8"));
    return config.getSecret("sshPrivateKey");
}

/**
 * Backups: the `backup` object (schedule, keep, s3.endpoint/bucket/region/prefix); the S3 keys from the secrets
 * `backupS3AccessKeyId` and `backupS3SecretAccessKey` (or as secure values inside `backup.s3`); the optional
 * client-side encryption passphrase from the secret `backupEncryptionPassphrase` (or `backup.s3.encryptionPassphrase`).
 */
function backup(): BackupArgs | undefined {
    const b = config.getObject<BackupArgs>("backup");
    if (!b?.s3) return b;
    return {
        ...b,
        s3: {
            ...b.s3,
            accessKeyId: b.s3.accessKeyId !== undefined ? pulumi.secret(b.s3.accessKeyId) : config.requireSecret("backupS3AccessKeyId"),
            secretAccessKey: b.s3.secretAccessKey !== undefined ? pulumi.secret(b.s3.secretAccessKey) : config.requireSecret("backupS3SecretAccessKey"),
            // Optional: client-side encryption is off unless this secret (or backup.s3.encryptionPassphrase) is set.
            encryptionPassphrase: b.s3.encryptionPassphrase !== undefined ? pulumi.secret(b.s3.encryptionPassphrase) : config.getSecret("backupEncryptionPassphrase"),
        },
    };
}

// clusterName, dataDir, snapshotDir, healthTimeoutSeconds and metricsOnPrivateNetwork have their defaults in Pulumi.yaml.
const cluster = new EtcdCluster(config.require("clusterName"), {
    memberCount: config.getNumber("memberCount"),
    hcloud: config.getObject<HcloudHostsArgs>("hcloud"),
    existingHosts: config.getObject<ExistingHostArgs[]>("existingHosts"),
    sshPrivateKey: existingHostsSshKey(),
    release: config.getObject<EtcdReleaseArgs>("release"),
    tuning: config.getObject<EtcdTuningArgs>("tuning"),
    pki: config.getObject<PkiArgs>("pki"),
    dataDir: config.require("dataDir"),
    metricsOnPrivateNetwork: config.requireBoolean("metricsOnPrivateNetwork"),
    clientsOnPublicAddress: config.getBoolean("clientsOnPublicAddress"),
    healthTimeoutSeconds: config.requireNumber("healthTimeoutSeconds"),
    snapshotDir: config.require("snapshotDir"),
    backup: backup(),
    maintenance: config.getObject<MaintenanceArgs>("maintenance"),
});

export const clientEndpoints = cluster.clientEndpoints;
export const publicClientEndpoints = cluster.publicClientEndpoints;
export const caCertificate = cluster.caCertificate;
export const kubeApiserverClientCertificate = cluster.kubeApiserverClientCertificate;
export const kubeApiserverClientKey = cluster.kubeApiserverClientKey;
export const adminClientCertificate = cluster.adminClientCertificate;
export const adminClientKey = cluster.adminClientKey;
export const members = cluster.members;
export const sshPrivateKey = cluster.sshPrivateKey;
export const etcdctlEnvironment = cluster.etcdctlEnvironment;
/** What the last cluster check printed. */
export const clusterCheck = cluster.clusterCheck;
/** Prometheus file_sd targets of the members' metrics (empty unless metricsOnPrivateNetwork). */
export const prometheusTargets = cluster.prometheusTargets;
/** Prometheus alert rules for the members (a rule file). */
export const prometheusRules = cluster.prometheusRules;
