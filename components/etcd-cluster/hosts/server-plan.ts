// Server changes one member at a time. A change of server type, image or location stops or replaces a server
// (the hcloud provider powers a server off to change its type and never powers it on again; an image or
// location change recreates it). So each server is *replaced* (delete first, keeping its name and private
// address), and only one per `pulumi up`: the members not yet changed keep the settings their servers have now
// (read from the API), the one that changes goes down only after a health gate on another member saw every
// member healthy, and re-joins as a new host in the same deployment (see host-generation.ts). The next
// `pulumi up` takes the next member. What cannot be rolled is refused before anything changes.
import { ClusterPlan } from "../plan";
import { EtcdClusterArgsError } from "../validate";
import { LiveServer } from "./live";

export interface ServerSettings {
    serverType: string;
    image: string;
    location: string;
}

export interface ServerPlan {
    /** What each member's server declares in this deployment. */
    settings: ServerSettings[];
    /** The member whose server is replaced now, if any. */
    rolling?: number;
    /** For the operator: what rolls now and what waits. */
    notice?: string;
}

const describe = (s: ServerSettings) => `${s.serverType} ${s.image} ${s.location}`;
const same = (a: ServerSettings, b: ServerSettings) => a.serverType === b.serverType && a.image === b.image && a.location === b.location;

/** Pure: the servers' settings for this deployment, from the wanted ones and what Hetzner has now. */
export function planServers(spec: ClusterPlan, live: LiveServer[]): ServerPlan {
    const h = spec.hosts;
    if (h.kind !== "hcloud") throw new Error("planServers needs Hetzner hosts");
    // Each member's own location (hcloud.locations): a changed list moves only the members whose slot changed.
    const wanted: ServerSettings[] = h.memberLocations.map((location) => ({ serverType: h.serverType, image: h.image, location }));
    const current = spec.members.map((m) => live.find((s) => s.member === m.name));

    const moved = spec.members.filter((m, i) => current[i]?.privateIp !== undefined && current[i]!.privateIp !== h.privateIps[i]);
    if (moved.length > 0) {
        throw new EtcdClusterArgsError(`The private address plan (hcloud.networkCidr, subnetCidr, privateIpOffset) changes the address of ` +
            `${moved.map((m) => `${m.name} (${current[m.index]!.privateIp} -> ${h.privateIps[m.index]})`).join(", ")}: every member's peer ` +
            "address would change at once, which cannot be rolled. Nothing was changed. Keep the plan, or build a new cluster with the " +
            "new plan and move the data with a snapshot (docs/operations.md, \"Restore from a snapshot\").");
    }
    const differing = spec.members.filter((_, i) => current[i] && !same(current[i]!, wanted[i])).map((m) => m.index);
    const settings = spec.members.map((_, i) => (current[i] && differing.includes(i) ? pick(current[i]!) : wanted[i]));
    if (differing.length === 0) return { settings };

    const change = `${describe(pick(current[differing[0]]!))} -> ${describe(wanted[differing[0]])}`;
    if (spec.members.length === 1) {
        throw new EtcdClusterArgsError(`hcloud server settings ${change}: the only member's server would be replaced and its data lost. ` +
            "Nothing was changed. Scale to 3 members first (memberCount: 3), or take a snapshot and restore it onto the new server " +
            "(docs/operations.md).");
    }
    const protectedOnes = differing.filter((i) => current[i]!.protected).map((i) => spec.members[i].name);
    if (protectedOnes.length > 0) {
        throw new EtcdClusterArgsError(`hcloud server settings ${change} replace servers, but ${protectedOnes.join(", ")} ` +
            "has delete protection. Nothing was changed. Run pulumi up with hcloud.protection: false first, then make the change, " +
            "then turn protection on again.");
    }
    const waiting = spec.members.filter((_, i) => !current[i] || current[i]!.status !== "running").map((m) => m.name);
    if (waiting.length > 0) {
        return {
            settings,
            notice: `hcloud server settings ${change}: waiting, because ${waiting.join(", ")} ${waiting.length > 1 ? "are" : "is"} not running ` +
                "(being created or replaced); one member's server is replaced per pulumi up once every member runs.",
        };
    }
    const rolling = differing[0];
    settings[rolling] = wanted[rolling];
    const left = differing.length - 1;
    return {
        settings,
        rolling,
        notice: `hcloud server settings ${change}: replacing the server of ${spec.members[rolling].name} in this pulumi up ` +
            `(it re-joins as a new member); ${left === 0 ? "it is the last one" : `${left} more, one per pulumi up: run pulumi up again until nothing changes`}.`,
    };
}

function pick(s: ServerSettings): ServerSettings {
    return { serverType: s.serverType, image: s.image, location: s.location };
}
