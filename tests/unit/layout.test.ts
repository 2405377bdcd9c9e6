// The host layout is decided in one place: every rendered script and unit follows a custom data dir,
// snapshot dir and ports, and rendering does not depend on the order in which arguments were written.
import { EtcdClusterArgs } from "../../components/etcd-cluster/args";
import { ClusterPlan, resolveArgs } from "../../components/etcd-cluster/plan";
import { checkScript } from "../../components/etcd-cluster/render/check-script";
import { configureScript } from "../../components/etcd-cluster/render/configure-script";
import { etcdFlags, etcdUnit, initialCluster } from "../../components/etcd-cluster/render/flags";
import { installScript, uninstallScript } from "../../components/etcd-cluster/render/install-script";
import { hostLayout } from "../../components/etcd-cluster/render/layout";
import { maintenanceFiles, maintenanceInstallScript } from "../../components/etcd-cluster/render/maintenance-units";
import { pruneScript } from "../../components/etcd-cluster/render/membership";
import { preflightScript } from "../../components/etcd-cluster/render/preflight-script";
import { serializeUnit } from "../../components/etcd-cluster/render/systemd";

const members = [
    { name: "etcd-1", privateIp: "10.1.1.11", publicIp: "203.0.113.1" },
    { name: "etcd-2", privateIp: "10.1.1.12", publicIp: "203.0.113.2" },
    { name: "etcd-3", privateIp: "10.1.1.13", publicIp: "203.0.113.3" },
];

/** Every host script and unit of member etcd-2, by name. */
function renderAll(plan: ClusterPlan, ports = plan.ports): Record<string, string> {
    const layout = hostLayout({ ...plan, ports });
    const unit = serializeUnit(etcdUnit(layout, etcdFlags({ member: members[1], layout, tuning: plan.tuning, metricsOnPrivateNetwork: true, clientsOnPublicAddress: true, peerCertificatesOnly: true })));
    const clientUrls = members.map((m) => layout.clientUrl(m.privateIp));
    const maintenance = {
        clusterName: "etcd", memberName: "etcd-2", layout, backup: { schedule: plan.backup.schedule, keep: plan.backup.keep, s3: false },
        defragSchedule: plan.maintenance.defragSchedule, alarmCheckSchedule: plan.maintenance.alarmCheckSchedule,
        quotaBackendBytes: plan.tuning.quotaBackendBytes, quotaWarnPercent: plan.maintenance.quotaWarnPercent, certificateWarnDays: plan.maintenance.certificateWarnDays, healthTimeoutSeconds: plan.healthTimeoutSeconds,
    };
    return {
        unit,
        install: installScript({ release: plan.release, layout, owner: "etcd/etcd-2" }),
        uninstall: uninstallScript({ release: plan.release, layout, owner: "etcd/etcd-2" }),
        configure: configureScript({
            memberName: "etcd-2", layout, unit, peerClientUrls: [clientUrls[0], clientUrls[2]], selfPeerUrl: layout.peerUrl(members[1].privateIp),
            initialCluster: initialCluster(members, layout), clusterToken: "t", healthTimeoutSeconds: plan.healthTimeoutSeconds,
        }),
        preflight: preflightScript({ layout, targetVersion: plan.release.version, clientUrls }),
        prune: pruneScript({ layout, wantedPeerUrls: members.map((m) => layout.peerUrl(m.privateIp)), clientUrls, healthTimeoutSeconds: plan.healthTimeoutSeconds }),
        check: checkScript({ layout, memberNames: members.map((m) => m.name), clientUrls, timeoutSeconds: plan.healthTimeoutSeconds }),
        maintenanceInstall: maintenanceInstallScript(maintenance),
        ...Object.fromEntries(maintenanceFiles(maintenance).map((f) => [f.path, f.text])),
    };
}

/** The same object with its keys, at every level, in reverse order. */
function reversed<T>(value: T): T {
    if (Array.isArray(value) || value === null || typeof value !== "object") return value;
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversed(v)])) as T;
}

describe("the host layout", () => {
    const custom = resolveArgs("etcd", { hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, dataDir: "/srv/etcd-data", snapshotDir: "/srv/etcd-snapshots" });
    const scripts = renderAll(custom, { client: 12379, peer: 12380, metrics: 12381 });

    it("puts a custom data dir, snapshot dir and ports into every script that needs them, and the defaults into none", () => {
        for (const [name, text] of Object.entries(scripts)) {
            expect([name, text]).not.toEqual([name, expect.stringMatching(/\/var\/lib\/etcd(?![-\w])|\/var\/backups\/etcd|:2379\b|:2380\b|:2381\b/)]);
        }
        expect(scripts.configure).toContain("readonly DATA_DIR='/srv/etcd-data'");
        expect(scripts.configure).toContain("readonly LOCAL_CLIENT_URL='https://127.0.0.1:12379'");
        expect(scripts["/usr/local/sbin/etcd-backup"]).toContain("readonly LOCAL_CLIENT_URL='https://127.0.0.1:12379'");
        expect(scripts["/usr/local/sbin/etcd-restore"]).toContain("readonly DATA_DIR='/srv/etcd-data'\nreadonly SNAPSHOT_DIR='/srv/etcd-snapshots'\nreadonly PEER_PORT=12380\nreadonly CLIENT_PORT=12379\n");
        expect(scripts.unit).toContain("--listen-metrics-urls=http://127.0.0.1:12381,http://10.1.1.12:12381");
    });

    it("renders the same text whatever the order the arguments were written in", () => {
        const args: EtcdClusterArgs = {
            memberCount: 3, hcloud: { location: "fsn1", networkZone: "eu-central", labels: { a: "1", b: "2" }, sshAllowedCidrs: ["203.0.113.0/24"] },
            tuning: { heartbeatIntervalMs: 150, electionTimeoutMs: 1500, snapshotCount: 5000 }, dataDir: "/srv/etcd-data",
            backup: { schedule: "daily", keep: 7 }, maintenance: { defragSchedule: "", quotaWarnPercent: 70 }, healthTimeoutSeconds: 90,
        };
        const one = renderAll(resolveArgs("etcd", args));
        expect(renderAll(resolveArgs("etcd", reversed(args)))).toEqual(one);
        expect(Object.keys(one).length).toBeGreaterThan(10);
    });
});
