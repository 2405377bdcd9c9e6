// Prometheus alert rules for the cluster's members, from this one typed source: the component's
// `prometheusRules` output and the checked-in monitoring/etcd-alerts.rules.yml are both its rendering (a unit
// test holds the file equal to it; promtool checks and unit-tests the file). Pure.
import { defaults } from "../defaults";
import { urlHost } from "../render/layout";
import { TEXTFILE_METRICS } from "../render/textfile-metrics";

/** The labels every scrape target of `prometheusTargets` carries (and the rules group by). */
export const TARGET_LABELS = { cluster: "etcd_cluster", member: "etcd_member" } as const;

/** Every series of a member scraped through `prometheusTargets` has its cluster label. */
const SELECTOR = `${TARGET_LABELS.cluster}!=""`;
const BY_MEMBER = `${TARGET_LABELS.cluster}, ${TARGET_LABELS.member}`;

export interface AlertRule {
    alert: string;
    expr: string;
    /** How long the condition must hold before the alert fires (Prometheus duration). */
    for: string;
    severity: "critical" | "warning";
    summary: string;
    description: string;
}

export interface EtcdAlertOptions {
    /**
     * How long a member's metrics must be unreachable before EtcdMemberDown fires. @default "3m" (a restart
     * of a rolling change takes seconds; three minutes is a member that stays away). The e2e test passes a
     * shorter one so that it does not wait minutes.
     */
    memberDownFor?: string;
    /** Database size, in percent of its quota, from which EtcdDatabaseQuotaLowSpace fires. @default maintenance.quotaWarnPercent's (80) */
    quotaWarnPercent?: number;
    /** EtcdCertificateExpiresSoon fires this many days before a certificate expires. @default maintenance.certificateWarnDays's (21) */
    certificateWarnDays?: number;
    /** EtcdBackupTooOld fires when the cluster's newest backup is older than this. @default backup.maxAgeHours's (3) */
    backupMaxAgeHours?: number;
}

