// scripts/adopt.sh and its decisions (scripts/lib/adopt-assess.js): what the check reads from the hosts of a
// hand-built cluster, every refusal, the plan and the downtime figure; the script's options and shellcheck of
// it and of the host steps it sends. The hosts themselves: tests/e2e/adopt.test.ts.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shellcheck } from "../helpers/shellcheck";

// Plain Node on the operator's machine (no build step), so required, not imported.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const adopt = require("../../scripts/lib/adopt-assess.js");

const repo = path.resolve(__dirname, "../..");
const hosts = [
    { name: "node-1", privateIp: "10.1.1.1", publicIp: "203.0.113.1" },
    { name: "node-2", privateIp: "10.1.1.2", publicIp: "203.0.113.2" },
    { name: "node-3", privateIp: "10.1.1.3", publicIp: "203.0.113.3" },
];
// 64-bit ids above 2^53, as etcdctl prints them: they must survive as text.
const ids = ["11a85cd56d9530bf", "6e6ca551d2049908", "cba426eb7a695eef"].map((h) => BigInt(`0x${h}`).toString());
const CLUSTER = "17237436991929493444";

interface Opts {
    reach?: string; dpkg?: string; owner?: string; active?: string; datadir?: string; avail?: number; version?: string; clusterId?: string; memberId?: string;
    dbSize?: number; leader?: number; members?: object[]; health?: string; alarms?: string; statusText?: string; count?: number;
}
/** One host's collector output (the sections adopt.sh's host step prints), for host i of a healthy 3.4 cluster. */
function hostText(i: number, o: Opts = {}): string {
    const members = o.members ?? hosts.map((h, k) => ({ ID: ids[k], name: h.name, peerURLs: [`https://${h.privateIp}:2380`], clientURLs: [`https://${h.privateIp}:2379`] }));
    const status = o.statusText ?? `[{"Endpoint":"https://${hosts[i].privateIp}:2379","Status":{"header":{"cluster_id":${o.clusterId ?? CLUSTER},"member_id":${o.memberId ?? ids[i]},"revision":304,"raft_term":2},`
        + `"version":"${o.version ?? "3.4.23"}","dbSize":${o.dbSize ?? 98304},"leader":${ids[o.leader ?? 1]},"raftIndex":320,"raftTerm":2}}]`;
    return [
        "@@ reach", o.reach ?? "ok",
        "@@ dpkg", o.dpkg ?? "etcd-server 3.4.23-4+b4 install ok installed\netcd-client 3.4.23-4+b4 install ok installed",
        "@@ owner", o.owner ?? "",
        "@@ active", o.active ?? "active",
        "@@ datadir", o.datadir ?? "/var/lib/etcd/default",
        "@@ avail", String(o.avail ?? 10 * 1024 ** 3),
        "@@ status", status,
        "@@ members", JSON.stringify({ header: { cluster_id: 1 }, members }).replace(/"(\d{17,})"/g, "$1"),
        "@@ health", o.health ?? "0",
        "@@ alarms", o.alarms ?? "",
        "@@ count", `{"header":{"revision":304},"count":${o.count ?? 301}}`,
        "@@ etcdctl_error", "",
    ].join("\n");
}
const texts = (per: (i: number) => Opts = () => ({})) => hosts.map((_, i) => hostText(i, per(i)));
const GiB = 1024 ** 3;
const refusals = (t: string[], target = "3.6.14", quota = 2 * GiB) => {
    const r = adopt.assess(hosts, t, target, quota);
    expect(r.ok).toBe(false);
    return r.refusals.join("\n");
};

