// Maintenance renderers (backup, defragmentation, alarm check, their units and installer) and their arguments.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import { resolveArgs } from "../../components/etcd-cluster/plan";
import { alarmScript } from "../../components/etcd-cluster/render/alarm-script";
import { backupScript, renderS3Env, SIGV4_FUNCTIONS } from "../../components/etcd-cluster/render/backup-script";
import { defragScript } from "../../components/etcd-cluster/render/defrag-script";
import { hostLayout } from "../../components/etcd-cluster/render/layout";
import {
    maintenanceFiles, maintenanceInstallScript, maintenanceUninstallScript, MaintenanceUnitsInput,
} from "../../components/etcd-cluster/render/maintenance-units";
import { restoreTool } from "../../components/etcd-cluster/render/restore-tool";
import { STATUS_LINES } from "../../components/etcd-cluster/render/shell";
import { hcloudSpec } from "../helpers/spec";
import { shellcheck } from "../helpers/shellcheck";

const layout = hostLayout(hcloudSpec());
const input: MaintenanceUnitsInput = {
    memberName: "etcd-2", layout,
    backup: { schedule: "hourly", keep: 24, s3: true },
    defragSchedule: "weekly", alarmCheckSchedule: "*:0/5", quotaBackendBytes: 2 * 1024 ** 3, quotaWarnPercent: 80, certificateWarnDays: 21, healthTimeoutSeconds: 120,
};
const backup = backupScript({ memberName: "etcd-2", layout, keep: 24, timeoutSeconds: 900 });
const defrag = defragScript({ memberName: "etcd-2", layout, defragTimeoutSeconds: 900, healthTimeoutSeconds: 120 });
const alarm = alarmScript({ memberName: "etcd-2", layout, quotaBackendBytes: 16 * 1024 ** 2, warnPercent: 80, certificateWarnDays: 21 });
const restore = restoreTool({ layout });
const install = maintenanceInstallScript(input);
const installNoS3 = maintenanceInstallScript({ ...input, backup: { ...input.backup, s3: false, schedule: "" }, defragSchedule: "" });
const uninstall = maintenanceUninstallScript();

