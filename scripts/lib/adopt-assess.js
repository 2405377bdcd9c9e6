// scripts/lib/adopt-assess.js - the decisions of scripts/adopt.sh, as pure functions over what it read on the
// hosts of a cluster built by hand (the distribution's etcd package, /etc/default/etcd, OpenSSL certificates):
// can it move under the component by the snapshot path, and what will that cost. Plain Node (no build step),
// because adopt.sh runs on the operator's machine; tests/unit/adopt.test.ts covers every refusal.
//
//   node scripts/lib/adopt-assess.js hosts HOSTS_JSON FIELD
//       one line per host: `name privateIp sshHost` (sshHost = the FIELD of the entry, else its privateIp)
//   node scripts/lib/adopt-assess.js assess HOSTS_JSON DIR TARGET_VERSION QUOTA_BYTES PLAN_OUT
//       reads DIR/<index>.txt (the host collector's sections), prints the report; writes PLAN_OUT
//       (`leader <index>`, then `host <index> <data dir>` per host) and exits 0 when it can go ahead; exits 1
//       with the reasons when it cannot.
"use strict";
const fs = require("fs");

const MIB = 1024 * 1024;
/** Packages of the distribution that run etcd (Debian, Ubuntu); etcd-client only brings etcdctl. */
const SERVER_PACKAGES = ["etcd", "etcd-server"];
const KNOWN_PACKAGES = [...SERVER_PACKAGES, "etcd-client"];

/** etcd's uint64 ids as strings: JSON numbers above 2^53 lose digits in JSON.parse. */
function parseWithIds(text) {
    return JSON.parse(text.replace(/("(?:ID|id|leader|member_id|cluster_id)"\s*:\s*)(\d+)/g, '$1"$2"'));
}

/** The collector's output: `@@ name` lines start sections; returns { name: text }. */
function sections(text) {
    const out = {};
    let current;
    for (const line of text.split("\n")) {
        const m = /^@@ (\S+)/.exec(line);
        if (m) { current = m[1]; out[current] = ""; continue; }
        if (current !== undefined) out[current] += (out[current] ? "\n" : "") + line;
    }
    for (const k of Object.keys(out)) out[k] = out[k].trim();
    return out;
}

/** `dpkg-query -W -f='${Package} ${Version} ${Status}\n'` lines: the installed packages among ours. */
function installedPackages(text) {
    const out = [];
    for (const line of (text ?? "").split("\n")) {
        const [name, version, ...status] = line.trim().split(/\s+/);
        if (KNOWN_PACKAGES.includes(name) && status.join(" ") === "install ok installed") out.push({ name, version });
    }
    return out;
}

/** "3.4.23" -> [3, 4, 23]; undefined when it is not a version. */
function parseVersion(v) {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v ?? "");
    return m ? m.slice(1, 4).map(Number) : undefined;
}

/** The host part of a URL ("https://10.1.1.1:2380" -> "10.1.1.1", IPv6 brackets removed). */
function urlHost(u) {
    try { return new URL(u).hostname.replace(/^\[|\]$/g, ""); } catch { return undefined; }
}

