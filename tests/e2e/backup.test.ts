// Backups, restore and maintenance on a real 3-member cluster, with a real S3-compatible server (MinIO, built
// from its Go module, checking every SigV4 signature and payload hash) on the rig's bridge; the hosts upload
// with rclone (the Debian package, in the rig's rootfs), in parts above a cutoff the test sets:
//   1. up installs the units; the S3 keys reach the hosts only in a 0600 file, never the state or the logs;
//   2. the timer's service: only the leader saves a snapshot, verified, uploaded (same sha256 in S3), pruned
//      to `keep` (pre-upgrade snapshots untouched); wrong credentials fail the unit visibly, kept locally;
//      with server-side encryption MinIO stores the object encrypted (its HEAD says so); with client-side
//      encryption the object is not the snapshot, and rclone on this machine decrypts it to the exact bytes;
//      above backup.s3.uploadCutoffMiB the upload is multipart (the object's ETag counts its parts);
//   3. quorum lost (two of three members stopped, their data gone), then restore (scripts/restore.sh driving
//      the hosts' etcd-restore, with a custom dataDir) of the uploaded snapshot: its keys back, later keys gone,
//      revision bumped and older revisions compacted, a new cluster ID, healthy; pulumi up changes nothing;
//   3b. quorum lost again (members 1 and 3), recovered from the survivor's data (scripts/restore.sh
//      --from-member: --force-new-cluster, refused while a quorum is there or from a member without data);
//      the lost members re-joined by `pulumi up --replace` of their host steps; every acknowledged write
//      (before the loss) read back from every member; then pulumi up changes nothing;
//   4. quota check: fails at 80% and on NOSPACE; delete + compact + defrag (one member at a time, with a
//      continuous writer: 0 lost) + alarm disarm, and it passes again;
//   5. destroy removes the units and keeps the snapshots.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { METRICS_TEXTFILE_DIR } from "../../components/etcd-cluster/render/layout";
import { REPO_ROOT, TestStack } from "../../lab/pulumi";
import { ContinuousWriter, expectNoLoss } from "../helpers/reliability";
import { adminClientFiles, ClientFiles, Etcdctl, localEtcdctl, mustSsh, releaseSha256, Rig, RigHost, rigDown, rigUp, startUnit as startUnitOn } from "../../lab/rig";
import { logStep, mustRun, run } from "../../lab/run";

const VERSION = process.env.ETCD_VERSION ?? "";
const N = 3;
const RIG = "bkp";
const S3_PORT = 9000;
const BUCKET = "etcd-backups";
const PREFIX = "bkp-cluster/";
const QUOTA = 16 * 1024 * 1024;
// Characters that need escaping in curl's config and in the env file, to prove they survive.
const ACCESS_KEY = "bkp-test-access";
const SECRET_RANDOM = crypto.randomBytes(12).toString("base64url");
const SECRET_KEY = `S3cret/${SECRET_RANDOM}+"q\\z`;
/** How the secret could appear in text: as is, JSON-escaped (state, engine log), and by its random part alone. */
const SECRET_FORMS = [SECRET_KEY, JSON.stringify(SECRET_KEY).slice(1, -1), SECRET_RANDOM];
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// Not the default: the restore tool on the hosts must follow the component's layout, not assume it.
const DATA_DIR = "/var/lib/etcd-bkp";
const PASSPHRASE_RANDOM = crypto.randomBytes(12).toString("base64url");
const PASSPHRASE = `crypt 'pass' "phrase" \\ ${PASSPHRASE_RANDOM}`;

