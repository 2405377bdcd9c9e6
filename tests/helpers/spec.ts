// A resolved spec for renderer tests, built through the real resolveArgs.
import { EtcdClusterArgs } from "../../components/etcd-cluster/args";
import { ClusterPlan, resolveArgs } from "../../components/etcd-cluster/plan";

export function hcloudSpec(overrides: Partial<EtcdClusterArgs> = {}): ClusterPlan {
    return resolveArgs("etcd", { hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, ...overrides });
}
