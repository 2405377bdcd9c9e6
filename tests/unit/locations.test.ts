// Members over several Hetzner locations: the placement order and its stability when scaling, the checks
// (zone, server type, duplicates, location and locations together), the quorum layout (warned, or refused on
// request), and the resources under Pulumi mocks (a spread group per location, labels, the members output).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";

import { promiseOf, recordingMocks, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster, EtcdClusterArgs, EtcdClusterArgsError } from "../../components/etcd-cluster";
import { LiveServer } from "../../components/etcd-cluster/hosts/live";
import { planServers } from "../../components/etcd-cluster/hosts/server-plan";
import { resolveArgs } from "../../components/etcd-cluster/plan";
import { locationFailureRisk } from "../../components/etcd-cluster/validate";

const EU = ["fsn1", "nbg1", "hel1"];
const hcloud = (h: EtcdClusterArgs["hcloud"] = {}) => ({ networkZone: "eu-central", sshAllowedCidrs: ["203.0.113.0/24"], ...h });
const plan = (memberCount: number, h: EtcdClusterArgs["hcloud"] = {}) => resolveArgs("etcd", { memberCount, hcloud: hcloud({ locations: EU, ...h }) });
const placed = (memberCount: number, h: EtcdClusterArgs["hcloud"] = {}) => {
    const p = plan(memberCount, h).hosts;
    if (p.kind !== "hcloud") throw new Error("not hcloud");
    return p;
};

describe("placement order", () => {
    it("member k goes to locations[(k - 1) % L]", () => {
        expect(placed(3).memberLocations).toEqual(["fsn1", "nbg1", "hel1"]);
        expect(placed(5).memberLocations).toEqual(["fsn1", "nbg1", "hel1", "fsn1", "nbg1"]);
        expect(placed(7, { locations: ["hel1", "fsn1"] }).memberLocations).toEqual(["hel1", "fsn1", "hel1", "fsn1", "hel1", "fsn1", "hel1"]);
        expect(placed(3, { locations: undefined, location: "nbg1" }).memberLocations).toEqual(["nbg1", "nbg1", "nbg1"]);
    });

    it("adding members never moves an existing one", () => {
        for (let n = 1; n < 9; n += 2) {
            expect(placed(n + 2).memberLocations.slice(0, n)).toEqual(placed(n).memberLocations);
        }
    });

    it("a scale from 3 to 5 creates the new members in fsn1 and nbg1 and rolls no existing server", () => {
        const live: LiveServer[] = EU.map((location, i) => ({
            member: `etcd-${i + 1}`, id: 100 + i, name: `etcd-${i + 1}`, ipv4Address: `198.18.20.${11 + i}`, status: "running",
            serverType: "cpx11", image: "ubuntu-22.04", location, privateIp: `10.1.1.${11 + i}`, protected: false,
        }));
        const p = planServers(plan(5), live);
        expect(p.rolling).toBeUndefined();
        expect(p.notice).toBeUndefined();
        expect(p.settings.map((s) => s.location)).toEqual(["fsn1", "nbg1", "hel1", "fsn1", "nbg1"]);
        // From one location (fsn1) to three, fsn1 first: etcd-1 stays, etcd-2 moves to nbg1 first, then etcd-3.
        const before = live.map((s) => ({ ...s, location: "fsn1" }));
        const moving = planServers(plan(3), before);
        expect([moving.rolling, moving.settings.map((s) => s.location)]).toEqual([1, ["fsn1", "nbg1", "fsn1"]]);
        expect(moving.notice).toContain("cpx11 ubuntu-22.04 fsn1 -> cpx11 ubuntu-22.04 nbg1: replacing the server of etcd-2");
    });
});

