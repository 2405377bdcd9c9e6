// `pulumi preview` of the real program with the real engine and providers, offline: the dev stack as
// `npm run preview` runs it, and the same program at other member counts.
import * as path from "path";
import { load } from "js-yaml";
import * as fs from "fs";
import { logStep, mustRun } from "../../lab/run";
import { REPO_ROOT, TestStack } from "../../lab/pulumi";

const TOKEN = "5ec7e7".repeat(10) + "0000"; // 64 characters, recognisable if it ever leaked
const env = { HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: "http://127.0.0.1:9/v1" };

interface Step { op: string; urn: string; newState?: { type: string } }
const typeOf = (s: Step) => s.newState?.type ?? s.urn.split("::")[2];
function countByType(steps: Step[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of steps) counts[typeOf(s)] = (counts[typeOf(s)] ?? 0) + 1;
    return counts;
}
function expected(n: number): Record<string, number> {
    return {
        "pulumi:pulumi:Stack": 1,
        "etcd-cluster:index:EtcdCluster": 1,
        "hcloud:index/network:Network": 1,
        "hcloud:index/networkSubnet:NetworkSubnet": 1,
        "hcloud:index/placementGroup:PlacementGroup": 1,
        "hcloud:index/firewall:Firewall": 1,
        "hcloud:index/sshKey:SshKey": 1,
        "hcloud:index/server:Server": n,
        "tls:index/privateKey:PrivateKey": 1 + 2 * n + 3 + 1 + n, // CA, server + peer per member, 3 clients, SSH, host keys
        "tls:index/selfSignedCert:SelfSignedCert": 1,
        "tls:index/certRequest:CertRequest": 2 * n + 3,
        "tls:index/locallySignedCert:LocallySignedCert": 2 * n + 3,
        "random:index/randomId:RandomId": 1,
        "command:local:Command": 1, // the reachability gate
        // host generation + install + start + configure + maintenance (+ server gate, with 2 or more) per member, preflight, membership, check
        "command:remote:Command": (n > 1 ? 6 : 5) * n + 3,
    };
}

describe("npm run preview (the dev stack)", () => {
    it("plans the seed's 3-member cluster and leaks no secret", () => {
        const r = mustRun("bash", [path.join(REPO_ROOT, "scripts/preview.sh"), "--json"], { env: { ...process.env, ...env } });
        logStep("npm run preview (dev stack)", r.seconds);
        const plan = JSON.parse(r.stdout);
        const steps: Step[] = plan.steps;
        expect(steps.every((s) => s.op === "create")).toBe(true);
        expect(countByType(steps)).toEqual(expected(3));
        const servers = steps.filter((s) => typeOf(s) === "hcloud:index/server:Server").map((s: any) => s.newState.inputs);
        expect(servers.map((s) => s.networks[0].ip).sort()).toEqual(["10.1.1.11", "10.1.1.12", "10.1.1.13"]);
        expect(servers[0]).toMatchObject({ serverType: "cpx11", image: "ubuntu-22.04", location: "ash", labels: { etcd: "true", cluster: "cluster-1" } });
        for (const text of [r.stdout, r.stderr]) {
            expect(text).not.toContain(TOKEN);
            expect(text).not.toContain("PRIVATE KEY");
        }
    }, 180_000);
});

describe.each([1, 5])("the program previewed with %i members", (n) => {
    let stack: TestStack;
    beforeAll(() => {
        const dev = load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
        stack = new TestStack({ stack: `preview${n}`, config: { ...dev.config, "etcd-cluster:memberCount": n }, env });
    }, 60_000);
    afterAll(() => stack?.dispose());

    it("plans the resources of that many members", () => {
        const steps = JSON.parse(stack.pulumi(["preview", "--json"]).stdout).steps as Step[];
        expect(countByType(steps)).toEqual(expected(n));
        expect(stack.engineLog).not.toContain(TOKEN);
    }, 180_000);
});

describe("invalid configuration", () => {
    /** A preview of the dev stack with one setting changed: it fails with MESSAGE and plans nothing. */
    const expectRefused = (stackName: string, setting: Record<string, unknown>, message: string) => {
        const dev = load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
        const stack = new TestStack({ stack: stackName, config: { ...dev.config, ...setting }, env });
        try {
            const r = stack.tryPulumi(["preview"]);
            expect(r.status).not.toBe(0);
            expect(r.stdout + r.stderr).toContain(message);
            // The real type token (the one the plans above count by): no server may appear in the plan at all.
            expect(r.stdout + r.stderr).not.toContain("hcloud:index/server:Server");
        } finally {
            stack.dispose();
        }
    };

    it("fails the preview with the validation message and plans nothing", () => {
        expectRefused("invalid", { "etcd-cluster:memberCount": 4 }, "memberCount must be odd to keep a majority (got 4); use 3 or 5.");
    }, 180_000);

    it("fails a setting of the wrong type before the program runs, from Pulumi.yaml's declarations", () => {
        expectRefused("invalid-type", { "etcd-cluster:healthTimeoutSeconds": "soon" }, "configuration key 'healthTimeoutSeconds' must be of type 'integer'");
    }, 180_000);
});