describe("maintenance host scripts", () => {
    const scripts = { backup, defrag, alarm, restore, install, "install without S3 and timers": installNoS3, uninstall };
    it.each(Object.entries(scripts))("%s passes shellcheck and is strict", (_, script) => {
        expect(script.startsWith("#!/usr/bin/env bash\nset -euo pipefail\n")).toBe(true);
        expect(shellcheck(script)).toBe("");
    });
    it.each(Object.entries(scripts))("%s matches its snapshot", (_, script) => expect(script).toMatchSnapshot());
    it("never pipe into grep -q (random SIGPIPE failures under pipefail)", () => {
        for (const s of Object.values(scripts)) expect(s).not.toMatch(/\|\s*grep\s+-\w*q/);
    });
    it("backup: leader only, saved over mTLS, verified with etcdutl, pruned to keep, pre-upgrade snapshots untouched", () => {
        expect(backup).toContain('if [ "$any_member" = 0 ] && [ "$member_id" != "$leader_id" ]; then');
        expect(backup).toContain("readonly ETCDCTL='/usr/local/bin/etcdctl'\nreadonly CLIENT_CA='/etc/etcd/pki/ca.crt'\nreadonly CLIENT_CERT='/etc/etcd/pki/healthcheck-client.crt'\nreadonly CLIENT_KEY='/etc/etcd/pki/healthcheck-client.key'\n");
        expect(backup).toContain("endpoints=\"$LOCAL_CLIENT_URL\" --command-timeout=\"${TIMEOUT}s\" snapshot save \"$incoming\"");
        expect(backup).toContain("readonly LOCAL_CLIENT_URL='https://127.0.0.1:2379'");
        expect(backup).toContain("readonly ETCDUTL='/usr/local/bin/etcdutl'");
        expect(backup).toContain("\"$ETCDUTL\" snapshot status -w fields \"$incoming\"");
        expect(backup).toContain("readonly KEEP=24");
        expect(backup).toContain("readonly SCHEDULED_PREFIX='scheduled-'");
        expect(backup).toContain('-name "$SCHEDULED_PREFIX*.db"');
        // The only files it deletes are the oldest of the scheduled-*.db it listed.
        expect(backup.match(/rm -f -- .*/g)).toEqual(['rm -f -- "${SNAPSHOT_DIR:?}/${scheduled[$i]}"']);
    });
    it("backup: signed with SigV4 by the script, headers to curl on stdin only, payload sha256 and ETag checked", () => {
        expect(backup).toContain('sigv4_headers PUT "$endpoint" "/$bucket/$prefix$name" "$sha256" "$region" "$access_key" "$secret_key" |');
        expect(backup).toContain("curl --silent --show-error --fail-with-body --config - ");
        expect(backup).toContain("the snapshot's MD5 is $md5");
        expect(backup).not.toMatch(/--user\b|-u "|--aws-sigv4|-H "/); // nothing credential-like on curl's command line
        expect(backup).not.toMatch(/^\s*(source|\.) /m); // the env file is read as data, never run
    });
    it("defrag: every member from the cluster itself, followers first, leader last, health between", () => {
        expect(defrag).toContain("endpoint status --cluster -w fields 2>&1");
        expect(defrag).toContain('order=("${followers[@]}")');
        expect(defrag).toContain('order+=("$leader")');
        expect(defrag).toContain("wait_until \"$HEALTH_TIMEOUT\"");
        expect(defrag).toContain("cluster_healthy\n");
        expect(defrag).toContain("not every member is healthy; not defragmenting anything");
        expect(defrag).toContain('*" is unhealthy: failed to commit proposal: Active Alarm(s): "*) healthy=$((healthy + 1)) ;;'); // NOSPACE must not block the remedy
        expect(defrag).toContain("readonly DEFRAG_TIMEOUT=900");
        expect(defrag).toContain('--command-timeout="${DEFRAG_TIMEOUT}s" defrag');
    });
    it("alarm check: fails on an active alarm and at the quota threshold, with the quota as configured as fallback", () => {
        expect(alarm).toContain("readonly CONFIGURED_QUOTA=16777216");
        expect(alarm).toContain("readonly WARN_PERCENT=80");
        expect(alarm).toContain("readonly CERT_WARN_DAYS=21");
        expect(alarm).toContain('if ! expiring=$(expiring_certificates "$PKI_DIR" "$CERT_WARN_DAYS"); then');
        expect(alarm).toContain("alarm list");
        expect(alarm).toContain('if [ "$problems" = 1 ]; then exit 1; fi');
    });
    it("units run as etcd, read-only except the snapshot dir; timers only when scheduled", () => {
        const files = Object.fromEntries(maintenanceFiles(input).map((f) => [f.path, f]));
        const backupUnit = files["/etc/systemd/system/etcd-backup.service"].text;
        expect(backupUnit).toMatch(/^User=etcd$/m);
        expect(backupUnit).toMatch(/^ProtectSystem=strict$/m);
        expect(backupUnit).toMatch(/^ReadWritePaths=\/var\/backups\/etcd$/m);
        expect(backupUnit).toMatch(/^ExecStart=\/usr\/local\/sbin\/etcd-backup$/m);
        expect(files["/etc/systemd/system/etcd-defrag-scheduled.service"].text).toMatch(/^ExecStart=\/usr\/local\/sbin\/etcd-defrag --only-on-leader$/m);
        expect(files["/etc/systemd/system/etcd-backup.timer"].text).toMatch(/^OnCalendar=hourly$/m);
        expect(files["/etc/systemd/system/etcd-defrag-scheduled.timer"].text).toMatch(/^OnCalendar=weekly$/m);
        expect(files["/etc/systemd/system/etcd-alarm-check.timer"].text).toMatch(/^OnCalendar=\*:0\/5$/m);
        expect(files["/usr/local/sbin/etcd-backup"].mode).toBe("0755");
        expect(files["/usr/local/sbin/etcd-restore"].text).toBe(restore);
        const bare = maintenanceFiles({ ...input, backup: { ...input.backup, schedule: "" }, defragSchedule: "" }).map((f) => f.path);
        expect(bare).not.toContain("/etc/systemd/system/etcd-backup.timer");
        expect(bare).not.toContain("/etc/systemd/system/etcd-defrag-scheduled.timer");
        expect(bare).toContain("/etc/systemd/system/etcd-backup.service");
        expect(() => maintenanceFiles({ ...input, defragSchedule: "daily\nExecStart=/bin/sh" })).toThrow("would reinterpret");
    });
    it("install: S3 settings from stdin into a 0600 etcd-owned file; without S3 the file is removed", () => {
        expect(install).toContain('cat > "$stage/s3.env"');
        expect(install).toContain('install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" "$stage/s3.env" "$S3_ENV_FILE"');
        expect(install).toContain("readonly S3_UPLOADS=1");
        expect(installNoS3).toContain("readonly S3_UPLOADS=0");
        expect(installNoS3).toContain('rm -f "$S3_ENV_FILE"');
        expect(install).toContain("systemd-analyze calendar");
        expect(install).toContain("readonly SNAPSHOT_DIR='/var/backups/etcd'");
        expect(install).toContain('install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$SNAPSHOT_DIR"');
    });
    it("uninstall keeps the snapshots", () => {
        expect(uninstall).not.toContain("/var/backups");
        expect(uninstall).toContain("etcd-backup.timer");
        expect(uninstall).toContain("/usr/local/sbin/etcd-restore");
    });
});