describe("the checks name the argument, the value and the fix", () => {
    const refuse = (memberCount: number, h: EtcdClusterArgs["hcloud"]) => () => resolveArgs("etcd", { memberCount, hcloud: hcloud(h) });
    it.each([
        [refuse(3, { location: "fsn1", locations: EU }), 'hcloud.location "fsn1" and hcloud.locations ["fsn1","nbg1","hel1"] are both set; give one'],
        [refuse(3, { locations: ["fsn1", "ash", "hel1"] }), 'hcloud.locations[1] "ash" is in network zone us-east, not hcloud.networkZone "eu-central": the servers could not attach to the subnet. Set networkZone: "us-east" (or use locations of eu-central: fsn1, nbg1, hel1).'],
        [refuse(3, { locations: ["fsn1", "nbg1", "fsn1"] }), 'hcloud.locations[2] "fsn1" is listed twice; list each location once.'],
        [refuse(3, { locations: [] }), 'hcloud.locations is []; list one or more locations of one network zone, e.g. ["fsn1", "nbg1", "hel1"].'],
        [refuse(3, { locations: ["fsn1", "Nbg 1"] }), 'hcloud.locations[1] "Nbg 1" does not look like a Hetzner location'],
        [refuse(3, { location: "ash", networkZone: "us-east", serverType: "cx22" }), 'hcloud.serverType "cx22" is not offered in hcloud.location "ash" (network zone us-east): Hetzner offers cx servers only in eu-central. Use a type offered there, e.g. cpx11 or ccx13.'],
        [refuse(3, { locations: ["fsn1", "nbg1"], requireLocationFailureTolerance: true }), "hcloud.requireLocationFailureTolerance is true, but 3 members over 2 locations (2 in fsn1, 1 in nbg1): losing fsn1 leaves 1 of 3, below the majority of 2"],
        [refuse(3, { location: "fsn1", requireLocationFailureTolerance: true }), "hcloud.requireLocationFailureTolerance is true, but 3 members over 1 location (3 in fsn1): losing fsn1 leaves 0 of 3"],
        [refuse(3, { locations: EU, requireLocationFailureTolerance: "yes" as unknown as boolean }), 'hcloud.requireLocationFailureTolerance must be true or false (got "yes").'],
    ])("%#", (run, message) => {
        expect(run).toThrow(EtcdClusterArgsError);
        expect(run).toThrow(message);
    });

    it("accepts what tolerates a location's loss, and cx in eu-central", () => {
        expect(placed(3, { requireLocationFailureTolerance: true }).layoutWarning).toBeUndefined();
        expect(placed(5, { requireLocationFailureTolerance: true, serverType: "cx22" }).memberLocations).toHaveLength(5);
    });
});

describe("quorum layout", () => {
    it.each([
        // members per location -> tolerates the loss of any one location
        [["fsn1", "nbg1", "hel1"], true],
        [["fsn1", "nbg1", "hel1", "fsn1", "nbg1"], true],
        [["a", "b", "c", "a", "b", "c", "a"], true],
        [["a", "b", "c", "d", "a"], true],
        [["fsn1", "nbg1", "fsn1"], false],
        [["a", "b", "a", "b", "a"], false],
        [["a", "a", "a"], false],
        [["a"], false],
    ])("%j tolerates a location's loss: %s", (layout, ok) => {
        expect(locationFailureRisk(layout) === undefined).toBe(ok);
    });

    it("several locations that do not tolerate a loss are a warning, one location is not", () => {
        expect(placed(3, { locations: ["fsn1", "nbg1"] }).layoutWarning)
            .toBe("hcloud.locations: 3 members over 2 locations (2 in fsn1, 1 in nbg1): losing fsn1 leaves 1 of 3, below the majority of 2, "
                + "so the cluster stops accepting writes until fsn1 is back. Use 3 or more locations (e.g. 3 or 5 members over 3).");
        expect(placed(3, { locations: ["fsn1"] }).layoutWarning).toBeUndefined();
        expect(placed(3).layoutWarning).toBeUndefined();
    });
});

