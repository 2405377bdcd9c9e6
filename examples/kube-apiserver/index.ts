// A second stack that points kube-apiserver at an EtcdCluster deployed by another stack. It reads the etcd
// stack's outputs through a StackReference and exports kube-apiserver's four etcd flags, the three files they
// name (the private key stays a Pulumi secret end to end), and the matching kubeadm configuration.
import * as pulumi from "@pulumi/pulumi";
import { etcdClientFilePaths, kubeadmExternalEtcd, kubeApiserverEtcdFlags } from "./render";

const config = new pulumi.Config();
const etcdStackName = config.require("etcdStack");
const etcd = new pulumi.StackReference(etcdStackName);

const endpoints = etcd.requireOutput("clientEndpoints") as pulumi.Output<string[]>;
const caCertificate = etcd.requireOutput("caCertificate") as pulumi.Output<string>;
const clientCertificate = etcd.requireOutput("kubeApiserverClientCertificate") as pulumi.Output<string>;
// Secret in the etcd stack, so secret here; pulumi.secret() keeps it so even if a producer forgot.
const clientKey = pulumi.secret(etcd.requireOutput("kubeApiserverClientKey") as pulumi.Output<string>);

pulumi.isSecret(etcd.requireOutput("kubeApiserverClientKey")).then((secret) => {
    if (!secret) {
        pulumi.log.warn(`kubeApiserverClientKey is not a secret in ${etcdStackName}: this stack's outputs keep it secret, but the etcd ` +
            "stack's state and this stack's StackReference hold it in clear text. Export it with pulumi.secret() there.");
    }
});

const paths = etcdClientFilePaths(config.get("pkiDir") ?? "/etc/kubernetes/pki");

/** kube-apiserver's etcd flags: `--etcd-servers`, `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`. */
export const etcdFlags = endpoints.apply((e) => kubeApiserverEtcdFlags(e, paths));

/** The files the flags name, for whatever puts files on the control-plane hosts (the key's content is secret). */
export const etcdFiles = {
    ca: { path: paths.caFile, mode: "0644", content: caCertificate },
    cert: { path: paths.certFile, mode: "0644", content: clientCertificate },
    key: { path: paths.keyFile, mode: "0600", content: clientKey },
};

/** The same settings for `kubeadm init --config`: ClusterConfiguration's `etcd.external`. */
export const kubeadmClusterConfiguration = endpoints.apply((e) => kubeadmExternalEtcd(e, paths));