describe("the check's decision on a hand-built cluster", () => {
    it("a healthy 3.4 cluster: the plan (leader, data directories, figures), the downtime and the minor-skip note", () => {
        const r = adopt.assess(hosts, texts(), "3.6.14", 2 * GiB);
        expect(r.refusals).toEqual([]);
        expect(r.ok).toBe(true);
        expect(r.plan).toMatchObject({ leader: 1, dataDirs: ["/var/lib/etcd/default", "/var/lib/etcd/default", "/var/lib/etcd/default"],
            version: "3.4.23", members: 3, revision: 304, keys: 301, dbSize: 98304 });
        expect(r.plan.downtimeSeconds).toBe(adopt.estimateDowntimeSeconds({ members: 3, dbSizeBytes: 98304 }));
        expect(r.notes.join("\n")).toContain("rolling upgrade by one minor at a time only (3.4 -> 3.5 -> ... -> 3.6.14)");
        const text = adopt.report(r, hosts, "3.6.14");
        expect(text).toContain("the cluster: 3 members, etcd 3.4.23, revision 304, 301 keys, database 98304 bytes, healthy, no alarms");
        expect(text).toContain("snapshot from the leader node-2");
        expect(text).toContain("node-1: etcd-server 3.4.23-4+b4, etcd-client 3.4.23-4+b4");
        expect(text).toMatch(/unavailable from step 1 to the end of step 3: roughly 2 min \(\d+ s/);
    });

    it("from 3.5 there is no minor to skip: no note; the leader is found by its 64-bit id", () => {
        const r = adopt.assess(hosts, texts(() => ({ version: "3.5.17", leader: 2 })), "3.6.14", 2 * GiB);
        expect(r.ok).toBe(true);
        expect(r.plan.leader).toBe(2);
        expect(r.notes).toEqual([]);
    });

    it("the downtime figure grows with the database and the members", () => {
        const small = adopt.estimateDowntimeSeconds({ members: 3, dbSizeBytes: 1e6 });
        expect(adopt.estimateDowntimeSeconds({ members: 3, dbSizeBytes: 2e9 })).toBeGreaterThan(small + 100);
        expect(adopt.estimateDowntimeSeconds({ members: 5, dbSizeBytes: 1e6 })).toBeGreaterThan(small);
    });

    it.each<[string, (i: number) => Opts, RegExp]>([
        ["a host it cannot reach", (i) => (i === 2 ? { reach: "ssh: connect to host 203.0.113.3 port 22: Connection refused" } : {}), /cannot read node-3 over SSH: ssh: connect to host 203.0.113.3/],
        ["a host the component manages already", (i) => (i === 0 ? { owner: "etcd/etcd-1 /var/lib/etcd" } : {}), /node-1 is already managed by an EtcdCluster \(\/etc\/etcd\/owner: etcd\/etcd-1/],
        ["etcd not from the distribution's package", (i) => (i === 1 ? { dpkg: "etcd-client 3.4.23-4+b4 install ok installed" } : {}), /node-2 has no distribution etcd package installed/],
        ["a package removed but its configuration left", () => ({ dpkg: "etcd-server 3.4.23-4+b4 deinstall ok config-files" }), /node-1 has no distribution etcd package installed/],
        ["etcd stopped on a host", (i) => (i === 2 ? { active: "inactive" } : {}), /etcd is not running on node-3 \(systemctl is-active etcd: inactive\)/],
        ["etcdctl refused with the host's certificates", (i) => (i === 0 ? { statusText: "" } : {}), /etcd on node-1 does not answer etcdctl with its own certificates/],
        ["hosts of different clusters", (i) => ({ clusterId: String(1000 + i) }), /the hosts are not one cluster \(node-1: cluster 1000, member \d+, 3 member\(s\); node-2: cluster 1001/],
        ["three one-member clusters of the package's defaults (the same IDs everywhere)", () => ({ members: [{ ID: ids[0], name: "x", peerURLs: ["http://localhost:2380"] }], memberId: ids[0], leader: 0 }),
            /the hosts are not one cluster .*1 member\(s\).*a member still on the package's own first data is a cluster of one/],
        ["a member on a host not given", () => ({ members: [...hosts.map((h, k) => ({ ID: ids[k], name: h.name, peerURLs: [`https://${h.privateIp}:2380`] })), { ID: "7", name: "node-4", peerURLs: ["https://10.1.1.4:2380"] }] }),
            /member node-4 \(https:\/\/10\.1\.1\.4:2380\) is not on any of the hosts given/],
        ["a host without a member", () => ({ members: hosts.slice(0, 2).map((h, k) => ({ ID: ids[k], name: h.name, peerURLs: [`https://${h.privateIp}:2380`] })) }),
            /no member of the cluster has its peer address on node-3 \(10\.1\.1\.3\)/],
        ["a learner", () => ({ members: hosts.map((h, k) => ({ ID: ids[k], name: h.name, peerURLs: [`https://${h.privateIp}:2380`], isLearner: k === 2 })) }), /member node-3 is a learner/],
        ["a member that never started", () => ({ members: hosts.map((h, k) => ({ ID: ids[k], name: k === 1 ? "" : h.name, peerURLs: [`https://${h.privateIp}:2380`] })) }), /has not started/],
        ["an unhealthy member", (i) => (i === 1 ? { health: "1" } : {}), /etcd on node-2 is not healthy/],
        ["an active alarm", () => ({ alarms: `memberID:${ids[0]} alarm:NOSPACE` }), /alarms are active: memberID:\d+ alarm:NOSPACE/],
        ["etcd 3.3", () => ({ version: "3.3.25" }), /etcd 3\.3\.25 is older than 3\.4/],
        ["etcd newer than the component's release", () => ({ version: "3.6.20" }), /etcd 3\.6\.20 is newer than the component's 3\.6\.14/],
        ["a database above the new quota", () => ({ dbSize: 3 * GiB }), /the database is 3221225472 bytes, above the new cluster's quota of 2147483648 bytes/],
        ["too little free space for the snapshot and the restored copy", (i) => (i === 2 ? { avail: 100 * 1024 ** 2, dbSize: 50 * 1024 ** 2 } : { dbSize: 50 * 1024 ** 2 }),
            /node-3 has 104857600 bytes free beside \/var\/lib\/etcd\/default, needs 171966464/],
    ])("refuses %s, and says why", (_, per, why) => {
        const text = refusals(texts(per));
        expect(text).toMatch(why);
        expect(adopt.report(adopt.assess(hosts, texts(per), "3.6.14", 2 * GiB), hosts, "3.6.14")).toMatch(/^cannot adopt this cluster; nothing was changed:\n {2}- /);
    });

    it("reads the collector's sections and only installed packages of its own", () => {
        expect(adopt.sections("junk\n@@ a\nx\ny\n@@ b\n\n@@ c\nz\n")).toEqual({ a: "x\ny", b: "", c: "z" });
        expect(adopt.installedPackages("etcd-server 3.4.23-4+b4 install ok installed\netcd-client 3.4.23-4+b4 deinstall ok config-files\nbash 5.2 install ok installed"))
            .toEqual([{ name: "etcd-server", version: "3.4.23-4+b4" }]);
        expect(adopt.parseVersion("3.4.23")).toEqual([3, 4, 23]);
        expect(adopt.parseVersion("v3")).toBeUndefined();
    });
});

describe("the assess command and scripts/adopt.sh", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "adopt-unit-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const node = (args: string[]) => spawnSync("node", [path.join(repo, "scripts/lib/adopt-assess.js"), ...args], { encoding: "utf8" });
    const script = (args: string[]) => spawnSync("bash", [path.join(repo, "scripts/adopt.sh"), ...args], { encoding: "utf8", input: "" });

    it("assess writes the plan adopt.sh reads and exits 0; refuses with exit 1 and writes none", () => {
        fs.writeFileSync(path.join(dir, "hosts.json"), JSON.stringify(hosts));
        texts().forEach((t, i) => fs.writeFileSync(path.join(dir, `${i}.txt`), t));
        const ok = node(["assess", path.join(dir, "hosts.json"), dir, "3.6.14", String(2 * GiB), path.join(dir, "plan")]);
        expect(ok.status).toBe(0);
        expect(fs.readFileSync(path.join(dir, "plan"), "utf8")).toBe("leader 1\nhost 0 /var/lib/etcd/default\nhost 1 /var/lib/etcd/default\nhost 2 /var/lib/etcd/default\n");
        fs.rmSync(path.join(dir, "plan"));
        fs.rmSync(path.join(dir, "2.txt")); // a host whose collector wrote nothing
        const refused = node(["assess", path.join(dir, "hosts.json"), dir, "3.6.14", String(2 * GiB), path.join(dir, "plan")]);
        expect(refused.status).toBe(1);
        expect(refused.stdout).toContain("cannot read node-3 over SSH");
        expect(fs.existsSync(path.join(dir, "plan"))).toBe(false);
    });

    it("hosts: name, private IP and SSH address per line; a host name it cannot use is refused", () => {
        fs.writeFileSync(path.join(dir, "hosts.json"), JSON.stringify([...hosts.slice(0, 2), { name: "node-3", privateIp: "fd00::3", publicIp: null }]));
        expect(node(["hosts", path.join(dir, "hosts.json"), "publicIp"]).stdout).toBe("node-1 10.1.1.1 203.0.113.1\nnode-2 10.1.1.2 203.0.113.2\nnode-3 fd00::3 fd00::3\n");
        fs.writeFileSync(path.join(dir, "bad.json"), JSON.stringify([{ name: "n; reboot", privateIp: "10.1.1.1" }]));
        const bad = node(["hosts", path.join(dir, "bad.json"), "publicIp"]);
        expect(bad.status).not.toBe(0);
        expect(bad.stderr).toContain("cannot use host");
    });

    it("adopt.sh: --help, usage errors (exit 2), and retire never overwrites a snapshot", () => {
        const help = script(["--help"]);
        expect(help.status).toBe(0);
        expect(help.stdout).toContain("scripts/adopt.sh check  --hosts FILE [options]");
        expect(script([]).status).toBe(2);
        expect(script(["upgrade"]).stderr).toContain("adopt: missing or unknown command: upgrade");
        fs.writeFileSync(path.join(dir, "hosts.json"), JSON.stringify(hosts));
        const noOut = script(["retire", "--hosts", path.join(dir, "hosts.json")]);
        expect(noOut.status).toBe(2);
        expect(noOut.stderr).toContain("retire needs --snapshot-out FILE");
        fs.writeFileSync(path.join(dir, "old.db"), "an earlier snapshot");
        const exists = script(["retire", "--hosts", path.join(dir, "hosts.json"), "--snapshot-out", path.join(dir, "old.db"), "--yes"]);
        expect(exists.status).toBe(1);
        expect(exists.stderr).toContain("refusing to overwrite a snapshot");
        expect(fs.readFileSync(path.join(dir, "old.db"), "utf8")).toBe("an earlier snapshot");
        expect(script(["check", "--hosts", path.join(dir, "missing.json")]).status).toBe(2);
    });

    it("adopt.sh, scripts/lab/debian-etcd.sh and the host steps adopt.sh sends pass shellcheck", () => {
        const r = spawnSync("shellcheck", ["-S", "style", "-x", "scripts/adopt.sh", "scripts/lab/debian-etcd.sh"], { cwd: repo, encoding: "utf8" });
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
        const text = fs.readFileSync(path.join(repo, "scripts/adopt.sh"), "utf8");
        const body = (name: string) => new RegExp(`read -r -d '' ${name} <<'EOF' \\|\\| true\\n([\\s\\S]*?)\\nEOF\\n`).exec(text)![1];
        const lib = body("HOST_LIB");
        for (const step of ["COLLECT", "SNAPSHOT"]) expect(shellcheck(`#!/bin/bash\n${lib}\n${body(step)}\n`)).toBe("");
        expect(shellcheck(`#!/bin/bash\nset -euo pipefail\n${body("RETIRE")}\n`)).toBe("");
    });
});
