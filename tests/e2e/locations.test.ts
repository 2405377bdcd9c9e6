// End to end: members over three locations of eu-central, and a whole location failing. The real program
// through the Hetzner layer on its own API stand-in (servers are real local Debian hosts): 3 members over fsn1,
// nbg1 and hel1; every server of one location powered off through the API while a continuous writer and a
// linearizability recorder run on the others; power back on, the member catches up; a zero-change up. Then a
// scale from 3 to 5, the new members where the documented order puts them, no existing server moved.
import * as path from "path";
import { TestStack } from "../../lab/pulumi";
import { logStep } from "../../lab/run";
import { adminClientFiles, ClientFiles, destroyThen, Etcdctl, localEtcdctl } from "../../lab/rig";
import { addressInUse, apiCall, apiGet, devConfig, Standin, standinDown, standinStack, standinUp } from "../../lab/hcloud-standin";
import { ContinuousWriter, expectNoLoss } from "../helpers/reliability";
import { ClusterAccess, expectLinearizable, Recorder } from "../helpers/lincheck";

const VERSION = process.env.ETCD_VERSION ?? "";
const NAME = "locations";
// Own ranges: the public bridge 198.18.20.0/24, the private network 10.20.0.0/16 (others: 10.1.x, 10.16.x).
const PUBLIC_PREFIX = "198.18.20";
const LOCATIONS = ["fsn1", "nbg1", "hel1"];
const dev = devConfig;
// The dev stack's servers, but over eu-central's three locations instead of its one (ash).
const { location: _devLocation, ...devHcloud } = dev["etcd-cluster:hcloud"];
const HCLOUD = {
    ...devHcloud, locations: LOCATIONS, networkZone: "eu-central", requireLocationFailureTolerance: true,
    networkCidr: "10.20.0.0/16", subnetCidr: "10.20.1.0/24",
};
const OUTAGE_MS = 20_000;

