// A new host is installed and re-joined, and nothing else runs: the host generation step under Pulumi mocks
// (replaced with the Hetzner server, by hand for existing hosts; carried by install, configure and maintenance
// only), and the join path a re-joining member takes, with a fake etcdctl.
import { spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";

import { OptionsCapture, promiseOf, recordingMocks, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster } from "../../components/etcd-cluster";
import { hostGenerationScript } from "../../components/etcd-cluster/host-generation";
import { JOIN_DECISION, MEMBER_LIST_FUNCTIONS } from "../../components/etcd-cluster/render/membership";
import { shellcheck } from "../helpers/shellcheck";

const captured = new OptionsCapture();
const command = (name: string) => {
    const c = created.find((r) => r.type === "command:remote:Command" && r.name === name);
    if (!c) throw new Error(`no command ${name}`);
    return c;
};

async function build(args: ConstructorParameters<typeof EtcdCluster>[1]) {
    created.length = 0;
    captured.clear();
    const cluster = new EtcdCluster("etcd", args, { transformations: [captured.transformation] });
    await promiseOf(cluster.clusterCheck);
    await settled();
}

describe("the host generation of each member", () => {
    it("on Hetzner: replaced with the server (its id is the trigger), after the server", async () => {
        await build({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] } });
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) {
            const step = command(`etcd-${m}-host`);
            const server = created.find((c) => c.type === "hcloud:index/server:Server" && c.name === `etcd-${m}`)!;
            expect(step.inputs.triggers).toEqual([server.id]); // the mock server's id
            expect(step.inputs.create).toContain("host generation $(cat /proc/sys/kernel/random/uuid)");
            expect(step.inputs.delete).toBeUndefined();
            expect(await captured.dependencyNames(`etcd-${m}-host`)).toEqual([`etcd-${m}`]);
        }
    });

    it("on existing hosts: no trigger; only `pulumi up --replace` of the step makes a new one", async () => {
        await build({ existingHosts: [{ privateIp: "10.9.0.11" }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }], sshPrivateKey: pulumi.secret("k") });
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) expect(command(`etcd-${m}-host`).inputs.triggers).toBeUndefined();
    });

    it("is carried by the member's install, configure and maintenance steps only, so a new host re-runs just those", async () => {
        await build({ hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] } });
        for (const m of ["etcd-1", "etcd-2", "etcd-3"]) {
            const stamp = `# ran etcd-${m}-host\n`; // the mock's stdout of that member's generation step
            expect(command(`etcd-${m}-install`).inputs.create.endsWith(stamp)).toBe(true);
            expect(command(`etcd-${m}-configure`).inputs.update.endsWith(stamp)).toBe(true);
            expect(command(`etcd-${m}-maintenance`).inputs.create.endsWith(stamp)).toBe(true);
            // The start step runs once and must not re-run with a new host: re-joining is the configure step's.
            expect(command(`etcd-${m}-start`).inputs.create).not.toContain("# ran etcd-");
        }
        for (const other of ["etcd-preflight", "etcd-membership", "etcd-cluster-check"]) {
            expect(JSON.stringify(command(other).inputs)).not.toContain("-host\\n");
        }
        expect(command("etcd-etcd-2-install").inputs.create).not.toContain("etcd-etcd-1-host");
    });

    it("its script prints a fresh value each run and passes shellcheck", () => {
        const script = hostGenerationScript("etcd-2");
        expect(shellcheck(script)).toBe("");
        const a = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        const b = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(a.stdout).toMatch(/^host generation [0-9a-f-]{36} \(etcd-2\)\n$/);
        expect(a.stdout).not.toBe(b.stdout);
    });
});

describe("a member whose host is new re-joins", () => {
    /** The join decision of etcd-2 against a fake cluster that still lists the old etcd-2 as started. */
    const rejoin = () => spawnSync("bash", ["-c", `set -euo pipefail
MEMBER=etcd-2
PEERS=('https://10.0.0.1:2379' 'https://10.0.0.3:2379')
SELF_PEER_URL=https://10.0.0.2:2380
INITIAL_CLUSTER=unused
CLUSTER_TOKEN=t
HEALTH_TIMEOUT=5
stage=$(mktemp -d)
fake=$(mktemp -d)
trap 'rm -rf "$stage" "$fake"' EXIT
${MEMBER_LIST_FUNCTIONS}${JOIN_DECISION}
etcdctl_mtls() {
  echo "$*" >> "$fake/calls"
  case "$*" in
    *"member list"*)
      echo "1, started, etcd-1, https://10.0.0.1:2380, https://10.0.0.1:2379, false"
      if [ ! -f "$fake/removed" ]; then echo "2, started, etcd-2, https://10.0.0.2:2380, https://10.0.0.2:2379, false"; fi
      if [ -f "$fake/added" ]; then echo "9, unstarted, , https://10.0.0.2:2380, , true"; fi
      echo "3, started, etcd-3, https://10.0.0.3:2380, https://10.0.0.3:2379, false" ;;
    *"endpoint status"*) return 1 ;; # the old etcd-2 does not answer: it is not the leader
    *"member remove 2"*) touch "$fake/removed" ;;
    *"member add etcd-2"*) touch "$fake/added" ;;
  esac
}
join_decision
echo "learner=$learner join_id=$join_id"
cat "$stage/bootstrap.env"
grep -c "member remove\\|member add" "$fake/calls"
`], { encoding: "utf8", timeout: 30_000 });

    it("removes the old member, adds itself as a learner and starts from the live membership", () => {
        const r = rejoin();
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("its data is gone; re-adding it");
        expect(r.stdout).toContain("removed member 2");
        expect(r.stdout).toContain("added to the running cluster as a learner");
        expect(r.stdout).toContain("learner=1 join_id=9");
        expect(r.stdout).toContain("ETCD_INITIAL_CLUSTER=etcd-1=https://10.0.0.1:2380,etcd-2=https://10.0.0.2:2380,etcd-3=https://10.0.0.3:2380");
        expect(r.stdout).toContain("ETCD_INITIAL_CLUSTER_STATE=existing");
        expect(r.stdout.trim().split("\n").pop()).toBe("2"); // one remove, one add
    });
});
