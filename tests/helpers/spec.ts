// A resolved spec for renderer tests, built through the real resolveArgs.
import { ClusterSpec, EtcdClusterArgs, resolveArgs } from "../../components/etcd-cluster/args";

export function hcloudSpec(overrides: Partial<EtcdClusterArgs> = {}): ClusterSpec {
    return resolveArgs("etcd", { hcloud: {}, ...overrides });
}
