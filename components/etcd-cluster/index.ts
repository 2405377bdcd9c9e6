// EtcdCluster: a highly available, TLS-secured etcd cluster as one Pulumi component.
// Reading order is deploy order: arguments -> hosts -> PKI -> members (rolling) -> cluster check.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { EtcdClusterArgs } from "./args";
import { createCheck, createPreflight } from "./check";
import { createHostGeneration } from "./host-generation";
import { existingHosts } from "./hosts/existing";
import { hcloudHosts } from "./hosts/hcloud";
import { HostsResult } from "./hosts/types";
import { createMaintenance } from "./maintenance";
import { createMember, MemberResources } from "./member";
import { createMembership } from "./membership";
import { ClusterPlan, EtcdMemberInfo, resolveArgs } from "./plan";
import { createPki } from "./pki";
import { etcdAlertRules, renderRulesYaml, scrapeTargets, ScrapeTargetGroup } from "./monitoring/rules";
import { createReachabilityGate } from "./reachability";
import { clientUrl } from "./render/layout";

// The public surface: the component, its arguments, their defaults and the error for invalid ones.
export type {
    BackupArgs, BackupS3Args, CaSlot, EtcdClusterArgs, EtcdReleaseArgs, EtcdTuningArgs, ExistingHostArgs, HcloudHostsArgs,
    MaintenanceArgs, PkiArgs,
} from "./args";
export { defaults, KNOWN_RELEASE_SHA256, MAX_MEMBERS, MAX_QUOTA_BACKEND_BYTES, OFFICIAL_RELEASE_BASE_URL } from "./defaults";
export type { AlertRule, EtcdAlertOptions, ScrapeTargetGroup } from "./monitoring/rules";
export { etcdAlertRules, renderRulesYaml } from "./monitoring/rules";
export type { EtcdMemberInfo } from "./plan";
export { CERT_USAGES, CLIENT_CERTS } from "./pki";
export { EtcdClusterArgsError } from "./validate";

export class EtcdCluster extends pulumi.ComponentResource {
    /** Client URLs over the private network, e.g. `https://10.1.1.11:2379`, in member order. */
    public readonly clientEndpoints: pulumi.Output<string[]>;
    /**
     * Client URLs over the members' public addresses, where etcd listens there (`hcloud.clientAllowedCidrs`
     * not empty, or `clientsOnPublicAddress` for existing hosts); otherwise empty.
     */
    public readonly publicClientEndpoints: pulumi.Output<string[]>;
    /** PEM of the cluster CA: what clients trust (kube-apiserver `--etcd-cafile`). */
    public readonly caCertificate: pulumi.Output<string>;
    /** Client certificate for kube-apiserver (`--etcd-certfile`). */
    public readonly kubeApiserverClientCertificate: pulumi.Output<string>;
    /** Its private key (`--etcd-keyfile`). Secret. */
    public readonly kubeApiserverClientKey: pulumi.Output<string>;
    /** Client certificate for operators (etcdctl). Its own: no member holds its key. */
    public readonly adminClientCertificate: pulumi.Output<string>;
    /** Its private key. Secret. */
    public readonly adminClientKey: pulumi.Output<string>;
    /** Members with their addresses, and on Hetzner their location. */
    public readonly members: pulumi.Output<EtcdMemberInfo[]>;
    /** The SSH private key the component generated for Hetzner servers, if it made one. Secret. */
    public readonly sshPrivateKey: pulumi.Output<string | undefined>;
    /** Shell lines that point `etcdctl` at the cluster, given the CA and admin certificate saved as files. */
    public readonly etcdctlEnvironment: pulumi.Output<string>;
    /** Output of the last cluster check. */
    public readonly clusterCheck: pulumi.Output<string>;
    /**
     * Prometheus scrape targets in file_sd format (`[{ targets: ["10.1.1.11:2381"], labels: { etcd_cluster,
     * etcd_member } }, ...]`): each member's metrics on its private address. Empty unless
     * `metricsOnPrivateNetwork`, since nothing listens there otherwise.
     */
    public readonly prometheusTargets: pulumi.Output<ScrapeTargetGroup[]>;
    /** Prometheus alert rules for these members (a rule file, YAML), with this cluster's quota warning percent. */
    public readonly prometheusRules: pulumi.Output<string>;

    constructor(name: string, args: EtcdClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-cluster:index:EtcdCluster", name, {}, opts);
        const outputs = deploy(name, resolveArgs(name, args), this); // resolveArgs throws before any resource exists
        this.clientEndpoints = outputs.clientEndpoints;
        this.publicClientEndpoints = outputs.publicClientEndpoints;
        this.caCertificate = outputs.caCertificate;
        this.kubeApiserverClientCertificate = outputs.kubeApiserverClientCertificate;
        this.kubeApiserverClientKey = outputs.kubeApiserverClientKey;
        this.adminClientCertificate = outputs.adminClientCertificate;
        this.adminClientKey = outputs.adminClientKey;
        this.members = outputs.members;
        this.sshPrivateKey = outputs.sshPrivateKey;
        this.etcdctlEnvironment = outputs.etcdctlEnvironment;
        this.clusterCheck = outputs.clusterCheck;
        this.prometheusTargets = outputs.prometheusTargets;
        this.prometheusRules = outputs.prometheusRules;
        this.registerOutputs(outputs);
    }
}

