// Maintenance renderers (backup, defragmentation, alarm check, their units and installer) and their arguments.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { resolveArgs } from "../../components/etcd-cluster/plan";
import { alarmScript } from "../../components/etcd-cluster/render/alarm-script";
import { BACKUP_SUCCEEDED, backupScript, renderS3Env, UPLOAD_STEP } from "../../components/etcd-cluster/render/backup-script";
import { WRITE_TEXTFILE } from "../../components/etcd-cluster/render/textfile-metrics";
import { promtool } from "../helpers/promtool";
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
    clusterName: "etcd", memberName: "etcd-2", layout,
    backup: { schedule: "hourly", keep: 24, s3: true },
    defragSchedule: "weekly", alarmCheckSchedule: "*:0/5", quotaBackendBytes: 2 * 1024 ** 3, quotaWarnPercent: 80, certificateWarnDays: 21, healthTimeoutSeconds: 120,
};
const backup = backupScript({ clusterName: "etcd", memberName: "etcd-2", layout, keep: 24, timeoutSeconds: 900 });
const defrag = defragScript({ memberName: "etcd-2", layout, defragTimeoutSeconds: 900, healthTimeoutSeconds: 120 });
const alarm = alarmScript({ clusterName: "etcd", memberName: "etcd-2", layout, quotaBackendBytes: 16 * 1024 ** 2, warnPercent: 80, certificateWarnDays: 21 });
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
    it("backup: uploads with rclone copyto (no check of the destination first), bounded; the env file read as data", () => {
        expect(backup).toContain(UPLOAD_STEP);
        expect(backup).toContain('timeout --kill-after=10 "$TIMEOUT" rclone copyto "${rclone_opts[@]}" --no-check-dest "$SNAPSHOT_DIR/$name" "$remote$name"');
        expect(backup).toContain("--retries 3 --low-level-retries 5 --contimeout 10s --timeout 60s");
        // rclone's debug output prints every option, the secret key included: NOTICE (errors and warnings) only.
        expect(backup).toContain("rclone_opts=(--log-level NOTICE ");
        expect(backup).not.toMatch(/(rclone|rclone_opts=\().*( -vv?\b|--log-level (DEBUG|INFO)|--dump)/);
        expect(backup).not.toMatch(/^\s*(source|\.) /m); // the env file is read as data, never run
        expect(backup).not.toMatch(/sigv4|hmac|curl/i); // no hand-rolled signing left
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
        // The certificates are read once, for the metric file and the expiry check.
        expect(alarm.match(/certificate_ends "/g)).toEqual(['certificate_ends "']);
        expect(alarm).toContain('certificate_expiry_metrics <<<"$ends" | write_textfile etcd-certificates.prom');
        expect(alarm).toContain('elif ! expiring=$(expiring_certificates "$CERT_WARN_DAYS" <<<"$ends"); then');
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
        // rclone from the distribution, only when missing (idempotent), never reading the settings on stdin.
        expect(install).toContain('if ! command -v rclone >/dev/null; then\n    echo "maintenance on $MEMBER: installing rclone');
        expect(install).toContain("apt-get install -y -qq --no-install-recommends rclone >/dev/null; } </dev/null; then");
        expect(install.indexOf('cat > "$stage/s3.env"')).toBeLessThan(install.indexOf("apt-get update"));
        expect(install).toContain("readonly S3_REQUIRED_KEYS=('RCLONE_CONFIG_ETCDS3_SECRET_ACCESS_KEY' 'ETCD_BACKUP_REMOTE')");
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
    const base = "RCLONE_CONFIG_ETCDS3_TYPE=s3\nRCLONE_CONFIG_ETCDS3_PROVIDER=Other\nRCLONE_CONFIG_ETCDS3_ENDPOINT=http://10.1.8.1:9000\n"
        + "RCLONE_CONFIG_ETCDS3_REGION=us-east-1\nRCLONE_CONFIG_ETCDS3_FORCE_PATH_STYLE=true\nRCLONE_CONFIG_ETCDS3_ACCESS_KEY_ID=AK\n"
        + "RCLONE_CONFIG_ETCDS3_SECRET_ACCESS_KEY=se\"c\\ret/+=\nRCLONE_CONFIG_ETCDS3_NO_CHECK_BUCKET=true\n";
    it("is the s3 remote as rclone variables, one KEY=value line each, the value verbatim, and the folder to upload into", () => {
        expect(renderS3Env(s3)).toBe(`${base}ETCD_BACKUP_REMOTE=etcds3:b/etcd/\n`);
    });
    it("carries server-side encryption as rclone's s3 options", () => {
        expect(renderS3Env({ ...s3, serverSideEncryption: "AES256" })).toBe(`${base}RCLONE_CONFIG_ETCDS3_SERVER_SIDE_ENCRYPTION=AES256\nETCD_BACKUP_REMOTE=etcds3:b/etcd/\n`);
        expect(renderS3Env({ ...s3, serverSideEncryption: "aws:kms", kmsKeyId: "alias/etcd" }))
            .toContain("RCLONE_CONFIG_ETCDS3_SERVER_SIDE_ENCRYPTION=aws:kms\nRCLONE_CONFIG_ETCDS3_SSE_KMS_KEY_ID=alias/etcd\n");
    });
    it("carries the multipart cutoff when one is set, as rclone's upload_cutoff in MiB", () => {
        expect(renderS3Env({ ...s3, uploadCutoffMiB: 5 })).toBe(`${base}RCLONE_CONFIG_ETCDS3_UPLOAD_CUTOFF=5Mi\nETCD_BACKUP_REMOTE=etcds3:b/etcd/\n`);
    });
    it("with a passphrase: a crypt remote around the folder (readable names), the upload goes through it", () => {
        expect(renderS3Env({ ...s3, encryptionPassphrase: "correct horse battery staple" })).toBe(`${base}RCLONE_CONFIG_ETCDCRYPT_TYPE=crypt\n`
            + "RCLONE_CONFIG_ETCDCRYPT_REMOTE=etcds3:b/etcd\nRCLONE_CONFIG_ETCDCRYPT_FILENAME_ENCRYPTION=off\nRCLONE_CONFIG_ETCDCRYPT_DIRECTORY_NAME_ENCRYPTION=false\n"
            + "ETCD_BACKUP_REMOTE=etcdcrypt:\nETCD_BACKUP_PASSPHRASE=correct horse battery staple\n");
        expect(renderS3Env({ ...s3, prefix: "", encryptionPassphrase: "correct horse battery staple" })).toContain("RCLONE_CONFIG_ETCDCRYPT_REMOTE=etcds3:b\n");
    });
    it("refuses line breaks and empty keys", () => {
        expect(() => renderS3Env({ ...s3, secretAccessKey: "a\nETCD_BACKUP_REMOTE=x" })).toThrow("RCLONE_CONFIG_ETCDS3_SECRET_ACCESS_KEY contains a control character");
        expect(() => renderS3Env({ ...s3, accessKeyId: "" })).toThrow("RCLONE_CONFIG_ETCDS3_ACCESS_KEY_ID is empty");
        expect(() => renderS3Env({ ...s3, encryptionPassphrase: "x\ry" })).toThrow("ETCD_BACKUP_PASSPHRASE contains a control character");
    });
});

describe("the upload step, run against a recording rclone", () => {
    const secret = 'se"c\\ret $(x) `y` /+=';
    const passphrase = "pass phrase with 'quotes' and $HOME";
    /** Runs step 4 with a fake rclone on PATH that records its argv and RCLONE_ environment; it fails command `failOn`; env null: no S3 settings file. */
    const runUpload = (env: string | null, failOn = "") => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "upload-"));
        if (env !== null) fs.writeFileSync(path.join(dir, "s3.env"), env, { mode: 0o600 });
        fs.writeFileSync(path.join(dir, "snap.db"), "snapshot bytes");
        fs.writeFileSync(path.join(dir, "rclone"), `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "${dir}/argv"
if [ "$1" = obscure ]; then printf 'OBSCURED[%s]\\n' "$(cat)"; exit 0; fi
env | grep '^RCLONE_' | LC_ALL=C sort > "${dir}/env.$1"
if [ "$1" = "${failOn}" ]; then echo "rclone $1 failed" >&2; exit 1; fi
`, { mode: 0o755 });
        const r = spawnSync("bash", ["-c", `set -euo pipefail\nMEMBER=etcd-2 SNAPSHOT_DIR='${dir}' name=snap.db TIMEOUT=30 S3_ENV_FILE='${dir}/s3.env'\nbackup_succeeded() { touch '${dir}/succeeded'; }\n${UPLOAD_STEP}`],
            { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
        const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : "");
        const out = { status: r.status, stdout: r.stdout, stderr: r.stderr, argv: read("argv"), copyEnv: read("env.copyto"), checkEnv: read("env.cryptcheck"),
            succeeded: fs.existsSync(path.join(dir, "succeeded")) };
        fs.rmSync(dir, { recursive: true, force: true });
        return out;
    };
    const settings = { endpoint: "https://s3.example.com", bucket: "bkp", region: "eu-central-1", prefix: "etcd/", accessKeyId: "AKID", secretAccessKey: secret };
    it("plain: one copyto into the folder; the settings reach rclone in its environment, never in argv", () => {
        const r = runUpload(renderS3Env(settings));
        expect(r.status).toBe(0);
        expect(r.argv).toMatch(/^copyto --log-level NOTICE .* --no-check-dest \/\S+\/snap\.db etcds3:bkp\/etcd\/snap\.db\n$/);
        expect(r.copyEnv).toContain(`RCLONE_CONFIG_ETCDS3_SECRET_ACCESS_KEY=${secret}\n`);
        expect(r.copyEnv).toContain("RCLONE_CONFIG=/dev/null\n");
        expect(r.copyEnv).not.toContain("ETCDCRYPT");
        expect(r.stdout).toContain("uploaded snap.db to etcds3:bkp/etcd/snap.db (rclone checked size and MD5)");
        for (const text of [r.argv, r.stdout, r.stderr]) expect(text).not.toContain("c\\ret");
        expect(r.succeeded).toBe(true);
    });
    it("without S3 settings: no rclone, and the local snapshot counts as the backup's success", () => {
        const r = runUpload(null);
        expect(r.argv).toBe("");
        expect({ status: r.status, succeeded: r.succeeded }).toEqual({ status: 0, succeeded: true });
    });
    it("encrypted: the passphrase is obscured through stdin, the copy goes through the crypt remote and is cryptchecked", () => {
        const r = runUpload(renderS3Env({ ...settings, encryptionPassphrase: passphrase }));
        expect(r.status).toBe(0);
        expect(r.argv.split("\n")[0]).toBe("obscure -");
        expect(r.argv).toMatch(/\ncopyto .* --no-check-dest \/\S+\/snap\.db etcdcrypt:snap\.db\ncryptcheck .* \/\S+\/snap\.db etcdcrypt:\n$/);
        expect(r.copyEnv).toContain(`RCLONE_CONFIG_ETCDCRYPT_PASSWORD=OBSCURED[${passphrase}]\n`);
        expect(r.checkEnv).toContain("RCLONE_CONFIG_ETCDCRYPT_REMOTE=etcds3:bkp/etcd\n");
        expect(r.stdout).toContain("encrypted on this host (cryptcheck: contents match)");
        for (const text of [r.argv, r.stdout, r.stderr]) expect(text).not.toContain("quotes");
    });
    it("a failed copy fails the step and says the snapshot is kept; a settings file without the remote is refused", () => {
        const failed = runUpload(renderS3Env(settings), "copyto");
        expect(failed.status).toBe(1);
        expect(failed.stderr).toContain("upload of snap.db to etcds3:bkp/etcd/ failed (rclone's error above); the snapshot is kept locally");
        const broken = runUpload(renderS3Env(settings).replace(/^ETCD_BACKUP_REMOTE=.*\n/m, ""));
        expect(broken.status).toBe(1);
        expect(broken.stderr).toContain("lacks ETCD_BACKUP_REMOTE");
        expect(broken.argv).toBe("");
        expect([failed.succeeded, broken.succeeded]).toEqual([false, false]);
    });
    it("a failed cryptcheck fails the step", () => {
        const r = runUpload(renderS3Env({ ...settings, encryptionPassphrase: passphrase }), "cryptcheck");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("the encrypted object etcdcrypt:snap.db does not match snap.db");
        expect(r.stdout).not.toContain("uploaded");
        expect(r.succeeded).toBe(false);
    });
});

describe("the backup's success metric", () => {
    it("is this time, in a metric file promtool accepts, labelled with cluster and member; no temporary file is left", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "backup-metric-"));
        const before = Math.floor(Date.now() / 1000);
        const r = spawnSync("bash", ["-c", `set -euo pipefail\nCLUSTER=prod MEMBER=etcd-2 METRICS_DIR='${dir}'\n${WRITE_TEXTFILE}${BACKUP_SUCCEEDED}backup_succeeded`], { encoding: "utf8" });
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(fs.readdirSync(dir)).toEqual(["etcd-backup.prom"]);
        const text = fs.readFileSync(path.join(dir, "etcd-backup.prom"), "utf8");
        const lint = promtool(["check", "metrics"], text);
        expect({ status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ status: 0, out: "" });
        const m = /^etcd_backup_last_success_timestamp_seconds\{etcd_cluster="prod",etcd_member="etcd-2"\} (\d+)$/m.exec(text);
        expect(m).not.toBeNull();
        expect(Number(m![1])).toBeGreaterThanOrEqual(before);
        expect(Number(m![1])).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
        fs.rmSync(dir, { recursive: true, force: true });
    });
    it("the backup and alarm-check services may write the metrics directory, which the install creates for the service user", () => {
        const unit = (name: string) => maintenanceFiles(input).find((f) => f.path.endsWith(`/${name}`))!.text;
        expect(unit("etcd-backup.service")).toContain("ReadWritePaths=/var/lib/etcd-metrics\n");
        expect(unit("etcd-alarm-check.service")).toContain("ReadWritePaths=/var/lib/etcd-metrics\n");
        expect(install).toContain('install -d -m 0755 -o "$SERVICE_USER" -g "$SERVICE_USER" "$METRICS_DIR"');
        expect(uninstall).toContain('rm -rf "${METRICS_DIR:?}"');
    });
});