describe("status_lines parses `etcdctl endpoint status -w fields`", () => {
    const record = (endpoint: string, id: string, leader: string, size: number, quota?: number) => [
        `"ClusterID" : 324952591200643719`, `"MemberID" : ${id}`, `"Revision" : 2`, `"RaftTerm" : 2`, `"Version" : "3.6.14"`,
        `"DBSize" : ${size}`, `"DBSizeInUse" : 16384`, ...(quota === undefined ? [] : [`"DBSizeQuota" : ${quota}`]),
        `"Leader" : ${leader}`, `"IsLearner" : false`, `"Errors" : []`, `"Endpoint" : "${endpoint}"`, `"DowngradeEnabled" : false`, "",
    ].join("\n");
    const parse = (text: string) => spawnSync("bash", ["-c", `set -euo pipefail\n${STATUS_LINES}status_lines`], { input: text, encoding: "utf8" }).stdout;
    it("one line per member, quota 0 when not reported (etcd 3.5)", () => {
        const text = record("https://10.1.1.11:2379", "11", "22", 20480, 16777216) + "\n" + record("https://10.1.1.12:2379", "22", "22", 40960);
        expect(parse(text)).toBe("https://10.1.1.11:2379 11 22 20480 16777216\nhttps://10.1.1.12:2379 22 22 40960 0\n");
    });
    it("keeps a quota of 2 GiB and more whole (mawk prints such numbers as 2.14748e+09)", () => {
        expect(parse(record("https://10.1.1.11:2379", "11", "22", 20480, 2 * 1024 ** 3))).toBe("https://10.1.1.11:2379 11 22 20480 2147483648\n");
    });
});

describe("the S3 settings file", () => {
    const s3 = { endpoint: "http://10.1.8.1:9000", bucket: "b", region: "us-east-1", prefix: "etcd/", accessKeyId: "AK", secretAccessKey: 'se"c\\ret/+=' };
    it("is one KEY=value line per setting, the value verbatim", () => {
        expect(renderS3Env(s3)).toBe("S3_ENDPOINT=http://10.1.8.1:9000\nS3_BUCKET=b\nS3_REGION=us-east-1\nS3_PREFIX=etcd/\nS3_ACCESS_KEY_ID=AK\nS3_SECRET_ACCESS_KEY=se\"c\\ret/+=\n");
    });
    it("refuses line breaks and empty keys", () => {
        expect(() => renderS3Env({ ...s3, secretAccessKey: "a\nS3_BUCKET=x" })).toThrow("S3_SECRET_ACCESS_KEY contains a control character");
        expect(() => renderS3Env({ ...s3, accessKeyId: "" })).toThrow("S3_ACCESS_KEY_ID is empty");
    });
});