/** The component's outputs, as one record. */
type EtcdClusterOutputs = { [K in Exclude<keyof EtcdCluster, "urn" | "getProvider">]: EtcdCluster[K] };

function createHosts(name: string, plan: ClusterPlan, parent: pulumi.Resource): HostsResult {
    switch (plan.hosts.kind) {
        case "hcloud": return hcloudHosts({ name, plan, hcloud: plan.hosts, parent });
        case "existing": return existingHosts(plan.hosts);
    }
}

/** Reading order is deploy order: hosts -> PKI -> members (rolling) -> membership -> cluster check. */
function deploy(name: string, plan: ClusterPlan, parent: pulumi.Resource): EtcdClusterOutputs {
    const { hosts, probeTargets, sshPrivateKey } = createHosts(name, plan, parent);
    // Preflight, membership and check run on one member, the first: only after every member answers (the
    // reachability gate), and membership and check after the configure chain, which re-joins a new host.
    const runOn = hosts[0];
    // Nothing touches a host before every member that should answer does, with its pinned host key (fail
    // fast, nothing changed). A new Hetzner server's generation step waits for its SSH, so there the gate
    // comes after those steps; existing hosts are there already, so there it comes first: a generation step
    // whose connection changed runs again, and must not dial an impostor 60 times.
    const gateFirst = plan.hosts.kind === "hcloud" ? undefined : createReachabilityGate(name, plan, probeTargets, [], parent);
    const generations = hosts.map((h) => createHostGeneration(name, h, gateFirst ? [gateFirst] : [], parent));
    const reachable = gateFirst ?? createReachabilityGate(name, plan, probeTargets, generations.map((g) => g.step), parent);
    const pki = createPki({ name, plan, hosts, parent });
    const token = new random.RandomId(`${name}-cluster-token`, { byteLength: 8 }, { parent });
    const addresses: pulumi.Output<EtcdMemberInfo[]> = pulumi.all(hosts.map((h) => pulumi.all([h.privateIp, h.publicIp])))
        .apply((ips) => ips.map(([privateIp, publicIp], i) => ({
            name: hosts[i].name, privateIp, publicIp, ...(hosts[i].location ? { location: hosts[i].location } : {}),
        })));

    const preflight = createPreflight({ name, plan, hosts, runOn, reachable, parent });
    const members: MemberResources[] = [];
    for (let index = 0; index < hosts.length; index++) {
        members.push(createMember({
            name, plan, index, hosts, addresses, pki, preflight, parent, generation: generations[index],
            clusterToken: token.hex.apply((hex) => `${name}-${hex}`),
            previous: members[index - 1]?.configure,
        }));
    }
    const configures = members.map((m) => m.configure);
    const membership = createMembership({ name, plan, hosts, runOn, after: configures, parent });
    const check = createCheck({ name, plan, hosts, runOn, members, pki, after: [membership], parent });
    // Backup timer, defragmentation and quota check on each member, after that member is configured.
    createMaintenance({ name, plan, hosts, configures, generations: generations.map((g) => g.value), parent });

    const clientEndpoints = addresses.apply((a) => a.map((m) => clientUrl(m.privateIp, plan.ports.client)));
    return {
        clientEndpoints,
        publicClientEndpoints: addresses.apply((a) => (plan.clientsOnPublicAddress ? a.map((m) => clientUrl(m.publicIp, plan.ports.client)) : [])),
        caCertificate: pki.caCertPem,
        kubeApiserverClientCertificate: pki.clients.kubeApiserver.certPem,
        kubeApiserverClientKey: pki.clients.kubeApiserver.keyPem,
        adminClientCertificate: pki.clients.operator.certPem,
        adminClientKey: pki.clients.operator.keyPem,
        members: addresses,
        sshPrivateKey: sshPrivateKey ? pulumi.secret(sshPrivateKey) : pulumi.output(undefined),
        etcdctlEnvironment: clientEndpoints.apply((endpoints) => [
            "export ETCDCTL_API=3",
            `export ETCDCTL_ENDPOINTS=${endpoints.join(",")}`,
            "export ETCDCTL_CACERT=$PWD/etcd-ca.crt",
            "export ETCDCTL_CERT=$PWD/etcd-admin.crt",
            "export ETCDCTL_KEY=$PWD/etcd-admin.key",
        ].join("\n")),
        clusterCheck: check.stdout,
        prometheusTargets: addresses.apply((a) => (plan.metricsOnPrivateNetwork ? scrapeTargets(name, a, plan.ports.metrics) : [])),
        prometheusRules: pulumi.output(renderRulesYaml(etcdAlertRules({
            quotaWarnPercent: plan.maintenance.quotaWarnPercent, certificateWarnDays: plan.maintenance.certificateWarnDays,
            backupMaxAgeHours: plan.backup.maxAgeHours,
        }))),
    };
}
