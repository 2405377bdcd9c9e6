// Members start in parallel, changes roll one at a time: the start step (unchained, runs once) and the
// configure step (chained, runs on change only) under Pulumi mocks, the start variant of the script, and the
// learner-slot wait that lets new members join at the same time.
import { spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";

import { OptionsCapture, recordingMocks, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster } from "../../components/etcd-cluster";
import { configureScript } from "../../components/etcd-cluster/render/configure-script";
import { JOIN_DECISION, MEMBER_LIST_FUNCTIONS } from "../../components/etcd-cluster/render/membership";
import { hostLayout } from "../../components/etcd-cluster/render/layout";
import { hcloudSpec } from "../helpers/spec";
import { shellcheck } from "../helpers/shellcheck";

const captured = new OptionsCapture();
const options = captured.options;
const capture = captured.transformation;
const command = (name: string) => {
    const c = created.find((r) => r.type === "command:remote:Command" && r.name === name);
    if (!c) throw new Error(`no command ${name}`);
    return c;
};
const depNames = (name: string) => captured.dependencyNames(name);

describe("start and configure steps of a 3-member cluster", () => {
    // beforeEach, not beforeAll: Stryker's per-test coverage gives code run in beforeAll to no test (a mutant
    // reached only there is left out of the score as static), so each test builds its own cluster.
    beforeEach(async () => {
        // Each test reads its own cluster's resources: the lookups take the first match.
        created.length = 0;
        captured.clear();
        const cluster = new EtcdCluster("local", {
            existingHosts: [{ privateIp: "10.9.0.11" }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }],
            sshPrivateKey: pulumi.secret("key"),
        }, { transformations: [capture] });
        await new Promise((resolve) => cluster.clusterCheck.apply(resolve));
        await settled();
    });

    it("starts every member as soon as its release is installed, none waiting for another", async () => {
        for (const m of ["local-1", "local-2", "local-3"]) expect(await depNames(`local-${m}-start`)).toEqual([`local-${m}-install`]);
    });

    it("the start step runs once: it carries the first-start variant and ignores later changes", () => {
        for (const m of ["local-1", "local-2", "local-3"]) {
            const start = command(`local-${m}-start`);
            expect(start.inputs.create).toContain("readonly FIRST_START_ONLY=1");
            expect(start.inputs.update).toBeUndefined();
            expect(start.inputs.delete).toBeUndefined();
            expect(options.get(`local-${m}-start`)?.ignoreChanges).toEqual(["connection", "create", "stdin"]);
        }
    });

    it("the configure step creates nothing (no SSH session) and rolls changes, chained after the previous member", async () => {
        for (const m of ["local-1", "local-2", "local-3"]) {
            const configure = command(`local-${m}-configure`);
            expect(configure.inputs.create).toBeUndefined();
            expect(configure.inputs.update).toContain("refusing to restart etcd on $MEMBER");
            expect(configure.inputs.update).toContain("readonly FIRST_START_ONLY=0");
            expect(options.get(`local-${m}-configure`)?.ignoreChanges).toBeUndefined();
        }
        expect(await depNames("local-local-2-configure")).toEqual(["local-local-2-install", "local-local-2-start", "local-local-1-configure"]);
        expect(await depNames("local-local-3-configure")).toEqual(["local-local-3-install", "local-local-3-start", "local-local-2-configure"]);
    });

    it("both get the certificate bundle as a secret on stdin; etcd stops with the install step's delete", () => {
        for (const name of ["local-local-2-start", "local-local-2-configure"]) {
            expect(JSON.stringify(command(name).inputs.stdin)).toContain("--- FILE server.key");
        }
        expect(command("local-local-2-install").inputs.delete).toContain("systemctl disable --now etcd.service");
    });
});

