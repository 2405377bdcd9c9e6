// The component's PKI layer on its own: real @pulumi/tls resources for three members whose addresses
// are given, so the certificates can be checked with openssl without any host.
import * as pulumi from "@pulumi/pulumi";
import { resolveArgs } from "../../../components/etcd-cluster/plan";
import { EtcdHost } from "../../../components/etcd-cluster/hosts/types";
import { createPki } from "../../../components/etcd-cluster/pki";

const config = new pulumi.Config();
const addresses: { privateIp: string; publicIp: string }[] = config.requireObject("addresses");
const plan = resolveArgs("pki", {
    existingHosts: addresses,
    sshPrivateKey: "unused",
    pki: config.getObject("pki"),
});
if (plan.hosts.kind !== "existing") throw new Error("existingHosts were given");
const existing = plan.hosts;
const hosts: EtcdHost[] = existing.hosts.map((h) => ({
    name: h.name,
    privateIp: pulumi.output(h.privateIp),
    publicIp: pulumi.output(h.publicIp),
    connection: { host: h.sshHost },
    dependsOn: [],
}));
class PkiTest extends pulumi.ComponentResource {
    constructor() {
        super("test:index:PkiTest", "pki", {});
    }
}
const pki = createPki({ name: "pki", plan, hosts, parent: new PkiTest() });

export const ca = pki.caCertPem;
export const members = pki.members.map((m, i) => ({
    name: hosts[i].name, serverCert: m.server.certPem, serverKey: m.server.keyPem, peerCert: m.peer.certPem, peerKey: m.peer.keyPem,
}));
export const kubeApiserverCert = pki.clients.kubeApiserver.certPem;
export const kubeApiserverKey = pki.clients.kubeApiserver.keyPem;
export const healthcheckCert = pki.clients.healthcheck.certPem;