describe("backups, restore and maintenance", () => {
    let rig: Rig;
    let stack: TestStack;
    let admin: Etcdctl;
    let client: ClientFiles;
    let endpoints: string[];
    let s3Url: string;
    let s3Dir: string;
    let destroyed = false;

    const sh = (i: number, command: string) => mustSsh(rig, rig.hosts[i], command);
    /** The time of member i's last backup success, from its metric file for node_exporter. */
    const backupMetric = (i: number) =>
        Number(/^etcd_backup_last_success_timestamp_seconds\{etcd_cluster="etcd",etcd_member="[^"]+"\} (\d+)$/m
            .exec(sh(i, `cat ${METRICS_TEXTFILE_DIR}/etcd-backup.prom`))?.[1]);
    const all = <T>(f: (h: RigHost, i: number) => T) => rig.hosts.map(f);
    const status = () => JSON.parse(admin.must(endpoints, ["endpoint", "status", "-w", "json"])) as any[];
    const leaderIndex = () => {
        const s = status();
        const i = s.findIndex((e) => e.Status.header.member_id === e.Status.leader);
        expect(i).toBeGreaterThanOrEqual(0);
        return i;
    };
    const revision = () => Number(status()[0].Status.header.revision);
    /** A unit run to its end: exit status of `systemctl start`, and what it logged during this run. */
    const startUnit = (i: number, unit: string) => startUnitOn(rig, rig.hosts[i], unit);
    /** Fails with the unit's journal when it did not end as expected. */
    const expectRun = (r: { ok: boolean; journal: string }, ok: boolean) => {
        if (r.ok !== ok) throw new Error(`expected the unit to ${ok ? "succeed" : "fail"}; it logged:\n${r.journal}`);
    };
    /** A signed S3 request from this machine (curl --aws-sigv4, credentials on curl's stdin). */
    const s3 = (args: string[], secret = SECRET_KEY) => {
        const user = `${ACCESS_KEY}:${secret}`.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
        return run("curl", ["--silent", "--show-error", "--config", "-", "--aws-sigv4", "aws:amz:us-east-1:s3",
            "-H", `x-amz-content-sha256: ${EMPTY_SHA256}`, ...args], { input: `user = "${user}"\n`, timeout: 60_000 });
    };
    const s3Keys = () => {
        const r = s3([`${s3Url}/${BUCKET}?list-type=2&prefix=${encodeURIComponent(PREFIX)}`]);
        expect(r.status).toBe(0);
        return [...r.stdout.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
    };
    const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    /** `pulumi up`, then one run of the backup service on the leader (it succeeds): the leader, its journal, the snapshot's name. */
    const upThenBackup = (label: string) => {
        stack.up(label);
        run("sleep", ["1.1"]); // snapshot names have a one-second resolution
        const leader = leaderIndex();
        const r = startUnit(leader, "etcd-backup.service");
        expectRun(r, true);
        return { leader, journal: r.journal, name: /saved \/var\/backups\/etcd\/(\S+\.db)/.exec(r.journal)![1] };
    };
    /** Snapshot NAME copied from member i's snapshot directory, and object KEY downloaded from S3, as files here. */
    const localAndRemote = (i: number, name: string, key: string, label: string) => {
        const local = path.join(stack.dir, `${label}-local.db`);
        const remote = path.join(stack.dir, `${label}-remote.bin`);
        fs.writeFileSync(local, Buffer.from(sh(i, `base64 -w0 /var/backups/etcd/${name}`), "base64"));
        expect(s3(["--fail", "-o", remote, `${s3Url}/${BUCKET}/${key}`]).status).toBe(0);
        return { local, remote };
    };
    const scheduled = (i: number) => sh(i, "cd /var/backups/etcd && ls -1 scheduled-*.db 2>/dev/null || true").split("\n").filter(Boolean);
    const fillUntil = (stop: () => boolean, prefix: string, maxPuts = 80) => {
        const value = path.join(stack.dir, "value.bin");
        fs.writeFileSync(value, crypto.randomBytes(450_000).toString("base64"));
        let i = 0;
        for (; i < maxPuts && !stop(); i++) {
            const r = run("bash", ["-c", `"$0" "$@" < "${value}"`, admin["binary"], `--endpoints=${endpoints[0]}`, `--cacert=${client.ca}`,
                `--cert=${client.cert}`, `--key=${client.key}`, "--command-timeout=15s", "put", `${prefix}/${i}`], { timeout: 30_000 });
            if (r.status !== 0) {
                expect(r.stderr).toContain("database space exceeded");
                return { puts: i, refused: true };
            }
        }
        return { puts: i, refused: false };
    };
    const dbSizes = () => status().map((s) => Number(s.Status.dbSize));

    beforeAll(() => {
        expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        rig = rigUp(RIG, N, { privatePrefix: "10.1.8", publicPrefix: "198.18.8" }, [VERSION]);
        s3Dir = fs.mkdtempSync(path.join(fs.realpathSync(require("os").tmpdir()), "bkp-s3-"));
        const s3Server = mustRun("bash", [path.join(REPO_ROOT, "scripts/lab/s3-server.sh"), "start", "--address", `10.1.8.1:${S3_PORT}`, "--dir", s3Dir, "--bucket", BUCKET],
            { env: { ...process.env, S3_SERVER_ACCESS_KEY: ACCESS_KEY, S3_SERVER_SECRET_KEY: SECRET_KEY }, timeout: 15 * 60_000 });
        logStep("MinIO up (built when not cached)", s3Server.seconds);
        s3Url = s3Server.stdout.trim();
        stack = new TestStack({
            stack: RIG,
            config: {
                existingHosts: rig.hosts.map((h) => ({ name: h.name, privateIp: h.privateIp, publicIp: h.publicIp })),
                sshPrivateKeyPath: rig.sshPrivateKeyPath,
                release: { version: VERSION, sha256: releaseSha256(VERSION), downloadBaseUrl: rig.releaseBaseUrl },
                healthTimeoutSeconds: 60,
                dataDir: DATA_DIR,
                tuning: { quotaBackendBytes: QUOTA },
                backup: { keep: 3, s3: { endpoint: s3Url, allowHttp: true, bucket: BUCKET, prefix: PREFIX } },
                backupS3AccessKeyId: ACCESS_KEY,
                backupS3SecretAccessKey: SECRET_KEY,
            },
            secretKeys: ["backupS3AccessKeyId", "backupS3SecretAccessKey"],
        });
    }, 30 * 60_000);

    afterAll(() => {
        try {
            if (stack && !destroyed) stack.tryPulumi(["destroy", "--yes", "--skip-preview"]);
            stack?.dispose();
        } finally {
            if (s3Dir) run("bash", [path.join(REPO_ROOT, "scripts/lab/s3-server.sh"), "stop", "--dir", s3Dir]);
            if (s3Dir) fs.rmSync(s3Dir, { recursive: true, force: true });
            if (rig) rigDown(RIG);
        }
    }, 10 * 60_000);

    it("1. pulumi up installs the units; the S3 keys are only in a 0600 file on the hosts", () => {
        stack.up("backup: pulumi up");
        const out = stack.outputs(true);
        client = adminClientFiles(path.join(stack.dir, "client"), out);
        endpoints = out.clientEndpoints;
        admin = new Etcdctl(localEtcdctl(VERSION, stack.dir), client);
        for (let i = 0; i < N; i++) {
            expect(sh(i, "systemctl is-active etcd-backup.timer etcd-defrag-scheduled.timer etcd-alarm-check.timer").trim().split("\n")).toEqual(["active", "active", "active"]);
            expect(sh(i, "systemctl show -p TimersCalendar etcd-backup.timer")).toContain("OnCalendar=*-*-* *:00:00");
            expect(sh(i, "stat -c '%a %U' /etc/etcd/backup-s3.env /var/backups/etcd").trim().split("\n")).toEqual(["600 etcd", "700 etcd"]);
            expect(sh(i, "cat /etc/etcd/backup-s3.env")).toContain(`RCLONE_CONFIG_ETCDS3_SECRET_ACCESS_KEY=${SECRET_KEY}\n`);
        }
        // The alarm check writes every certificate's expiry for node_exporter, under the sandbox of its unit.
        expectRun(startUnit(1, "etcd-alarm-check.service"), true);
        const certificates = sh(1, `stat -c '%a %U' ${METRICS_TEXTFILE_DIR}; cat ${METRICS_TEXTFILE_DIR}/etcd-certificates.prom`);
        expect(certificates.split("\n")[0]).toBe("755 etcd");
        for (const file of ["ca.crt", "server.crt", "peer.crt", "healthcheck-client.crt"]) {
            const m = new RegExp(`^etcd_certificate_expiry_timestamp_seconds\\{etcd_cluster="etcd",etcd_member="${rig.hosts[1].name}",file="/etc/etcd/pki/${file}",certificate="1"\\} (\\d+)$`, "m").exec(certificates);
            // Issued for a year (pki.certValidityHours), the CA for ten.
            expect([file, Number(m?.[1]) > Date.now() / 1000 + 300 * 86400]).toEqual([file, true]);
        }
        const state = stack.exportState();
        for (const text of [state, stack.engineLog]) {
            for (const form of SECRET_FORMS) expect(text).not.toContain(form);
            expect(text).not.toContain(ACCESS_KEY);
        }
        stack.up("backup: pulumi up (no changes)", ["--expect-no-changes"]);
    }, 15 * 60_000);

    it("2. the backup service: the leader saves, verifies, uploads and prunes; bad credentials fail visibly", () => {
        for (let k = 0; k < 20; k++) admin.must(endpoints, ["put", `/bkp/first/${k}`, `v${k}`]);
        const leader = leaderIndex();
        const startedAt = Math.floor(Date.now() / 1000);
        const runs = all((_, i) => startUnit(i, "etcd-backup.service"));
        runs.forEach((r, i) => {
            expectRun(r, true);
            if (i === leader) {
                expect(r.journal).toMatch(/saved \/var\/backups\/etcd\/scheduled-\d{8}T\d{6}Z-etcd-\d\.db \(revision \d+, \d+ keys/);
                expect(r.journal).toContain("(rclone checked size and MD5)");
            } else {
                expect(r.journal).toContain("not the leader");
            }
        });
        all((_, i) => expect(scheduled(i)).toHaveLength(i === leader ? 1 : 0));
        // The success is a metric for node_exporter's textfile collector, on the member that saved only.
        const firstSuccess = backupMetric(leader);
        expect(firstSuccess).toBeGreaterThanOrEqual(startedAt);
        expect(firstSuccess).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
        all((_, i) => expect(i === leader || sh(i, `test -e ${METRICS_TEXTFILE_DIR}/etcd-backup.prom && echo present || echo absent`).trim() === "absent").toBe(true));
        // The uploaded object is byte for byte the local snapshot.
        const name = scheduled(leader)[0];
        const { local, remote } = localAndRemote(leader, name, `${PREFIX}${name}`, "plain");
        expect(sha256(remote)).toBe(sha256(local));
        expect(s3Keys()).toEqual([`${PREFIX}${name}`]);
        // The server checks signatures: a wrong secret is refused.
        expect(s3(["-o", "/dev/null", "-w", "%{http_code}", `${s3Url}/${BUCKET}/${PREFIX}${name}`], "wrong-secret").stdout).toBe("403");

        // keep = 3: after four more runs three scheduled snapshots remain; a pre-upgrade snapshot stays.
        sh(leader, "install -m 0600 -o etcd -g etcd /dev/null /var/backups/etcd/pre-upgrade-v3.6.0-to-v3.6.14-20260101T000000.db");
        for (let k = 0; k < 4; k++) {
            run("sleep", ["1.1"]);
            const r = startUnit(leader, "etcd-backup.service");
            expectRun(r, true);
            if (k >= 2) expect(r.journal).toMatch(/pruned scheduled-/);
        }
        const kept = scheduled(leader);
        expect(kept).toHaveLength(3);
        expect(kept).not.toContain(name);
        expect(sh(leader, "ls /var/backups/etcd")).toContain("pre-upgrade-v3.6.0-to-v3.6.14-20260101T000000.db");
        expect(s3Keys()).toHaveLength(5); // S3 keeps every upload: expiry is the bucket's lifecycle rule

        // A wrong secret reaches the hosts through stdin on the next up; the unit fails and says why.
        stack.setConfig({ backupS3SecretAccessKey: "not-the-secret" }, ["backupS3SecretAccessKey"]);
        stack.up("backup: pulumi up (wrong S3 secret)");
        run("sleep", ["1.1"]);
        const bad = startUnit(leader, "etcd-backup.service");
        expectRun(bad, false);
        expect(bad.journal).toContain("SignatureDoesNotMatch");
        expect(bad.journal).toContain("the snapshot is kept locally");
        expect(sh(leader, "systemctl is-failed etcd-backup.service || true").trim()).toBe("failed");
        expect(bad.journal).not.toContain("not-the-secret");
        const lastSuccess = backupMetric(leader);
        stack.setConfig({ backupS3SecretAccessKey: SECRET_KEY }, ["backupS3SecretAccessKey"]);
        stack.up("backup: pulumi up (S3 secret back)");
        expectRun(startUnit(leader, "etcd-backup.service"), true);
        expect(stack.exportState()).not.toContain("not-the-secret");
        // The failed run left the success time alone; the next good one moved it on.
        expect(lastSuccess).toBeGreaterThan(firstSuccess);
        expect(backupMetric(leader)).toBeGreaterThan(lastSuccess);

        // The timer itself: every 10 s for a moment, then back to hourly; it fires and the leader saves.
        stack.setConfig({ backup: { keep: 3, schedule: "*:*:0/10", s3: { endpoint: s3Url, allowHttp: true, bucket: BUCKET, prefix: PREFIX } } });
        stack.up("backup: pulumi up (schedule every 10 s)");
        expect(sh(0, "systemctl show -p TimersCalendar etcd-backup.timer")).toContain("OnCalendar=*-*-* *:*:00/10");
        const uploadsBefore = s3Keys().length;
        const fired = () => s3Keys().length > uploadsBefore;
        for (let t = 0; t < 40 && !fired(); t++) run("sleep", ["1"]);
        expect(fired()).toBe(true);
        const leaderNow = leaderIndex();
        expect(sh(leaderNow, "journalctl -u etcd-backup.service --no-pager -o cat -n 20")).toMatch(/uploaded scheduled-/);
        stack.setConfig({ backup: { keep: 3, s3: { endpoint: s3Url, allowHttp: true, bucket: BUCKET, prefix: PREFIX } } });
        stack.up("backup: pulumi up (hourly again)");
        expect(sh(0, "systemctl show -p TimersCalendar etcd-backup.timer")).toContain("OnCalendar=*-*-* *:00:00");
    }, 15 * 60_000);

    it("2b. encryption at rest: server-side (MinIO's KMS key) and client-side (rclone crypt), decrypted here with rclone", () => {
        const s3Args = { endpoint: s3Url, allowHttp: true, bucket: BUCKET, prefix: PREFIX };
        stack.setConfig({ backup: { keep: 3, s3: { ...s3Args, serverSideEncryption: "AES256" } }, backupEncryptionPassphrase: PASSPHRASE },
            ["backupEncryptionPassphrase"]);
        const { leader, journal, name } = upThenBackup("backup: pulumi up (server- and client-side encryption)");
        expect(journal).toContain("encrypted on this host (cryptcheck: contents match)");
        const key = `${PREFIX}${name}.bin`;
        const keys = s3Keys();
        expect(keys).toContain(key);
        expect(keys).not.toContain(`${PREFIX}${name}`);

        // Server-side: MinIO stored the object encrypted, and says so.
        const head = s3(["--fail", "--head", `${s3Url}/${BUCKET}/${key}`]);
        expect(head.status).toBe(0);
        expect(head.stdout).toMatch(/^x-amz-server-side-encryption: AES256\r?$/im);
        const plainHead = s3(["--fail", "--head", `${s3Url}/${BUCKET}/${keys.find((k) => k.endsWith(".db"))}`]);
        expect(plainHead.status).toBe(0);
        expect(plainHead.stdout).not.toMatch(/x-amz-server-side-encryption/i); // the check can say no

        // Client-side: the object is rclone's crypt format, not the snapshot, and etcdutl cannot read it.
        const { local, remote } = localAndRemote(leader, name, key, "enc");
        const plain = fs.readFileSync(local);
        const stored = fs.readFileSync(remote);
        expect(stored.subarray(0, 8).toString("latin1")).toBe("RCLONE\0\0");
        expect(sha256(remote)).not.toBe(sha256(local));
        expect(stored.includes(plain.subarray(plain.length - 4096, plain.length - 4096 + 64))).toBe(false);
        const etcdutl = path.join(path.dirname(admin["binary"]), "etcdutl");
        expect(run(etcdutl, ["snapshot", "status", local]).status).toBe(0);
        expect(run(etcdutl, ["snapshot", "status", remote]).status).not.toBe(0);

        // Decrypt on this machine with rclone, as docs/operations.md shows: the exact snapshot; a wrong passphrase fails.
        // A clean environment: rclone 1.60's S3 client fails on an AWS_CA_BUNDLE with a plain-http endpoint.
        const decrypt = (passphrase: string, out: string) => {
            const env: Record<string, string> = {
                PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: stack.dir, RCLONE_CONFIG: "/dev/null",
                RCLONE_CONFIG_BKP_TYPE: "s3", RCLONE_CONFIG_BKP_PROVIDER: "Other", RCLONE_CONFIG_BKP_ENDPOINT: s3Url, RCLONE_CONFIG_BKP_REGION: "us-east-1",
                RCLONE_CONFIG_BKP_ACCESS_KEY_ID: ACCESS_KEY, RCLONE_CONFIG_BKP_SECRET_ACCESS_KEY: SECRET_KEY,
                RCLONE_CONFIG_BKPCRYPT_TYPE: "crypt", RCLONE_CONFIG_BKPCRYPT_REMOTE: `bkp:${BUCKET}/${PREFIX.replace(/\/$/, "")}`,
                RCLONE_CONFIG_BKPCRYPT_FILENAME_ENCRYPTION: "off", RCLONE_CONFIG_BKPCRYPT_DIRECTORY_NAME_ENCRYPTION: "false",
            };
            const obscured = mustRun("rclone", ["obscure", "-"], { input: `${passphrase}\n`, env }).stdout.trim();
            return run("rclone", ["copyto", "--log-level", "NOTICE", `bkpcrypt:${name}`, out],
                { env: { ...env, RCLONE_CONFIG_BKPCRYPT_PASSWORD: obscured }, timeout: 120_000 });
        };
        const decrypted = path.join(stack.dir, "enc-decrypted.db");
        const ok = decrypt(PASSPHRASE, decrypted);
        if (ok.status !== 0) throw new Error(`rclone could not decrypt ${key}: ${ok.stderr}`);
        expect(sha256(decrypted)).toBe(sha256(local));
        const wrongOut = path.join(stack.dir, "enc-wrong.db");
        const wrong = decrypt("not the passphrase, but long", wrongOut);
        expect(wrong.status).not.toBe(0); // rclone says "bad password?" or, for a small file, "unexpected EOF"
        expect(wrong.stderr).toContain("Failed to copyto");
        expect(fs.existsSync(wrongOut)).toBe(false);

        // The passphrase is only in the 0600 file: not in the state, the engine log or the journal.
        expect(sh(leader, "cat /etc/etcd/backup-s3.env")).toContain(`ETCD_BACKUP_PASSPHRASE=${PASSPHRASE}\n`);
        const wholeJournal = sh(leader, "journalctl -u etcd-backup.service --no-pager -o cat");
        for (const text of [stack.exportState(), stack.engineLog, wholeJournal]) {
            expect(text).not.toContain(PASSPHRASE_RANDOM);
        }

        // Off again: the next upload is the plain snapshot, and the passphrase leaves the hosts.
        stack.pulumi(["config", "rm", "backupEncryptionPassphrase"]);
        stack.setConfig({ backup: { keep: 3, s3: s3Args } });
        stack.up("backup: pulumi up (encryption off again)");
        for (let i = 0; i < N; i++) expect(sh(i, "cat /etc/etcd/backup-s3.env")).not.toMatch(/PASSPHRASE|ETCDCRYPT|SERVER_SIDE_ENCRYPTION/);
        run("sleep", ["1.1"]);
        const again = startUnit(leaderIndex(), "etcd-backup.service");
        expectRun(again, true);
        expect(again.journal).toContain("(rclone checked size and MD5)");
    }, 15 * 60_000);

    it("2c. a snapshot above backup.s3.uploadCutoffMiB goes up in parts (S3 multipart), checked and byte for byte the same", () => {
        const s3Args = { endpoint: s3Url, allowHttp: true, bucket: BUCKET, prefix: PREFIX };
        // More than one of rclone's 5 MiB parts: a database of 6 MiB or more (the quota here is 16 MiB).
        const filled = fillUntil(() => Math.min(...dbSizes()) >= 6 * 1024 * 1024, "/bkp/multipart");
        expect(filled.refused).toBe(false);
        stack.setConfig({ backup: { keep: 3, s3: { ...s3Args, uploadCutoffMiB: 5 } } });
        const { leader, journal, name } = upThenBackup("backup: pulumi up (multipart above 5 MiB)");
        expect(journal).toContain("(rclone checked size and MD5)");
        // An S3 multipart object's ETag is "<md5 of the parts' md5s>-<parts>"; a single PUT's has no count.
        const etag = (key: string) => /^etag: "?([0-9a-f]{32}(?:-\d+)?)"?\r?$/im.exec(s3(["--fail", "--head", `${s3Url}/${BUCKET}/${key}`]).stdout)?.[1];
        const parts = /-(\d+)$/.exec(etag(`${PREFIX}${name}`) ?? "")?.[1];
        expect(Number(parts)).toBeGreaterThanOrEqual(2);
        const singlePut = s3Keys().find((k) => k.endsWith(".db") && k !== `${PREFIX}${name}`)!;
        expect(etag(singlePut)).toMatch(/^[0-9a-f]{32}$/); // the check can say no: an object of one PUT
        const { local, remote } = localAndRemote(leader, name, `${PREFIX}${name}`, "multipart");
        expect(fs.statSync(local).size).toBeGreaterThanOrEqual(6 * 1024 * 1024);
        expect(sha256(remote)).toBe(sha256(local));

        // Back to rclone's default cutoff, and the space those values took given back (the quota test comes later).
        stack.setConfig({ backup: { keep: 3, s3: s3Args } });
        stack.up("backup: pulumi up (default multipart cutoff)");
        for (let i = 0; i < N; i++) expect(sh(i, "cat /etc/etcd/backup-s3.env")).not.toContain("UPLOAD_CUTOFF");
        admin.must(endpoints, ["del", "--prefix", "/bkp/multipart/"]);
        admin.must(endpoints, ["compact", String(revision())]);
        for (const e of endpoints) admin.must([e], ["defrag"]);
        expect(Math.max(...dbSizes())).toBeLessThan(4 * 1024 * 1024);
    }, 15 * 60_000);

    it("3. restore from the uploaded snapshot: its keys back, later ones gone, revision bumped, healthy; up changes nothing", () => {
        for (let k = 0; k < 10; k++) admin.must(endpoints, ["put", `/bkp/restore/before-${k}`, `b${k}`]);
        run("sleep", ["1.1"]);
        const leader = leaderIndex();
        const backup = startUnit(leader, "etcd-backup.service");
        expectRun(backup, true);
        const snapRevision = Number(/\(revision (\d+),/.exec(backup.journal)![1]);
        const name = /saved \/var\/backups\/etcd\/(\S+\.db)/.exec(backup.journal)![1];
        for (let k = 0; k < 10; k++) admin.must(endpoints, ["put", `/bkp/restore/after-${k}`, `a${k}`]);
        admin.must(endpoints, ["put", "/bkp/first/0", "overwritten-after-the-snapshot"]);
        const clusterBefore = status()[0].Status.header.cluster_id;
        expect(revision()).toBeGreaterThan(snapRevision);

        // The quorum is lost: two of three members stopped, their data gone. No write is accepted.
        for (const i of [0, 1]) sh(i, `systemctl stop etcd.service && rm -rf ${DATA_DIR}`);
        const refused = admin.run(endpoints, ["put", "/bkp/restore/no-quorum", "x"]);
        expect(refused.status).not.toBe(0);

        const snapshot = path.join(stack.dir, "from-s3.db");
        expect(s3(["--fail", "-o", snapshot, `${s3Url}/${BUCKET}/${PREFIX}${name}`]).status).toBe(0);
        const members = path.join(stack.dir, "members.json");
        fs.writeFileSync(members, stack.pulumi(["stack", "output", "members", "--json"]).stdout);
        const restoreSh = () => run("bash", [path.join(REPO_ROOT, "scripts/restore.sh"), "--snapshot", snapshot, "--members-json", members,
            "--ssh-key", rig.sshPrivateKeyPath, "--ssh-option", "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null",
            "--ssh-option", "LogLevel=ERROR", "--health-timeout", "120", "--yes"], { timeout: 10 * 60_000 });

        // First attempt: the third member's etcdutl fails to restore, after the first two were restored and
        // every member was stopped. The script stops with the reason; the third data directory is untouched.
        sh(2, "mv /usr/local/bin/etcdutl /usr/local/bin/etcdutl.real && printf '#!/bin/sh\\n" +
            "if [ \"$2\" = restore ]; then echo simulated restore failure >&2; exit 1; fi\\nexec /usr/local/bin/etcdutl.real \"$@\"\\n' " +
            "> /usr/local/bin/etcdutl && chmod 0755 /usr/local/bin/etcdutl");
        const failed = restoreSh();
        logStep("backup: scripts/restore.sh (fails on the third member)", failed.seconds);
        expect(failed.status).not.toBe(0);
        expect(failed.stderr).toContain("simulated restore failure");
        expect(failed.stderr).toContain("etcdutl snapshot restore failed; the data directory was not touched");
        expect(sh(2, `ls -d ${DATA_DIR}.before-restore-* 2>/dev/null | wc -l`).trim()).toBe("0");
        expect(sh(0, "systemctl is-active etcd || true").trim()).toBe("inactive");
        // Disabled too: had a host rebooted now, etcd would not have come back on the data being replaced.
        expect(sh(0, "systemctl is-enabled etcd || true").trim()).toBe("disabled");
        sh(2, "mv -f /usr/local/bin/etcdutl.real /usr/local/bin/etcdutl");

        // Run again: it restores every member afresh from the snapshot and the cluster comes up.
        const restore = restoreSh();
        logStep("backup: scripts/restore.sh (again)", restore.seconds);
        if (restore.status !== 0) throw new Error(`restore.sh exited ${restore.status}\n${restore.stdout}\n${restore.stderr}`);
        expect(restore.stdout).toContain("every member started and healthy");

        // The snapshot's data, and nothing written after it.
        for (const e of endpoints) {
            expect(admin.must([e], ["get", "--consistency=s", "--print-value-only", "/bkp/restore/before-9"]).trim()).toBe("b9");
            expect(admin.must([e], ["get", "--consistency=s", "--print-value-only", "/bkp/first/0"]).trim()).toBe("v0");
            expect(admin.must([e], ["get", "--consistency=s", "--prefix", "--keys-only", "/bkp/restore/after-"]).trim()).toBe("");
        }
        // Revision bumped past anything a watcher saw; older revisions compacted; a new cluster.
        expect(revision()).toBeGreaterThanOrEqual(snapRevision + 1_000_000_000);
        const old = admin.run([endpoints[0]], ["get", `--rev=${snapRevision}`, "/bkp/first/0"]);
        expect(old.status).not.toBe(0);
        expect(old.stderr).toContain("required revision has been compacted");
        expect(status()[0].Status.header.cluster_id).not.toBe(clusterBefore);
        const list = JSON.parse(admin.must(endpoints, ["member", "list", "-w", "json"])).members;
        expect(list.map((m: any) => m.name).sort()).toEqual(rig.hosts.map((h) => h.name).sort());
        expect(JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"])).map((h: any) => h.health)).toEqual(Array(N).fill(true));
        for (let i = 0; i < N; i++) {
            const aside = sh(i, `ls -d ${DATA_DIR}.before-restore-*`).trim().split("\n");
            // Each: the first two had no data to put aside at the first run, only its restore at the second; the third kept its data at the first run.
            expect(aside).toHaveLength(1);
            for (const d of aside) expect(d).toMatch(new RegExp(`^${DATA_DIR}\\.before-restore-\\d{8}T\\d{6}Z$`));
            expect(sh(i, `stat -c '%a %U' ${DATA_DIR}`).trim()).toBe("700 etcd");
            expect(sh(i, "systemctl is-enabled etcd").trim()).toBe("enabled");
            expect(sh(i, "ls /var/lib").split("\n")).not.toContain("etcd"); // nothing went to the default data dir
        }
        admin.must(endpoints, ["put", "/bkp/restore/written-after-restore", "ok"]);
        // Nothing for Pulumi to change: the restored cluster is what the stack describes.
        expect(stack.previewSteps().filter((s) => s.op !== "same")).toEqual([]);
        stack.up("backup: pulumi up after restore (no changes)", ["--expect-no-changes"]);
        // And the scheduled backup works on the restored cluster.
        run("sleep", ["1.1"]);
        expectRun(startUnit(leaderIndex(), "etcd-backup.service"), true);
    }, 20 * 60_000);

    it("3b. quorum lost, recovered from the survivor's data: --force-new-cluster, the lost members re-join, 0 lost; up changes nothing", async () => {
        const survivor = 1;
        const lost = [0, 2]; // member 1 among them: the component's one-member steps must use another
        const members = path.join(stack.dir, "members.json");
        fs.writeFileSync(members, stack.pulumi(["stack", "output", "members", "--json"]).stdout);
        const fromMember = (name: string) => run("bash", [path.join(REPO_ROOT, "scripts/restore.sh"), "--from-member", name, "--members-json", members,
            "--ssh-key", rig.sshPrivateKeyPath, "--ssh-option", "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null",
            "--ssh-option", "LogLevel=ERROR", "--health-timeout", "120", "--yes"], { timeout: 10 * 60_000 });
        const survivorName = rig.hosts[survivor].name;
        const unitSha = () => sh(survivor, "sha256sum /etc/systemd/system/etcd.service").split(" ")[0];
        const unitBefore = unitSha();
        const clusterBefore = status()[0].Status.header.cluster_id;

        // With the quorum there, it refuses and changes nothing.
        const early = fromMember(survivorName);
        expect(early.status).not.toBe(0);
        expect(early.stderr).toContain(`refusing --from-member ${survivorName}: the cluster still has a quorum`);
        expect(JSON.parse(admin.must(endpoints, ["member", "list", "-w", "json"])).members).toHaveLength(N);

        // Writes acknowledged by the 3 members, then read back by every member after the recovery.
        const writer = new ContinuousWriter("quorum lost, recovered from the survivor's data", "/reliability/quorum-survivor", admin["binary"], endpoints, client, stack.dir);
        await writer.stop(3000);
        expectNoLoss(await writer.check(admin, endpoints, N, 30_000, "quorum lost: writes before the loss"));
        for (const i of lost) sh(i, `systemctl stop etcd.service && rm -rf ${DATA_DIR}`);
        expect(admin.run(endpoints, ["put", "/bkp/quorum/no-quorum", "x"]).status).not.toBe(0);

        // A lost member has no data to recover from: refused, named.
        const noData = fromMember(rig.hosts[0].name);
        expect(noData.status).not.toBe(0);
        expect(noData.stderr).toContain(`refusing --from-member ${rig.hosts[0].name}: ${rig.hosts[0].name} has no data (${DATA_DIR}/member/wal is missing or empty)`);

        const recovered = fromMember(survivorName);
        logStep("quorum lost: scripts/restore.sh --from-member", recovered.seconds);
        if (recovered.status !== 0) throw new Error(`restore.sh --from-member exited ${recovered.status}\n${recovered.stdout}\n${recovered.stderr}`);
        expect(recovered.stdout).toContain(`${survivorName} runs alone with its data, from its unit as the component wrote it`);
        const alone = JSON.parse(admin.must([endpoints[survivor]], ["member", "list", "-w", "json"])).members as any[];
        expect(alone.map((m) => m.name)).toEqual([survivorName]);
        // The same cluster (its ID kept), not a new one.
        expect(JSON.parse(admin.must([endpoints[survivor]], ["endpoint", "status", "-w", "json"]))[0].Status.header.cluster_id).toBe(clusterBefore);
        expect(unitSha()).toBe(unitBefore);
        expect(sh(survivor, "systemctl show -p DropInPaths --value etcd.service").trim()).toBe("");
        expect(sh(survivor, "ls /run/systemd/system/etcd.service.d 2>/dev/null | wc -l").trim()).toBe("0");
        admin.must([endpoints[survivor]], ["put", "/bkp/quorum/after-recovery", "ok"]);
        // Run again: nothing to do.
        const again = fromMember(survivorName);
        expect(again.status).toBe(0);
        expect(again.stdout).toContain(`${survivorName} already runs as a one-member cluster with its data; nothing to force`);

        // The lost members re-join: pulumi up --replace of their host generation steps.
        const urns = JSON.parse(stack.exportState()).deployment.resources.map((r: any) => r.urn as string)
            .filter((u: string) => lost.some((i) => u.endsWith(`-${rig.hosts[i].name}-host`)));
        expect(urns).toHaveLength(lost.length);
        stack.up("quorum lost: pulumi up --replace <the lost members' host steps>", urns.flatMap((u: string) => ["--replace", u]));
        const list = JSON.parse(admin.must(endpoints, ["member", "list", "-w", "json"])).members as any[];
        expect(list.map((m) => m.name).sort()).toEqual(rig.hosts.map((h) => h.name).sort());
        expect(list.every((m) => !m.isLearner)).toBe(true);
        const report = await writer.check(admin, endpoints, N, 60_000);
        expectNoLoss(report);
        for (const e of endpoints) {
            expect(admin.must([e], ["get", "--consistency=s", "--print-value-only", "/bkp/quorum/after-recovery"]).trim()).toBe("ok");
            expect(admin.must([e], ["get", "--consistency=s", "--print-value-only", "/bkp/restore/written-after-restore"]).trim()).toBe("ok");
        }
        expect(JSON.parse(admin.must(endpoints, ["endpoint", "health", "-w", "json"])).map((h: any) => h.health)).toEqual(Array(N).fill(true));
        stack.up("quorum lost: pulumi up after the re-joins (no changes)", ["--expect-no-changes"]);
    }, 20 * 60_000);

    it("4. the quota check fails at 80% and on NOSPACE; compact + defrag one member at a time + disarm, and it passes", async () => {
        const check = () => startUnit(0, "etcd-alarm-check.service");
        const ok = check();
        expectRun(ok, true);
        expect(ok.journal).toMatch(/ok: no alarm; backend \d+ bytes, \d+% of its quota of 16777216 bytes \(threshold 80%\)/);

        // Near the quota: the check fails on size alone (no alarm yet).
        const near = fillUntil(() => Math.max(...dbSizes()) >= 0.82 * QUOTA, "/bkp/fill-a");
        expect(near.refused).toBe(false);
        const sizes = dbSizes();
        const biggest = sizes.indexOf(Math.max(...sizes)); // members' files grow a little differently
        const warn = startUnit(biggest, "etcd-alarm-check.service");
        expectRun(warn, false);
        expect(warn.journal).toMatch(/FAILED: the backend is \d+ bytes, \d+% of its quota of 16777216 bytes \(threshold 80%\)/);
        expect(warn.journal).not.toContain("alarm active");
        expect(sh(biggest, "systemctl is-failed etcd-alarm-check.service || true").trim()).toBe("failed");

        // Over it: etcd raises NOSPACE and refuses writes; the check names the alarm, on every member.
        expect(fillUntil(() => false, "/bkp/fill-b").refused).toBe(true);
        expect(admin.must(endpoints, ["alarm", "list"])).toContain("alarm:NOSPACE");
        for (let i = 0; i < N; i++) {
            const r = startUnit(i, "etcd-alarm-check.service");
            expectRun(r, false);
            expect(r.journal).toContain("alarm active in the cluster");
            expect(r.journal).toContain("NOSPACE");
        }

        // Remedy: delete, compact to the current revision, defragment every member (one at a time), disarm.
        admin.must(endpoints, ["del", "--prefix", "/bkp/fill-"]);
        admin.must(endpoints, ["compact", String(revision())]);
        const before = dbSizes();
        const leader = leaderIndex();
        const starter = (leader + 1) % N; // an operator on a follower
        const defrag = startUnit(starter, "etcd-defrag.service");
        expectRun(defrag, true);
        expect(defrag.journal).toContain(`all ${N} members defragmented, one at a time`);
        const done = [...defrag.journal.matchAll(/(https:\/\/[\d.]+:2379) defragmented in \d+s: (\d+) -> (\d+) bytes/g)];
        expect(done.map((m) => m[1]).sort()).toEqual([...endpoints].sort());
        expect(done[N - 1][1]).toBe(endpoints[leader]); // the leader last
        expect(defrag.journal).toContain(`all ${N} members defragmented, one at a time`);
        dbSizes().forEach((size, i) => expect(size).toBeLessThan(before[i] / 2));
        expect(startUnit(0, "etcd-alarm-check.service").journal).toContain("alarm active in the cluster"); // until disarmed
        admin.must(endpoints, ["alarm", "disarm"]);
        expect(admin.must(endpoints, ["alarm", "list"]).trim()).toBe("");
        for (let i = 0; i < N; i++) {
            const passed = startUnit(i, "etcd-alarm-check.service");
            expectRun(passed, true);
            expect(passed.journal).toContain("ok: no alarm");
        }
        admin.must(endpoints, ["put", "/bkp/after-defrag", "writable"]);

        // Scheduled defragmentation: a no-op on followers; on the leader, the walk, while a client keeps writing.
        const follower = startUnit(starter, "etcd-defrag-scheduled.service");
        expectRun(follower, true);
        expect(follower.journal).toContain("not the leader");
        const writer = new ContinuousWriter("defragmentation walk", "/reliability/defrag", admin["binary"], endpoints, client, stack.dir);
        const onLeader = startUnit(leaderIndex(), "etcd-defrag-scheduled.service");
        const report = await writer.finish(admin, endpoints, N);
        expectRun(onLeader, true);
        expect(onLeader.journal).toContain(`all ${N} members defragmented`);
        expectNoLoss(report);
    }, 20 * 60_000);

    it("5. destroy removes the units and the S3 settings, and keeps the snapshots", () => {
        stack.destroy();
        destroyed = true;
        for (let i = 0; i < N; i++) {
            expect(sh(i, "ls /etc/systemd/system/etcd-backup.* /etc/systemd/system/etcd-defrag* /etc/systemd/system/etcd-alarm-check.* /usr/local/sbin/etcd-* /etc/etcd/backup-s3.env 2>/dev/null | wc -l").trim()).toBe("0");
            expect(sh(i, "systemctl list-timers --all --no-pager 'etcd-*' | grep -c etcd- || true").trim()).toBe("0");
        }
        expect(all((_, i) => scheduled(i).length).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }, 10 * 60_000);
});