describe("members over fsn1, nbg1 and hel1: a location fails, the cluster keeps its quorum", () => {
    let standin: Standin;
    let stack: TestStack;
    let admin: Etcdctl;
    let creds: ClientFiles;
    let etcdctlBinary: string;
    let endpoints: string[];

    const servers = async () => (await apiGet(standin, "servers")).filter((s) => s.labels["etcd-member"]);
    const health = (on: string[]) => {
        const r = admin.run(on, ["endpoint", "health", "-w", "json"]);
        return r.status === 0 ? (JSON.parse(r.stdout) as any[]).every((h) => h.health) : false;
    };

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        const taken = addressInUse("10.20.1.");
        if (taken) throw new Error(`10.20.1.0/24 is in use here (${taken.trim()}); is another run of this test still up?`);
        standin = standinUp(NAME, PUBLIC_PREFIX, [VERSION]);
        stack = standinStack(NAME, standin, VERSION, { "etcd-cluster:hcloud": HCLOUD, healthTimeoutSeconds: 90 });
        etcdctlBinary = localEtcdctl(VERSION, stack.dir);
    }, 20 * 60_000);

    afterAll(() => destroyThen(stack, true, () => standinDown(NAME)), 15 * 60_000);

    it("1. pulumi up places member k in locations[(k - 1) % 3], each in its location's spread group", async () => {
        stack.up("locations: pulumi up, 3 members over fsn1, nbg1, hel1");
        const out = stack.outputs(true);
        expect(out.clusterCheck).toContain("etcd cluster check passed: 3 members started and healthy");
        expect(out.members.map((m: any) => [m.name, m.location])).toEqual([["etcd-1", "fsn1"], ["etcd-2", "nbg1"], ["etcd-3", "hel1"]]);
        endpoints = out.clientEndpoints;
        creds = adminClientFiles(path.join(stack.dir, "client"), out);
        admin = new Etcdctl(etcdctlBinary, creds);
        const live = await servers();
        const groups = new Map((await apiGet(standin, "placement_groups")).map((g) => [g.id, g.name]));
        expect(live.map((s) => [s.name, s.location.name, s.labels["etcd-location"], groups.get(s.placement_group?.id)]).sort()).toEqual([
            ["etcd-1", "fsn1", "fsn1", "etcd-spread"], ["etcd-2", "nbg1", "nbg1", "etcd-spread-nbg1"], ["etcd-3", "hel1", "hel1", "etcd-spread-hel1"],
        ]);
        // One private network, one eu-central subnet, every location on it.
        expect(live.map((s) => s.private_net[0].ip).sort()).toEqual(["10.20.1.11", "10.20.1.12", "10.20.1.13"]);
        admin.must(endpoints, ["put", "/locations/before", "kept"]);
    }, 20 * 60_000);

    it("2. every server of nbg1 powered off: the others keep serving (0 acknowledged writes lost, linearizable); back on, it catches up", async () => {
        const location = "nbg1";
        const down = (await servers()).filter((s) => s.location.name === location);
        expect(down.map((s) => s.name)).toEqual(["etcd-2"]);
        const downIdx = down.map((s) => Number(s.labels["etcd-member"].split("-")[1]) - 1);
        const survivors = endpoints.filter((_, i) => !downIdx.includes(i));
        // Bounded (300 s), and stopped on failure too: a child left running would keep jest, and the e2e lock, busy.
        const w = new ContinuousWriter(`location ${location} powered off ${OUTAGE_MS / 1000} s`, "/reliability/locations-outage",
            etcdctlBinary, survivors, creds, stack.dir, { maxWrites: 20_000, maxSeconds: 300 });
        const rec = new Recorder(`locations: ${location} powered off and on through the API`, { ...stack.outputs(true), clientEndpoints: survivors } as ClusterAccess,
            stack.dir, { maxSeconds: 300, maxOps: 40_000, intervalMs: 50 });
        let finished = false;
        try {
            const started = Date.now();
            for (const s of down) await apiCall(standin, "POST", `servers/${s.id}/actions/poweroff`);
            expect((await servers()).filter((s) => s.location.name === location).map((s) => s.status)).toEqual(["off"]);
            await new Promise((r) => setTimeout(r, OUTAGE_MS));
            // The survivors are a majority: the cluster answered linearizable reads while the location was gone.
            expect(admin.must(survivors, ["get", "--consistency=l", "--print-value-only", "/locations/before"]).trim()).toBe("kept");
            for (const s of down) await apiCall(standin, "POST", `servers/${s.id}/actions/poweron`);
            logStep(`locations: ${location} off and on again`, (Date.now() - started) / 1000);
            const deadline = Date.now() + 180_000;
            while (!health(endpoints) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2000));
            expect(health(endpoints)).toBe(true);
            // The recorder stops first: finish() compares each member's applied index with the leader's, read one
            // after the other, which a client still writing keeps out of reach.
            const history = await rec.stop(0);
            finished = true;
            const report = await w.finish(admin, endpoints, 3); // every acknowledged write read back from all 3, nbg1 included
            expectNoLoss(report);
            expectLinearizable(history);
        } finally {
            if (rec.running) await rec.stop(0).catch(() => undefined);
            if (!finished) await w.finish(admin, endpoints, 3).catch(() => undefined);
        }
        stack.up("locations: pulumi up after the location came back (no changes)", ["--expect-no-changes"]);
    }, 20 * 60_000);

    it("3. a scale to 5 adds etcd-4 in fsn1 and etcd-5 in nbg1 and moves no existing server", async () => {
        const before = new Map((await servers()).map((s) => [s.name, s.id]));
        stack.setConfig({ memberCount: 5 });
        stack.up("locations: pulumi up, scale 3 -> 5 over fsn1, nbg1, hel1");
        const out = stack.outputs(true);
        expect(out.members.map((m: any) => m.location)).toEqual(["fsn1", "nbg1", "hel1", "fsn1", "nbg1"]);
        const live = await servers();
        expect(live.map((s) => [s.name, s.location.name]).sort()).toEqual([
            ["etcd-1", "fsn1"], ["etcd-2", "nbg1"], ["etcd-3", "hel1"], ["etcd-4", "fsn1"], ["etcd-5", "nbg1"],
        ]);
        for (const [name, id] of before) expect(live.find((s) => s.name === name).id).toBe(id);
        const groups = await apiGet(standin, "placement_groups");
        expect(groups.map((g) => [g.name, g.servers.length]).sort()).toEqual([["etcd-spread", 2], ["etcd-spread-hel1", 1], ["etcd-spread-nbg1", 2]]);
        const members = JSON.parse(admin.must(out.clientEndpoints, ["member", "list", "-w", "json"])).members as any[];
        expect(members.filter((m) => !m.isLearner).map((m) => m.name).sort()).toEqual(["etcd-1", "etcd-2", "etcd-3", "etcd-4", "etcd-5"]);
        expect(admin.must([out.clientEndpoints[4]], ["get", "--consistency=l", "--print-value-only", "/locations/before"]).trim()).toBe("kept");
    }, 20 * 60_000);
});