/** What one host's collector output says, or why it cannot be read. */
function readHost(host, text) {
    const s = sections(text ?? "");
    const facts = { host, problems: [] };
    if (s.reach !== "ok") { facts.problems.push(`cannot read ${host.name} over SSH${s.reach ? `: ${s.reach}` : ""}`); return facts; }
    facts.packages = installedPackages(s.dpkg);
    facts.owner = s.owner || undefined;
    facts.active = s.active;
    facts.dataDir = s.datadir || undefined;
    facts.avail = /^\d+$/.test(s.avail ?? "") ? Number(s.avail) : undefined;
    facts.alarms = (s.alarms ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
    facts.healthy = s.health === "0";
    try { facts.status = parseWithIds(s.status)[0]?.Status; } catch { facts.status = undefined; }
    try { facts.members = parseWithIds(s.members).members; } catch { facts.members = undefined; }
    try { facts.count = JSON.parse(s.count).count; } catch { facts.count = undefined; }
    facts.etcdctlError = s.etcdctl_error || undefined;
    return facts;
}

/**
 * A rough figure for the time the cluster is down: from `adopt.sh retire` stopping the old members until
 * restore.sh has the new ones healthy. It covers the `pulumi up` that installs and starts the component's etcd
 * (measured on local hosts: see docs/operations.md; on Hetzner add the download of the release), the copy of
 * the snapshot to each member (at 50 MB/s), its restore (at 100 MB/s) and the restart.
 */
function estimateDowntimeSeconds({ members, dbSizeBytes }) {
    const fixed = 60 + 15 * members;
    const copy = (members * dbSizeBytes) / (50 * 1e6);
    const restore = dbSizeBytes / (100 * 1e6);
    return Math.ceil(fixed + copy + restore);
}

/**
 * The decision. `hosts`: the entries of the hosts file ({name, privateIp}); `texts`: each host's collector
 * output (same order); `target`: the component's etcd version; `quotaBytes`: the new cluster's backend quota.
 * Returns { ok, refusals: string[], notes: string[], plan?: { leader, dataDirs, ... } }.
 */
function assess(hosts, texts, target, quotaBytes) {
    const facts = hosts.map((h, i) => readHost(h, texts[i]));
    const refusals = facts.flatMap((f) => f.problems);
    const notes = [];
    if (refusals.length) return { ok: false, refusals, notes };

    for (const f of facts) {
        const n = f.host.name;
        if (f.owner) refusals.push(`${n} is already managed by an EtcdCluster (/etc/etcd/owner: ${f.owner}); use pulumi up, not adoption`);
        if (!f.packages.some((p) => SERVER_PACKAGES.includes(p.name))) {
            refusals.push(`${n} has no distribution etcd package installed (${SERVER_PACKAGES.join(" or ")}): this path retires the package; an etcd installed otherwise must be stopped and moved aside by hand`);
        }
        if (f.active !== "active") { refusals.push(`etcd is not running on ${n} (systemctl is-active etcd: ${f.active || "?"}): the snapshot needs a running, healthy cluster`); continue; }
        if (!f.dataDir) refusals.push(`cannot tell where etcd keeps its data on ${n} (no --data-dir / ETCD_DATA_DIR in the running process)`);
        if (!f.status || !f.members) {
            refusals.push(`etcd on ${n} does not answer etcdctl with its own certificates from /etc/default/etcd${f.etcdctlError ? ` (${f.etcdctlError.split("\n").slice(-1)[0]})` : ""}`);
        }
    }
    if (refusals.length) return { ok: false, refusals, notes };

    // One cluster: one cluster ID, a different member on each host, the same member list everywhere. Members
    // that kept the package's first, default start (the seed procedure's restart does not remove its data) are
    // clusters of one, and all have the same IDs (the same default peer URL and token).
    const clusterIds = new Set(facts.map((f) => f.status.header.cluster_id));
    const memberIds = new Set(facts.map((f) => f.status.header.member_id));
    const lists = new Set(facts.map((f) => f.members.map((m) => m.ID).sort().join(",")));
    if (clusterIds.size > 1 || memberIds.size < facts.length || lists.size > 1) {
        refusals.push(`the hosts are not one cluster (${facts.map((f) => `${f.host.name}: cluster ${f.status.header.cluster_id}, member ${f.status.header.member_id}, `
            + `${f.members.length} member(s)`).join("; ")}); a member still on the package's own first data is a cluster of one: stop it, `
            + "remove that data and start the members together, or adopt each cluster on its own");
        return { ok: false, refusals, notes };
    }
    const members = facts[0].members;
    const hostIps = new Map(hosts.map((h) => [h.privateIp, h.name]));
    const onHosts = new Set();
    for (const m of members) {
        if (!m.name) refusals.push(`member ${m.ID} (${(m.peerURLs ?? []).join(",")}) has not started: fix or remove it first`);
        if (m.isLearner) refusals.push(`member ${m.name || m.ID} is a learner: promote or remove it first`);
        const where = (m.peerURLs ?? []).map(urlHost).find((ip) => hostIps.has(ip));
        if (!where) refusals.push(`member ${m.name || m.ID} (${(m.peerURLs ?? []).join(",")}) is not on any of the hosts given; every member's host must be in the hosts file (its privateIp is the member's peer address)`);
        else onHosts.add(where);
    }
    for (const h of hosts) if (!onHosts.has(h.privateIp)) refusals.push(`no member of the cluster has its peer address on ${h.name} (${h.privateIp})`);
    for (const f of facts) if (!f.healthy) refusals.push(`etcd on ${f.host.name} is not healthy (etcdctl endpoint health failed): a snapshot needs a healthy cluster`);
    const alarms = [...new Set(facts.flatMap((f) => f.alarms))];
    if (alarms.length) refusals.push(`alarms are active: ${alarms.join("; ")} (NOSPACE: compact, defragment and disarm first; CORRUPT: find the healthy members' data first)`);

    const versions = [...new Set(facts.map((f) => f.status.version))];
    const targetV = parseVersion(target);
    for (const v of versions) {
        const p = parseVersion(v);
        if (!p) refusals.push(`cannot read the etcd version ${v}`);
        else if (p[0] !== 3 || p[1] < 4) refusals.push(`etcd ${v} is older than 3.4: this path is tested from 3.4 (upgrade the package's cluster to 3.4 first, or copy the keys with etcdctl; the v2 store is not in a v3 snapshot)`);
        else if (targetV && (p[1] > targetV[1] || (p[1] === targetV[1] && p[2] > targetV[2]))) refusals.push(`etcd ${v} is newer than the component's ${target}: set the stack's release to ${v} or newer`);
    }
    if (versions.length > 1) notes.push(`members run different versions (${versions.join(", ")}); the snapshot path does not mind`);
    const dbSize = Math.max(...facts.map((f) => Number(f.status.dbSize)));
    if (dbSize > quotaBytes) refusals.push(`the database is ${dbSize} bytes, above the new cluster's quota of ${quotaBytes} bytes: raise tuning.quotaBackendBytes, or compact and defragment first`);
    for (const f of facts) {
        const need = 2 * dbSize + 64 * MIB;
        if (f.avail !== undefined && f.avail < need) refusals.push(`${f.host.name} has ${f.avail} bytes free beside ${f.dataDir}, needs ${need} (the snapshot and the restored copy, with the old data kept)`);
    }
    const leaderId = facts[0].status.leader;
    const leader = facts.findIndex((f) => f.status.header.member_id === leaderId);
    if (leader < 0) refusals.push(`no host runs the leader (member ${leaderId})`);
    if (refusals.length) return { ok: false, refusals, notes };

    const from = parseVersion(versions[0]);
    if (targetV && from[1] + 1 < targetV[1]) {
        notes.push(`etcd allows a rolling upgrade by one minor at a time only (${from[0]}.${from[1]} -> ${from[0]}.${from[1] + 1} -> ... -> ${target}), `
            + "and the component does not take over running members: the snapshot path builds a new cluster at the component's version from the data instead");
    }
    const downtime = estimateDowntimeSeconds({ members: members.length, dbSizeBytes: dbSize });
    return {
        ok: true, refusals, notes,
        plan: {
            leader,
            dataDirs: facts.map((f) => f.dataDir),
            version: versions.join(", "),
            members: members.length,
            revision: facts[leader].status.header.revision,
            keys: facts[leader].count,
            dbSize,
            packages: facts.map((f) => `${f.host.name}: ${f.packages.map((p) => `${p.name} ${p.version}`).join(", ")}`),
            downtimeSeconds: downtime,
        },
    };
}

function report(result, hosts, target) {
    const lines = [];
    if (result.ok) {
        const p = result.plan;
        lines.push(`the cluster: ${p.members} members, etcd ${p.version}, revision ${p.revision}, ${p.keys ?? "?"} keys, database ${p.dbSize} bytes, healthy, no alarms`);
        for (const pkg of p.packages) lines.push(`  ${pkg}`);
        lines.push("what will happen (docs/operations.md, \"Adopting a cluster built by hand\"):");
        lines.push(`  1. adopt.sh retire: snapshot from the leader ${hosts[p.leader].name}, copied here and checked; then on every host etcd stopped and disabled,`);
        lines.push("     its data, /etc/default/etcd and /etc/etcd moved to /var/lib/etcd.distribution-<time>/ (kept, never deleted), the package removed");
        lines.push(`  2. pulumi up: the component installs etcd ${target} on the same hosts (existingHosts) and starts a new, empty cluster with new certificates`);
        lines.push("  3. scripts/restore.sh with the snapshot: every key and its revision history back (revisions bumped by 10^9, older ones compacted)");
        lines.push("  4. pulumi up: no changes");
        lines.push(`the cluster is unavailable from step 1 to the end of step 3: roughly ${Math.ceil(p.downtimeSeconds / 60)} min (${p.downtimeSeconds} s, plus the release download on Hetzner);`);
        lines.push("  writes after the snapshot are lost: stop the writers (kube-apiservers) before step 1. Clients need the new CA and certificates.");
    } else {
        lines.push("cannot adopt this cluster; nothing was changed:");
        for (const r of result.refusals) lines.push(`  - ${r}`);
    }
    for (const n of result.notes) lines.push(`note: ${n}`);
    return lines.join("\n");
}

function readHosts(file) {
    const hosts = JSON.parse(fs.readFileSync(file === "-" ? 0 : file, "utf8"));
    if (!Array.isArray(hosts) || hosts.length === 0) throw new Error(`${file}: a JSON list of hosts [{name, privateIp, publicIp}] is required`);
    for (const h of hosts) {
        if (!/^[a-z0-9-]+$/.test(h.name ?? "") || !/^[0-9a-fA-F.:]+$/.test(h.privateIp ?? "")) throw new Error(`${file}: cannot use host ${JSON.stringify(h)}`);
    }
    return hosts;
}

function main(argv) {
    const [cmd, ...args] = argv;
    if (cmd === "hosts") {
        for (const h of readHosts(args[0])) console.log(h.name, h.privateIp, h[args[1]] || h.privateIp);
        return 0;
    }
    if (cmd === "assess") {
        const [hostsFile, dir, target, quota, planOut] = args;
        const hosts = readHosts(hostsFile);
        const texts = hosts.map((_, i) => (fs.existsSync(`${dir}/${i}.txt`) ? fs.readFileSync(`${dir}/${i}.txt`, "utf8") : ""));
        const result = assess(hosts, texts, target, Number(quota));
        console.log(report(result, hosts, target));
        if (!result.ok) return 1;
        const p = result.plan;
        fs.writeFileSync(planOut, [`leader ${p.leader}`, ...p.dataDirs.map((d, i) => `host ${i} ${d}`)].join("\n") + "\n");
        return 0;
    }
    console.error("usage: adopt-assess.js hosts HOSTS_JSON FIELD | assess HOSTS_JSON DIR TARGET_VERSION QUOTA_BYTES PLAN_OUT");
    return 2;
}

module.exports = { sections, installedPackages, parseVersion, readHost, assess, report, estimateDowntimeSeconds };
if (require.main === module) process.exitCode = main(process.argv.slice(2));