describe("SigV4 in bash (the backup script's signer)", () => {
    const bash = (body: string, input = "", env: Record<string, string> = {}) => {
        const r = spawnSync("bash", ["-c", `set -euo pipefail\n${SIGV4_FUNCTIONS}${body}`], { input, encoding: "utf8", env: { ...process.env, ...env } });
        if (r.status !== 0) throw new Error(r.stderr);
        return r.stdout;
    };
    const hmac = (key: Buffer, msg: string) => crypto.createHmac("sha256", key).update(msg).digest();
    it("HMAC-SHA256 matches RFC 4231 (test cases 2 and 6: short key, key longer than a block)", () => {
        expect(bash(`hmac_sha256 ${Buffer.from("Jefe").toString("hex")}`, "what do ya want for nothing?").trim())
            .toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        expect(bash(`hmac_sha256 ${"aa".repeat(131)}`, "Test Using Larger Than Block-Size Key - Hash Key First").trim())
            .toBe("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    });
    it("derives AWS's documented example signing key", () => {
        expect(bash(`key=$(LC_ALL=C text_to_hex 'AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')
for m in 20120215 us-east-1 iam aws4_request; do key=$(printf '%s' "$m" | hmac_sha256 "$key"); done
echo "$key"`).trim()).toBe("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    });
    it("signs a PUT exactly as an independent implementation (Node's crypto) does, a secret with quotes and backslashes included", () => {
        const secret = 'se"c\\ret/+=K7MDENG';
        const payload = crypto.createHash("sha256").update("snapshot bytes").digest("hex");
        const out = bash(`SIGV4_DATE=20260101T030405Z sigv4_headers PUT http://10.1.8.1:9000 /etcd-backups/etcd/scheduled-x.db ${payload} eu-central-1 AKID "$SECRET"`,
            "", { SECRET: secret });
        const canonical = ["PUT", "/etcd-backups/etcd/scheduled-x.db", "", "host:10.1.8.1:9000", `x-amz-content-sha256:${payload}`, "x-amz-date:20260101T030405Z", "",
            "host;x-amz-content-sha256;x-amz-date", payload].join("\n");
        const toSign = ["AWS4-HMAC-SHA256", "20260101T030405Z", "20260101/eu-central-1/s3/aws4_request", crypto.createHash("sha256").update(canonical).digest("hex")].join("\n");
        let key = Buffer.from(`AWS4${secret}`);
        for (const m of ["20260101", "eu-central-1", "s3", "aws4_request"]) key = hmac(key, m);
        const signature = hmac(key, toSign).toString("hex");
        expect(out).toBe([
            'header = "Host: 10.1.8.1:9000"', 'header = "x-amz-date: 20260101T030405Z"', `header = "x-amz-content-sha256: ${payload}"`,
            `header = "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-central-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}"`, "",
        ].join("\n"));
    });
});

describe("backup and maintenance arguments", () => {
    const resolve = (more: object) => resolveArgs("etcd", { hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, ...more });
    it("default to hourly, 24 kept, no upload; weekly defrag; a check every five minutes at 80% and 21 days before a certificate expires", () => {
        const spec = resolve({});
        expect(spec.backup).toEqual({ schedule: "hourly", keep: 24 });
        expect(spec.maintenance).toEqual({ defragSchedule: "weekly", alarmCheckSchedule: "*:0/5", quotaWarnPercent: 80, certificateWarnDays: 21 });
    });
    it("S3 gets the default region and a prefix named after the cluster", () => {
        const spec = resolve({ backup: { s3: { endpoint: "https://s3.example.com/", bucket: "etcd-backups", accessKeyId: "a", secretAccessKey: "b" } } });
        expect(spec.backup.s3).toMatchObject({ endpoint: "https://s3.example.com", bucket: "etcd-backups", region: "us-east-1", prefix: "etcd/" });
    });
    it.each([
        [{ backup: { schedule: "every hour!" } }, 'backup.schedule "every hour!" is not a systemd OnCalendar expression'],
        [{ backup: { keep: 0 } }, "backup.keep must be a whole number between 1 and 10000 (got 0)."],
        [{ maintenance: { alarmCheckSchedule: "" } }, 'maintenance.alarmCheckSchedule "" is not a systemd OnCalendar expression'],
        [{ maintenance: { quotaWarnPercent: 120 } }, "maintenance.quotaWarnPercent must be a whole number between 1 and 100 (got 120)."],
        [{ backup: { s3: { endpoint: "s3.example.com", bucket: "b-1", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.endpoint "s3.example.com" must be an http(s) URL'],
        [{ backup: { s3: { endpoint: "https://s3.example.com/path", bucket: "b-1", accessKeyId: "a", secretAccessKey: "b" } } }, "without a path"],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "My_Bucket", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.bucket "My_Bucket" is not an S3 bucket name'],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp", prefix: "a b/", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.prefix "a b/" must be'],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp", region: "EU Central", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.region "EU Central" is not a region name'],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp" } } }, "backup.s3 needs accessKeyId and secretAccessKey"],
    ])("%#: %s", (more, message) => {
        expect(() => resolve(more)).toThrow(message);
    });
});