describe("backup and maintenance arguments", () => {
    const s3 = { endpoint: "https://s3.example.com", bucket: "bkp", accessKeyId: "a", secretAccessKey: "b" };
    const resolve = (more: object) => resolveArgs("etcd", { hcloud: { sshAllowedCidrs: ["203.0.113.0/24"] }, ...more });
    it("default to hourly, 24 kept, 3 h before the backup alert, no upload; weekly defrag; a check every five minutes at 80% and 21 days before a certificate expires", () => {
        const spec = resolve({});
        expect(spec.backup).toEqual({ schedule: "hourly", keep: 24, maxAgeHours: 3 });
        expect(spec.maintenance).toEqual({ defragSchedule: "weekly", alarmCheckSchedule: "*:0/5", quotaWarnPercent: 80, certificateWarnDays: 21 });
    });
    it("S3 gets the default region and a prefix named after the cluster", () => {
        const spec = resolve({ backup: { s3: { endpoint: "https://s3.example.com/", bucket: "etcd-backups", accessKeyId: "a", secretAccessKey: "b" } } });
        expect(spec.backup.s3).toMatchObject({ endpoint: "https://s3.example.com", bucket: "etcd-backups", region: "us-east-1", prefix: "etcd/" });
    });
    it.each([
        [{ backup: { schedule: "every hour!" } }, 'backup.schedule "every hour!" is not a systemd OnCalendar expression'],
        [{ backup: { keep: 0 } }, "backup.keep must be a whole number between 1 and 10000 (got 0)."],
        [{ backup: { maxAgeHours: 0.5 } }, "backup.maxAgeHours must be a whole number between 1 and 8784 (got 0.5)."],
        [{ maintenance: { alarmCheckSchedule: "" } }, 'maintenance.alarmCheckSchedule "" is not a systemd OnCalendar expression'],
        [{ maintenance: { quotaWarnPercent: 120 } }, "maintenance.quotaWarnPercent must be a whole number between 1 and 100 (got 120)."],
        [{ backup: { s3: { endpoint: "s3.example.com", bucket: "b-1", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.endpoint "s3.example.com" must be an http(s) URL'],
        [{ backup: { s3: { endpoint: "https://s3.example.com/path", bucket: "b-1", accessKeyId: "a", secretAccessKey: "b" } } }, "without a path"],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "My_Bucket", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.bucket "My_Bucket" is not an S3 bucket name'],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp", prefix: "a b/", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.prefix "a b/" must be'],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp", region: "EU Central", accessKeyId: "a", secretAccessKey: "b" } } }, 'backup.s3.region "EU Central" is not a region name'],
        [{ backup: { s3: { endpoint: "https://s3.example.com", bucket: "bkp" } } }, "backup.s3 needs accessKeyId and secretAccessKey"],
        [{ backup: { s3: { ...s3, serverSideEncryption: "aes256" } } }, 'backup.s3.serverSideEncryption "aes256" is not "AES256" or "aws:kms"'],
        [{ backup: { s3: { ...s3, kmsKeyId: "alias/etcd" } } }, "backup.s3.kmsKeyId is set but backup.s3.serverSideEncryption is not set"],
        [{ backup: { s3: { ...s3, serverSideEncryption: "AES256", kmsKeyId: "alias/etcd" } } }, 'serverSideEncryption is "AES256"; a KMS key needs serverSideEncryption: "aws:kms"'],
        [{ backup: { s3: { ...s3, serverSideEncryption: "aws:kms", kmsKeyId: "alias/my key" } } }, 'backup.s3.kmsKeyId "alias/my key" is not a KMS key id'],
        [{ backup: { s3: { ...s3, encryptionPassphrase: "short" } } }, "backup.s3.encryptionPassphrase is 5 characters long; use at least 16"],
        [{ backup: { s3: { ...s3, encryptionPassphrase: "a long passphrase\nwith two lines" } } }, "backup.s3.encryptionPassphrase contains a line break"],
        [{ backup: { s3: { ...s3, prefix: "etcd-", encryptionPassphrase: "a long enough passphrase" } } }, 'backup.s3.prefix "etcd-" must end with \'/\' (or be "") when backup.s3.encryptionPassphrase is set'],
    ])("%#: %s", (more, message) => {
        expect(() => resolve(more)).toThrow(message);
    });
    it("server-side encryption and a passphrase pass through; the error never shows the passphrase", () => {
        const spec = resolve({ backup: { s3: { ...s3, serverSideEncryption: "aws:kms", kmsKeyId: "arn:aws:kms:eu-central-1:111122223333:key/abc-1", encryptionPassphrase: "a long enough passphrase" } } });
        expect(spec.backup.s3).toMatchObject({ serverSideEncryption: "aws:kms", kmsKeyId: "arn:aws:kms:eu-central-1:111122223333:key/abc-1", encryptionPassphrase: "a long enough passphrase" });
        expect(resolve({ backup: { s3 } }).backup.s3).not.toHaveProperty("encryptionPassphrase");
        expect(() => resolve({ backup: { s3: { ...s3, encryptionPassphrase: "tooShortSecret" } } })).not.toThrow("tooShortSecret");
    });
});
