// The hosts layer's read of what Hetzner has now (hosts/live.ts), under Pulumi mocks that answer the
// getServers invoke: which servers count as members, what is taken from each, and what a failed read does in
// a preview (a warning, nothing probed). In a deployment it rethrows; under mocks that rejection reaches the
// test process unhandled, so the e2e tests (hcloud, replace) are where a deployment reads the real API.
import * as pulumi from "@pulumi/pulumi";
import { liveServers } from "../../components/etcd-cluster/hosts/live";
import { promiseOf } from "../helpers/mocks";

type Call = pulumi.runtime.MockCallArgs;

/** Mocks whose getServers invoke runs `answer`; returns the invokes seen. */
function mocks(preview: boolean, answer: (args: Call) => Record<string, unknown>): Call[] {
    const calls: Call[] = [];
    pulumi.runtime.setMocks({
        newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }),
        call: (a) => { calls.push(a); return answer(a); },
    }, "etcd-cluster", "test", preview);
    return calls;
}

const server = (member: string | undefined, id: number, over: Record<string, unknown> = {}) => ({
    id, name: `etcd-${id}`, ipv4Address: `203.0.113.${id}`, status: "running", serverType: "cx22", image: "ubuntu-24.04",
    location: "fsn1", labels: member === undefined ? { "etcd-cluster": "prod" } : { "etcd-cluster": "prod", "etcd-member": member },
    networks: [{ ip: `10.1.1.${10 + id}`, networkId: 7, aliasIps: [], macAddress: "" }], deleteProtection: id === 2, ...over,
});

const parent = () => new pulumi.ComponentResource("test:index:Parent", `parent-${Math.random()}`);

describe("the servers Hetzner has now", () => {
    it("asks for the cluster's label and keeps the servers that carry a member label, with what the probes need", async () => {
        const calls = mocks(false, () => ({ servers: [server("etcd-1", 1), server("etcd-2", 2), server(undefined, 3), server("etcd-4", 4, { networks: [] }),
            server(undefined, 5, { labels: undefined })] })); // a server with no labels at all (a selector match never has none; the API may omit them)
        const live = await promiseOf(liveServers("prod", parent()));
        expect(calls.map((c) => [c.token, c.inputs])).toEqual([["hcloud:index/getServers:getServers", { withSelector: "etcd-cluster=prod" }]]);
        expect(live).toEqual([
            { member: "etcd-1", id: 1, name: "etcd-1", ipv4Address: "203.0.113.1", status: "running", serverType: "cx22", image: "ubuntu-24.04",
                location: "fsn1", privateIp: "10.1.1.11", protected: false },
            { member: "etcd-2", id: 2, name: "etcd-2", ipv4Address: "203.0.113.2", status: "running", serverType: "cx22", image: "ubuntu-24.04",
                location: "fsn1", privateIp: "10.1.1.12", protected: true },
            { member: "etcd-4", id: 4, name: "etcd-4", ipv4Address: "203.0.113.4", status: "running", serverType: "cx22", image: "ubuntu-24.04",
                location: "fsn1", privateIp: undefined, protected: false },
        ]);
    });

    it("in a preview without API access: nothing, and a warning that says why and what is not checked", async () => {
        mocks(true, () => { throw new Error("hcloud: unauthorized"); });
        const warnings: string[] = [];
        const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(async (msg: string) => { warnings.push(msg); });
        try {
            expect(await promiseOf(liveServers("prod", parent()))).toEqual([]);
        } finally {
            warn.mockRestore();
        }
        expect(warnings).toHaveLength(1);
        // (The mock monitor reports the invoke's error as "Error"; the real engine passes the provider's message.)
        expect(warnings[0]).toMatch(/^could not read the servers from the Hetzner API \(.+\); this preview does not check that the members are up$/);
    });
});
