// The outputs a kube-apiserver stack reads from an EtcdCluster stack, made without hosts: member addresses come
// from configuration, the CA and the kube-apiserver client certificate from the component's createPki() with the
// real tls provider, the endpoints from the component's own URL renderer.
import * as pulumi from "@pulumi/pulumi";
import { resolveArgs } from "../../../components/etcd-cluster/plan";
import { EtcdHost } from "../../../components/etcd-cluster/hosts/types";
import { createPki } from "../../../components/etcd-cluster/pki";
import { clientUrl } from "../../../components/etcd-cluster/render/layout";

const config = new pulumi.Config();
const addresses: { privateIp: string; publicIp?: string }[] = config.requireObject("addresses");
const plan = resolveArgs("etcd", { existingHosts: addresses, sshPrivateKey: "not used: no host is contacted" });
if (plan.hosts.kind !== "existing") throw new Error("existingHosts were given");
const existing = plan.hosts;
const hosts: EtcdHost[] = existing.hosts.map((h) => ({
    name: h.name,
    privateIp: pulumi.output(h.privateIp),
    publicIp: pulumi.output(h.publicIp),
    connection: { host: h.sshHost },
    dependsOn: [],
}));

class EtcdClusterPkiStandIn extends pulumi.ComponentResource {
    constructor() {
        super("test:index:EtcdClusterPkiStandIn", "etcd", {});
    }
}
const pki = createPki({ name: "etcd", plan, hosts, parent: new EtcdClusterPkiStandIn() });

export const clientEndpoints = existing.hosts.map((h) => clientUrl(h.privateIp, plan.ports.client));
export const caCertificate = pki.caCertPem;
export const kubeApiserverClientCertificate = pki.clients.kubeApiserver.certPem;
/** `leakKey: true` exports the key in clear, as a careless producer would: the consumer must still keep it secret. */
export const kubeApiserverClientKey = config.getBoolean("leakKey")
    ? pulumi.unsecret(pki.clients.kubeApiserver.keyPem)
    : pki.clients.kubeApiserver.keyPem;