export function etcdAlertRules(options: EtcdAlertOptions = {}): AlertRule[] {
    const memberDownFor = options.memberDownFor ?? "3m";
    const quotaPercent = options.quotaWarnPercent ?? defaults.maintenance.quotaWarnPercent;
    const certificateDays = options.certificateWarnDays ?? defaults.maintenance.certificateWarnDays;
    const backupHours = options.backupMaxAgeHours ?? defaults.backup.maxAgeHours;
    const member = `{{ $labels.${TARGET_LABELS.member} }} of etcd cluster {{ $labels.${TARGET_LABELS.cluster} }}`;
    return [
        {
            alert: "EtcdMemberDown",
            expr: `up{${SELECTOR}} == 0`,
            for: memberDownFor,
            severity: "critical",
            summary: "An etcd member does not answer.",
            description: `Member ${member} has not served its metrics for ${memberDownFor}: etcd is down or unreachable; the cluster keeps serving while a majority is up.`,
        },
        {
            alert: "EtcdNoLeader",
            expr: `etcd_server_has_leader{${SELECTOR}} == 0`,
            for: "1m",
            severity: "critical",
            summary: "An etcd member has no leader.",
            description: `Member ${member} has had no leader for 1 minute: it serves no writes (a lost majority or a partition).`,
        },
        {
            alert: "EtcdHighNumberOfLeaderChanges",
            expr: `increase(etcd_server_leader_changes_seen_total{${SELECTOR}}[15m]) >= 4`,
            for: "5m",
            severity: "warning",
            summary: "etcd changes leader often.",
            description: `Member ${member} saw {{ $value }} leader changes within 15 minutes: slow disks, an overloaded host or a flaky network (compare the fsync latency).`,
        },
        {
            alert: "EtcdHighFsyncDurations",
            expr: `histogram_quantile(0.99, sum by (${BY_MEMBER}, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket{${SELECTOR}}[5m]))) > 0.5`,
            for: "10m",
            severity: "warning",
            summary: "etcd's WAL fsync is slow.",
            description: `Member ${member}: the 99th percentile of WAL fsync is {{ $value }} s (above 0.5 s); its disk is too slow for etcd.`,
        },
        {
            alert: "EtcdHighCommitDurations",
            expr: `histogram_quantile(0.99, sum by (${BY_MEMBER}, le) (rate(etcd_disk_backend_commit_duration_seconds_bucket{${SELECTOR}}[5m]))) > 0.25`,
            for: "10m",
            severity: "warning",
            summary: "etcd's backend commits are slow.",
            description: `Member ${member}: the 99th percentile of backend commits is {{ $value }} s (above 0.25 s); its disk is too slow for etcd.`,
        },
        {
            alert: "EtcdHighNumberOfFailedProposals",
            expr: `increase(etcd_server_proposals_failed_total{${SELECTOR}}[1h]) > 5`,
            for: "15m",
            severity: "warning",
            summary: "etcd fails proposals.",
            description: `Member ${member} failed {{ $value }} proposals within the last hour: leader elections or a lost majority.`,
        },
        {
            alert: "EtcdDatabaseQuotaLowSpace",
            expr: `etcd_mvcc_db_total_size_in_bytes{${SELECTOR}} / etcd_server_quota_backend_bytes{${SELECTOR}} * 100 > ${quotaPercent}`,
            for: "10m",
            severity: "critical",
            summary: "etcd's database is near its quota.",
            description: `Member ${member}: the database uses {{ $value | humanize }}% of its quota (tuning.quotaBackendBytes); at 100% etcd refuses writes (NOSPACE). Compact and defragment, or raise the quota.`,
        },
        // The two below read the maintenance tools' metric files (node_exporter's textfile collector).
        {
            alert: "EtcdCertificateExpiresSoon",
            expr: `min by (${BY_MEMBER}, file) (${TEXTFILE_METRICS.certificateExpiry}{${SELECTOR}}) - time() < ${certificateDays} * 86400`,
            for: "1h",
            severity: "warning",
            summary: "An etcd certificate expires soon.",
            description: `{{ $labels.file }} on member ${member} expires in {{ $value | humanizeDuration }}. Run pulumi up: it renews member and client certificates (pki.earlyRenewalHours); a CA needs a CA rotation.`,
        },
        {
            alert: "EtcdBackupTooOld",
            expr: `time() - max by (${TARGET_LABELS.cluster}) (${TEXTFILE_METRICS.backupLastSuccess}{${SELECTOR}}) > ${backupHours} * 3600`,
            for: "10m",
            severity: "warning",
            summary: "etcd has no recent backup.",
            description: `The newest successful backup of etcd cluster {{ $labels.${TARGET_LABELS.cluster} }} is {{ $value | humanizeDuration }} old (more than ${backupHours}h): see etcd-backup.service on the leader (journalctl -u etcd-backup).`,
        },
    ];
}

/** A YAML single-quoted scalar: nothing is escaped but the quote itself (doubled), so PromQL reads as written. */
const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The rules as a Prometheus rule file (one group, `etcd`). */
export function renderRulesYaml(rules: AlertRule[]): string {
    const lines = ["# Generated from components/etcd-cluster/monitoring/rules.ts; do not edit.", "groups:", "  - name: etcd", "    rules:"];
    for (const r of rules) {
        lines.push(
            `      - alert: ${r.alert}`,
            `        expr: ${q(r.expr)}`,
            `        for: ${r.for}`,
            "        labels:",
            `          severity: ${r.severity}`,
            "        annotations:",
            `          summary: ${q(r.summary)}`,
            `          description: ${q(r.description)}`,
        );
    }
    return lines.join("\n") + "\n";
}

/** Scrape targets in Prometheus's file_sd format: one entry per member, its private address and labels. */
export interface ScrapeTargetGroup {
    targets: string[];
    labels: Record<string, string>;
}

export function scrapeTargets(cluster: string, members: { name: string; privateIp: string }[], metricsPort: number): ScrapeTargetGroup[] {
    return members.map((m) => ({
        targets: [`${urlHost(m.privateIp)}:${metricsPort}`],
        labels: { [TARGET_LABELS.cluster]: cluster, [TARGET_LABELS.member]: m.name },
    }));
}