describe("the start variant of the configure script", () => {
    const input = {
        memberName: "etcd-2", layout: hostLayout(hcloudSpec()), unit: "[Unit]\n", peerClientUrls: ["https://10.1.1.11:2379", "https://10.1.1.13:2379"], healthTimeoutSeconds: 120,
        selfPeerUrl: "https://10.1.1.12:2380", initialCluster: "etcd-1=https://10.1.1.11:2380", clusterToken: "t",
    };
    const start = configureScript({ ...input, firstStartOnly: true });
    const configure = configureScript(input);

    it("passes shellcheck, and differs from the configure script only by its flag", () => {
        expect(shellcheck(start)).toBe("");
        expect(start.replace("readonly FIRST_START_ONLY=1", "readonly FIRST_START_ONLY=0")).toBe(configure);
        expect(start).toContain('if [ "$FIRST_START_ONLY" = 1 ] && [ "$established" = 1 ] && [ -z "$join_id" ]; then');
    });

    it("leaves an established member alone before any restart or health gate, after moving orphaned data aside", () => {
        const at = (s: string) => start.indexOf(s);
        expect(at("# First start only")).toBeGreaterThan(at("# 3. Data that no running cluster knows"));
        expect(at("# First start only")).toBeLessThan(at("refusing to restart etcd on $MEMBER"));
        expect(at("# First start only")).toBeLessThan(at("systemctl restart --no-block etcd.service"));
        expect(at("# First start only")).toBeLessThan(at("snapshot save"));
    });
});

describe("joining while another new member holds the learner slot, or the leader has just met a new member", () => {
    /** Runs the join decision with a fake etcdctl: `member add` answers `busyError` `busy` times. */
    const TOO_MANY_LEARNERS = "Error: etcdserver: too many learner members in cluster";
    const join = (busy: number, timeout: number, otherError = "", busyError = TOO_MANY_LEARNERS) => {
        const script = `set -euo pipefail
MEMBER=etcd-4
PEERS=('https://10.0.0.1:2379')
SELF_PEER_URL=https://10.0.0.4:2380
INITIAL_CLUSTER=etcd-4=https://10.0.0.4:2380
CLUSTER_TOKEN=t
HEALTH_TIMEOUT=${timeout}
stage=$(mktemp -d)
fake=$(mktemp -d)
# How often member add was tried, printed on every exit (a failed join exits inside join_decision).
trap 'echo "member add tried $(cat "$fake/tries" 2>/dev/null || echo 0) time(s)"; rm -rf "$stage" "$fake"' EXIT
${MEMBER_LIST_FUNCTIONS}${JOIN_DECISION}
remove_member() { echo unexpected; exit 9; }
etcdctl_mtls() {
  case "$*" in
    *"member list"*)
      echo "1, started, etcd-1, https://10.0.0.1:2380, https://10.0.0.1:2379, false"
      if [ -f "$fake/added" ]; then echo "4, unstarted, , https://10.0.0.4:2380, , true"; fi ;;
    *"member add"*)
      n=$(cat "$fake/tries" 2>/dev/null || echo 0); echo $((n + 1)) > "$fake/tries"
      if [ -n ${JSON.stringify(otherError)} ]; then echo ${JSON.stringify(otherError)} >&2; return 1; fi
      if [ "$n" -lt ${busy} ]; then echo ${JSON.stringify(busyError)} >&2; return 1; fi
      touch "$fake/added"; echo "Member 4 added" ;;
  esac
}
join_decision
echo "tries=$(cat "$fake/tries") learner=$learner join_id=$join_id"
cat "$stage/bootstrap.env"
`;
        return spawnSync("bash", ["-c", script], { encoding: "utf8", timeout: 30_000 });
    };

    it("waits for the slot, then joins as a learner", () => {
        const r = join(2, 30);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("added to the running cluster as a learner");
        expect(r.stdout).toContain("tries=3 learner=1");
        expect(r.stdout).toContain("join_id=4");
        expect(r.stdout).toContain("ETCD_INITIAL_CLUSTER_STATE=existing");
        expect(r.stdout).toContain("ETCD_INITIAL_CLUSTER=etcd-1=https://10.0.0.1:2380,etcd-4=https://10.0.0.4:2380");
    });

    it("waits while etcd answers \"unhealthy cluster\" (its leader not yet connected to enough voting members for 5 s)", () => {
        const r = join(2, 30, "", "Error: etcdserver: unhealthy cluster");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("tries=3 learner=1");
    });

    it("gives up after the timeout, saying why", () => {
        const r = join(100, 1);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("etcd on etcd-4: member add failed: Error: etcdserver: too many learner members in cluster");
    });

    it("fails at once on any other error", () => {
        const r = join(0, 30, "Error: etcdserver: permission denied");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("member add failed: Error: etcdserver: permission denied");
        expect(r.stdout).toContain("member add tried 1 time(s)");
    });
});
