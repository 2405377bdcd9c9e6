// What Hetzner has now, read at deploy time (an invoke, no resource): the cluster's servers by the labels the
// hosts layer puts on them. Used to probe the members that exist before anything changes. A preview without
// access to the API (npm run preview, offline) reads nothing; a deployment needs it.
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";

export interface LiveServer {
    member: string;
    id: number;
    name: string;
    ipv4Address: string;
    status: string;
    serverType: string;
    image: string;
    location: string;
    /** Its address in the cluster's network, if attached. */
    privateIp?: string;
    protected: boolean;
}

export function liveServers(clusterLabel: string, parent: pulumi.Resource): pulumi.Output<LiveServer[]> {
    const read = hcloud.getServers({ withSelector: `etcd-cluster=${clusterLabel}` }, { parent })
        .then((r) => r.servers.filter((s) => s.labels?.["etcd-member"]).map((s) => ({
            member: s.labels["etcd-member"], id: s.id, name: s.name, ipv4Address: s.ipv4Address, status: s.status,
            serverType: s.serverType, image: s.image, location: s.location, privateIp: s.networks?.[0]?.ip,
            protected: s.deleteProtection,
        })))
        .catch((e: unknown) => {
            if (pulumi.runtime.isDryRun()) {
                pulumi.log.warn(`could not read the servers from the Hetzner API (${String(e).replace(/\s+/g, " ").slice(0, 300)}); this preview does not check that the members are up`, parent);
                return [];
            }
            throw e;
        });
    return pulumi.output(read);
}
