// Pure renderers: from an EtcdCluster's outputs to what kube-apiserver needs. No Pulumi types here, so
// they can be read (and tested) on their own.

/** Where kube-apiserver reads its etcd client files; the layout kubeadm uses under its PKI directory. */
export interface EtcdClientFilePaths {
    caFile: string;
    certFile: string;
    keyFile: string;
}

export function etcdClientFilePaths(pkiDir: string): EtcdClientFilePaths {
    if (!pkiDir.startsWith("/") || pkiDir.includes("..") || /\s/.test(pkiDir)) {
        throw new Error(`pkiDir "${pkiDir}" must be an absolute path without '..' or spaces, e.g. /etc/kubernetes/pki.`);
    }
    const dir = pkiDir.replace(/\/+$/, "");
    return {
        caFile: `${dir}/etcd/ca.crt`,
        certFile: `${dir}/apiserver-etcd-client.crt`,
        keyFile: `${dir}/apiserver-etcd-client.key`,
    };
}

function checkEndpoints(endpoints: string[]): string[] {
    if (endpoints.length === 0) throw new Error("the etcd stack exports no clientEndpoints; deploy it first.");
    for (const e of endpoints) {
        if (!/^https:\/\/[^\s,/]+:\d+$/.test(e)) {
            throw new Error(`etcd endpoint "${e}" is not an https://host:port URL; kube-apiserver talks to this cluster over TLS only.`);
        }
    }
    return endpoints;
}

/** kube-apiserver's etcd flags, one element per flag, in the order the kube-apiserver docs list them. */
export function kubeApiserverEtcdFlags(endpoints: string[], paths: EtcdClientFilePaths): string[] {
    return [
        `--etcd-servers=${checkEndpoints(endpoints).join(",")}`,
        `--etcd-cafile=${paths.caFile}`,
        `--etcd-certfile=${paths.certFile}`,
        `--etcd-keyfile=${paths.keyFile}`,
    ];
}

/** The `etcd.external` part of a kubeadm ClusterConfiguration (kubeadm.k8s.io/v1beta4), as YAML text. */
export function kubeadmExternalEtcd(endpoints: string[], paths: EtcdClientFilePaths): string {
    return [
        "apiVersion: kubeadm.k8s.io/v1beta4",
        "kind: ClusterConfiguration",
        "etcd:",
        "  external:",
        "    endpoints:",
        ...checkEndpoints(endpoints).map((e) => `      - ${e}`),
        `    caFile: ${paths.caFile}`,
        `    certFile: ${paths.certFile}`,
        `    keyFile: ${paths.keyFile}`,
        "",
    ].join("\n");
}