describe("under Pulumi mocks", () => {
    const ofType = (type: string) => created.filter((c) => c.type === type);
    beforeEach(() => { created.length = 0; });

    it("a spread group per location, each server in its location's group and labelled with it, the members output says where", async () => {
        const cluster = new EtcdCluster("etcd", { memberCount: 5, hcloud: hcloud({ locations: EU }) });
        const members = await promiseOf(cluster.members);
        await promiseOf(cluster.clusterCheck);
        await settled();
        const groups = ofType("hcloud:index/placementGroup:PlacementGroup");
        // The first location keeps the single-location group's name, so adding locations leaves its servers in it.
        expect(groups.map((g) => g.name)).toEqual(["etcd-spread", "etcd-spread-nbg1", "etcd-spread-hel1"]);
        const groupOf = Object.fromEntries(groups.map((g) => [Number(g.id), g.name]));
        const servers = ofType("hcloud:index/server:Server");
        expect(servers.map((s) => [s.inputs.location, s.inputs.labels["etcd-location"], groupOf[s.inputs.placementGroupId]])).toEqual([
            ["fsn1", "fsn1", "etcd-spread"], ["nbg1", "nbg1", "etcd-spread-nbg1"], ["hel1", "hel1", "etcd-spread-hel1"],
            ["fsn1", "fsn1", "etcd-spread"], ["nbg1", "nbg1", "etcd-spread-nbg1"],
        ]);
        expect(members.map((m) => [m.name, m.location])).toEqual([["etcd-1", "fsn1"], ["etcd-2", "nbg1"], ["etcd-3", "hel1"], ["etcd-4", "fsn1"], ["etcd-5", "nbg1"]]);
    });

    it("warns about a layout that loses the majority with one location, and still builds it", async () => {
        const warn = jest.spyOn(pulumi.log, "warn");
        try {
            const cluster = new EtcdCluster("etcd", { memberCount: 3, hcloud: hcloud({ locations: ["fsn1", "nbg1"] }) });
            await promiseOf(cluster.clusterCheck);
            await settled();
            expect(warn.mock.calls.map((c) => c[0])).toContainEqual(expect.stringContaining("3 members over 2 locations (2 in fsn1, 1 in nbg1): losing fsn1"));
            expect(ofType("hcloud:index/server:Server")).toHaveLength(3);
        } finally {
            warn.mockRestore();
        }
    });

    it("a refused layout registers no resource (waited for: registrations are asynchronous)", async () => {
        expect(() => new EtcdCluster("etcd", { memberCount: 3, hcloud: hcloud({ locations: ["fsn1", "nbg1"], requireLocationFailureTolerance: true }) }))
            .toThrow(EtcdClusterArgsError);
        await settled();
        expect(created.filter((c) => c.type !== "etcd-cluster:index:EtcdCluster")).toEqual([]);
    });
});

describe("the eu-central example stack", () => {
    it("resolves to 3 members over fsn1, nbg1 and hel1, and to 5 over them without moving any", () => {
        const file = path.join(__dirname, "../../examples/stacks/Pulumi.eu-central.yaml");
        const config = (load(fs.readFileSync(file, "utf8")) as { config: Record<string, any> }).config;
        const args = { memberCount: config["etcd-cluster:memberCount"], hcloud: config["etcd-cluster:hcloud"] };
        const three = resolveArgs("etcd", args).hosts;
        const five = resolveArgs("etcd", { ...args, memberCount: 5 }).hosts;
        expect(three.kind === "hcloud" && three.memberLocations).toEqual(["fsn1", "nbg1", "hel1"]);
        expect(five.kind === "hcloud" && five.memberLocations).toEqual(["fsn1", "nbg1", "hel1", "fsn1", "nbg1"]);
        expect(() => resolveArgs("etcd", { ...args, hcloud: { ...args.hcloud, locations: ["fsn1", "nbg1"] } })).toThrow("requireLocationFailureTolerance is true");
    });
});
