// The program: reads the stack's configuration, builds one EtcdCluster, exports what consumers need.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import {
    EtcdCluster, EtcdReleaseArgs, EtcdTuningArgs, ExistingHostArgs, HcloudHostsArgs, PkiArgs,
} from "./components/etcd-cluster";

const config = new pulumi.Config();

/** The SSH key for existing hosts: inline as a secret (`sshPrivateKey`) or from a file (`sshPrivateKeyPath`). */
function sshPrivateKey(): pulumi.Output<string> | undefined {
    const path = config.get("sshPrivateKeyPath");
    if (path) return pulumi.secret(fs.readFileSync(path, "utf8"));
    return config.getSecret("sshPrivateKey");
}

const cluster = new EtcdCluster(config.get("clusterName") ?? "etcd", {
    memberCount: config.getNumber("memberCount"),
    hcloud: config.getObject<HcloudHostsArgs>("hcloud"),
    existingHosts: config.getObject<ExistingHostArgs[]>("existingHosts"),
    sshPrivateKey: sshPrivateKey(),
    release: config.getObject<EtcdReleaseArgs>("release"),
    tuning: config.getObject<EtcdTuningArgs>("tuning"),
    pki: config.getObject<PkiArgs>("pki"),
    dataDir: config.get("dataDir"),
    metricsOnPrivateNetwork: config.getBoolean("metricsOnPrivateNetwork"),
    healthTimeoutSeconds: config.getNumber("healthTimeoutSeconds"),
});

export const clientEndpoints = cluster.clientEndpoints;
export const publicClientEndpoints = cluster.publicClientEndpoints;
export const caCertificate = cluster.caCertificate;
export const kubeApiserverClientCertificate = cluster.kubeApiserverClientCertificate;
export const kubeApiserverClientKey = cluster.kubeApiserverClientKey;
export const adminClientCertificate = cluster.adminClientCertificate;
export const adminClientKey = cluster.adminClientKey;
export const members = cluster.members;
export const sshPrivateKeyOpenssh = cluster.sshPrivateKey;
export const etcdctlEnvironment = cluster.etcdctlEnvironment;
/** What the last cluster check printed. */
export const clusterCheck = cluster.checkResult;
