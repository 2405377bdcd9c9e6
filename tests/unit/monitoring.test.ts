// The alert rules: the checked-in file is the typed source's rendering; promtool (Debian's, extracted by
// scripts/lab/prometheus.sh) accepts it, and its rule unit tests (monitoring/etcd-alerts.test.yml) make each
// alert fire and not fire. Each checker is also shown to say no.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { etcdAlertRules, renderRulesYaml, scrapeTargets } from "../../components/etcd-cluster/monitoring/rules";
import { promtool } from "../helpers/promtool";

const ROOT = path.join(__dirname, "../..");
const RULES = path.join(ROOT, "monitoring/etcd-alerts.rules.yml");
const RULE_TESTS = path.join(ROOT, "monitoring/etcd-alerts.test.yml");

/** A scratch directory with the rule tests beside a rules file of the given text. */
function withRules(text: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-rules-"));
    fs.writeFileSync(path.join(dir, "etcd-alerts.rules.yml"), text);
    fs.copyFileSync(RULE_TESTS, path.join(dir, "etcd-alerts.test.yml"));
    return dir;
}

describe("alert rules", () => {
    it("the checked-in rules file is the typed source's rendering (UPDATE_RULES=1 rewrites it)", () => {
        const rendered = renderRulesYaml(etcdAlertRules());
        if (process.env.UPDATE_RULES === "1") fs.writeFileSync(RULES, rendered);
        expect(fs.readFileSync(RULES, "utf8")).toBe(rendered);
    });

    it("promtool check rules accepts the file, and refuses a rule whose expression does not parse", () => {
        const ok = promtool(["check", "rules", RULES]);
        expect(ok.stdout + ok.stderr).toContain(`SUCCESS: ${etcdAlertRules().length} rules found`);
        expect(ok.status).toBe(0);
        const broken = etcdAlertRules().map((r, i) => (i === 0 ? { ...r, expr: "up{etcd_cluster!=\"\" == 0" } : r));
        const dir = withRules(renderRulesYaml(broken));
        const bad = promtool(["check", "rules", path.join(dir, "etcd-alerts.rules.yml")]);
        expect(bad.status).not.toBe(0);
        expect(bad.stdout + bad.stderr).toMatch(/FAILED/);
    });

    it("every alert has a rule test where it fires and one where it must not", () => {
        const tests = fs.readFileSync(RULE_TESTS, "utf8");
        for (const { alert } of etcdAlertRules()) {
            const cases = tests.split(/\n(?=\s*- eval_time:)/).filter((c) => c.includes(`alertname: ${alert}\n`));
            expect({ alert, fires: cases.some((c) => /exp_alerts:\s*\n\s*- exp_labels:/.test(c)) }).toEqual({ alert, fires: true });
            expect({ alert, silent: cases.some((c) => /exp_alerts: \[\]/.test(c)) }).toEqual({ alert, silent: true });
        }
    });

    it("promtool test rules passes, and fails against rules that would not fire in time", () => {
        const ok = promtool(["test", "rules", RULE_TESTS]);
        expect(ok.stdout + ok.stderr).toContain("SUCCESS");
        expect(ok.status).toBe(0);
        const dir = withRules(renderRulesYaml(etcdAlertRules({ memberDownFor: "30m", quotaWarnPercent: 90, certificateWarnDays: 7, backupMaxAgeHours: 24 })));
        const bad = promtool(["test", "rules", path.join(dir, "etcd-alerts.test.yml")]);
        expect(bad.status).not.toBe(0);
        expect(bad.stdout + bad.stderr).toContain("alertname: EtcdMemberDown");
        expect(bad.stdout + bad.stderr).toContain("alertname: EtcdDatabaseQuotaLowSpace");
        expect(bad.stdout + bad.stderr).toContain("alertname: EtcdCertificateExpiresSoon");
        expect(bad.stdout + bad.stderr).toContain("alertname: EtcdBackupTooOld");
    });
});

describe("scrape targets", () => {
    it("one file_sd group per member: its private address on the metrics port, labelled with cluster and member", () => {
        expect(scrapeTargets("prod", [{ name: "etcd-1", privateIp: "10.1.1.11" }, { name: "etcd-2", privateIp: "fd00::2" }], 2381)).toEqual([
            { targets: ["10.1.1.11:2381"], labels: { etcd_cluster: "prod", etcd_member: "etcd-1" } },
            { targets: ["[fd00::2]:2381"], labels: { etcd_cluster: "prod", etcd_member: "etcd-2" } },
        ]);
    });
});
