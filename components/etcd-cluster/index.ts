// EtcdCluster: a highly available, TLS-secured etcd cluster as one Pulumi component.
// Reading order is deploy order: arguments -> hosts -> PKI -> members (rolling) -> cluster check.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { EtcdClusterArgs, resolveArgs } from "./args";
import { createCheck, createPreflight } from "./check";
import { existingHosts } from "./hosts/existing";
import { hcloudHosts } from "./hosts/hcloud";
import { HostsResult } from "./hosts/types";
import { createMaintenance } from "./maintenance";
import { createMember, MemberResources } from "./member";
import { createPki } from "./pki";
import { clientUrl } from "./render/flags";

export * from "./args";
export { CERT_USAGES, CLIENT_CERTS } from "./pki";
export type { EtcdHost } from "./hosts/types";

/** A member as consumers see it. */
export interface EtcdMemberInfo {
    name: string;
    privateIp: string;
    publicIp: string;
}

export class EtcdCluster extends pulumi.ComponentResource {
    /** Client URLs over the private network, e.g. `https://10.1.1.11:2379`, in member order. */
    public readonly clientEndpoints: pulumi.Output<string[]>;
    /** Client URLs over the members' public addresses (reachable where `hcloud.clientAllowedCidrs` allows). */
    public readonly publicClientEndpoints: pulumi.Output<string[]>;
    /** PEM of the cluster CA: what clients trust (kube-apiserver `--etcd-cafile`). */
    public readonly caCertificate: pulumi.Output<string>;
    /** Client certificate for kube-apiserver (`--etcd-certfile`). */
    public readonly kubeApiserverClientCertificate: pulumi.Output<string>;
    /** Its private key (`--etcd-keyfile`). Secret. */
    public readonly kubeApiserverClientKey: pulumi.Output<string>;
    /** Client certificate for health checks and administration. */
    public readonly adminClientCertificate: pulumi.Output<string>;
    /** Its private key. Secret. */
    public readonly adminClientKey: pulumi.Output<string>;
    /** Members with their addresses. */
    public readonly members: pulumi.Output<EtcdMemberInfo[]>;
    /** The SSH private key the component generated for Hetzner servers, if it made one. Secret. */
    public readonly sshPrivateKey: pulumi.Output<string | undefined>;
    /** Shell lines that point `etcdctl` at the cluster, given the CA and admin certificate saved as files. */
    public readonly etcdctlEnvironment: pulumi.Output<string>;
    /** Output of the last cluster check. */
    public readonly checkResult: pulumi.Output<string>;

    constructor(name: string, args: EtcdClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-cluster:index:EtcdCluster", name, {}, opts);
        const spec = resolveArgs(name, args); // throws before any resource exists

        const { hosts, sshPrivateKey }: HostsResult = spec.hcloud
            ? hcloudHosts(name, spec, this, args.sshPrivateKey)
            : existingHosts(spec, args.sshPrivateKey!);
        const pki = createPki(name, spec, hosts, this);
        const token = new random.RandomId(`${name}-cluster-token`, { byteLength: 8 }, { parent: this });
        const addresses = pulumi.all(hosts.map((h) => pulumi.all([h.privateIp, h.publicIp])))
            .apply((ips) => ips.map(([privateIp, publicIp], i) => ({ name: hosts[i].name, privateIp, publicIp })));

        const preflight = createPreflight(name, spec, hosts, this);
        const members: MemberResources[] = [];
        for (let index = 0; index < hosts.length; index++) {
            members.push(createMember({
                name, spec, index, hosts, addresses, pki, preflight, parent: this,
                clusterToken: token.hex.apply((hex) => `${name}-${hex}`),
                previous: members[index - 1]?.configure,
            }));
        }
        const check = createCheck(name, spec, hosts, members, pki, this);
        // Backup timer, defragmentation and quota check on each member, after that member is configured.
        createMaintenance({ name, spec, hosts, configures: members.map((m) => m.configure), parent: this });

        this.members = addresses;
        this.clientEndpoints = addresses.apply((a) => a.map((m) => clientUrl(m.privateIp, spec.ports.client)));
        this.publicClientEndpoints = addresses.apply((a) => a.map((m) => clientUrl(m.publicIp, spec.ports.client)));
        this.caCertificate = pki.caCertPem;
        this.kubeApiserverClientCertificate = pki.clients.kubeApiserver.certPem;
        this.kubeApiserverClientKey = pki.clients.kubeApiserver.keyPem;
        this.adminClientCertificate = pki.clients.healthcheck.certPem;
        this.adminClientKey = pki.clients.healthcheck.keyPem;
        this.sshPrivateKey = sshPrivateKey ? pulumi.secret(sshPrivateKey) : pulumi.output(undefined);
        this.etcdctlEnvironment = this.clientEndpoints.apply((endpoints) => [
            "export ETCDCTL_API=3",
            `export ETCDCTL_ENDPOINTS=${endpoints.join(",")}`,
            "export ETCDCTL_CACERT=$PWD/etcd-ca.crt",
            "export ETCDCTL_CERT=$PWD/etcd-admin.crt",
            "export ETCDCTL_KEY=$PWD/etcd-admin.key",
        ].join("\n"));
        this.checkResult = check.stdout;

        this.registerOutputs({
            clientEndpoints: this.clientEndpoints,
            publicClientEndpoints: this.publicClientEndpoints,
            caCertificate: this.caCertificate,
            kubeApiserverClientCertificate: this.kubeApiserverClientCertificate,
            kubeApiserverClientKey: this.kubeApiserverClientKey,
            adminClientCertificate: this.adminClientCertificate,
            adminClientKey: this.adminClientKey,
            members: this.members,
            sshPrivateKey: this.sshPrivateKey,
            etcdctlEnvironment: this.etcdctlEnvironment,
            checkResult: this.checkResult,
        });
    }
}
