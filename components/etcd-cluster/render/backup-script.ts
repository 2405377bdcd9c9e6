// The scheduled backup, run by etcd-backup.service on every member as the etcd user: only the member that is
// the raft leader at that moment saves a snapshot (one per tick for the cluster), verifies it with etcdutl,
// keeps the newest N scheduled snapshots, and uploads it to S3-compatible storage when configured, with rclone
// (a maintained S3 client: signing, multipart above its cutoff, retries, hash checks). rclone's settings are
// RCLONE_CONFIG_<REMOTE>_<OPTION> lines in a 0600 file that the script reads as data (never sources) and
// exports: no credential is ever on a command line, and rclone runs without a config file.
import { HostLayout, METRICS_TEXTFILE_DIR, S3_ENV_FILE, SCHEDULED_PREFIX } from "./layout";
import { ETCDCTL_MTLS, header, localMemberVars, STATUS_LINES } from "./shell";
import { TEXTFILE_METRICS, TEXTFILE_NAMES, WRITE_TEXTFILE } from "./textfile-metrics";

export interface BackupScriptInput {
    /** The cluster's name: the etcd_cluster label of the metric it writes. */
    clusterName: string;
    memberName: string;
    layout: HostLayout;
    /** Scheduled snapshots kept on this host. */
    keep: number;
    /** Seconds `snapshot save` and the upload may take. */
    timeoutSeconds: number;
}

/** rclone remotes, by name: the S3 store, and the crypt remote that wraps it when a passphrase is set. */
export const RCLONE_S3_REMOTE = "etcds3";
export const RCLONE_CRYPT_REMOTE = "etcdcrypt";
/** The env file keys (besides RCLONE_CONFIG_*) the backup script reads: where to upload, the crypt passphrase. */
export const BACKUP_REMOTE_KEY = "ETCD_BACKUP_REMOTE";
export const BACKUP_PASSPHRASE_KEY = "ETCD_BACKUP_PASSPHRASE";

export interface S3Settings {
    endpoint: string;
    bucket: string;
    region: string;
    prefix: string;
    accessKeyId: string;
    secretAccessKey: string;
    serverSideEncryption?: "AES256" | "aws:kms";
    kmsKeyId?: string;
    /** Client-side encryption through rclone crypt; the script obscures it for rclone on the host. */
    encryptionPassphrase?: string;
    /** Above this size rclone uploads in parts (multipart). @default rclone's (200 MiB) */
    uploadCutoffMiB?: number;
}

/**
 * The env file text (sent over stdin): the s3 remote (and the crypt remote around it) as rclone variables, and
 * the remote path the script uploads into. Refuses values a line-based file cannot carry.
 */
export function renderS3Env(s3: S3Settings): string {
    const s3var = (option: string) => `RCLONE_CONFIG_${RCLONE_S3_REMOTE.toUpperCase()}_${option}`;
    const cryptVar = (option: string) => `RCLONE_CONFIG_${RCLONE_CRYPT_REMOTE.toUpperCase()}_${option}`;
    const folder = `${RCLONE_S3_REMOTE}:${s3.bucket}/${s3.prefix}`;
    const lines: [string, string][] = [
        [s3var("TYPE"), "s3"],
        [s3var("PROVIDER"), "Other"],
        [s3var("ENDPOINT"), s3.endpoint],
        [s3var("REGION"), s3.region],
        [s3var("FORCE_PATH_STYLE"), "true"],
        [s3var("ACCESS_KEY_ID"), s3.accessKeyId],
        [s3var("SECRET_ACCESS_KEY"), s3.secretAccessKey],
        // The bucket exists (the docs ask for it); the keys need no right to create or list buckets.
        [s3var("NO_CHECK_BUCKET"), "true"],
    ];
    if (s3.serverSideEncryption) lines.push([s3var("SERVER_SIDE_ENCRYPTION"), s3.serverSideEncryption]);
    if (s3.kmsKeyId) lines.push([s3var("SSE_KMS_KEY_ID"), s3.kmsKeyId]);
    if (s3.uploadCutoffMiB !== undefined) lines.push([s3var("UPLOAD_CUTOFF"), `${s3.uploadCutoffMiB}Mi`]);
    if (s3.encryptionPassphrase !== undefined) {
        lines.push(
            [cryptVar("TYPE"), "crypt"],
            // crypt wraps a folder; the validation made the prefix "" or end in '/'.
            [cryptVar("REMOTE"), folder.replace(/\/$/, "")],
            // Readable names (plus ".bin"), so that an operator finds a snapshot by its time and member.
            [cryptVar("FILENAME_ENCRYPTION"), "off"],
            [cryptVar("DIRECTORY_NAME_ENCRYPTION"), "false"],
            [BACKUP_REMOTE_KEY, `${RCLONE_CRYPT_REMOTE}:`],
            [BACKUP_PASSPHRASE_KEY, s3.encryptionPassphrase],
        );
    } else {
        lines.push([BACKUP_REMOTE_KEY, folder]);
    }
    for (const [key, value] of lines) {
        // eslint-disable-next-line no-control-regex
        if (/[\x00-\x1f\x7f]/.test(value)) throw new Error(`backup.s3: ${key} contains a control character or a line break`);
        if (value.length === 0) throw new Error(`backup.s3: ${key} is empty`);
    }
    return lines.map(([k, v]) => `${k}=${v}\n`).join("");
}

const CRYPT_PASSWORD_VAR = `RCLONE_CONFIG_${RCLONE_CRYPT_REMOTE.toUpperCase()}_PASSWORD`;

/**
 * Step 4 of the backup: the upload, when the S3 env file exists; either way it ends with
 * \`backup_succeeded\` once the snapshot is where it should be. Needs MEMBER, SNAPSHOT_DIR, name, TIMEOUT,
 * S3_ENV_FILE and that function. Exported so that a test runs it against a recording rclone.
 */
export const UPLOAD_STEP = `# 4. Upload when configured, with rclone. Its settings are read as data and exported (RCLONE_CONFIG_* of the
#    remotes): nothing secret on a command line. Never raise rclone's log level to DEBUG: it prints the options,
#    secret key included.
if [ ! -f "$S3_ENV_FILE" ]; then
  backup_succeeded
  exit 0
fi
remote="" passphrase=""
while IFS= read -r line || [ -n "$line" ]; do
  key=\${line%%=*}
  value=\${line#*=}
  case "$key" in
    RCLONE_CONFIG_*) export "$key=$value" ;;
    ${BACKUP_REMOTE_KEY}) remote=$value ;;
    ${BACKUP_PASSPHRASE_KEY}) passphrase=$value ;;
  esac
done <"$S3_ENV_FILE"
if [ -z "$remote" ]; then
  echo "etcd-backup on $MEMBER: $S3_ENV_FILE lacks ${BACKUP_REMOTE_KEY}; the snapshot is kept locally but not uploaded" >&2
  exit 1
fi
if ! command -v rclone >/dev/null; then
  echo "etcd-backup on $MEMBER: rclone is not installed (the maintenance step installs it); the snapshot is kept locally" >&2
  exit 1
fi
export RCLONE_CONFIG=/dev/null # every setting comes from the environment
if [ -n "$passphrase" ]; then
  # crypt wants the password obscured; rclone obscure reads it from stdin (printf is a builtin: not in argv).
  ${CRYPT_PASSWORD_VAR}=$(printf '%s\\n' "$passphrase" | rclone obscure -)
  export ${CRYPT_PASSWORD_VAR}
fi
# Bounded: a few retries of the whole copy and of each request, connect and idle timeouts, and a deadline.
# The destination is not looked up first (the name is new), so an error is the upload's own.
rclone_opts=(--log-level NOTICE --retries 3 --low-level-retries 5 --contimeout 10s --timeout 60s)
if ! timeout --kill-after=10 "$TIMEOUT" rclone copyto "\${rclone_opts[@]}" --no-check-dest "$SNAPSHOT_DIR/$name" "$remote$name"; then
  echo "etcd-backup on $MEMBER: upload of $name to $remote failed (rclone's error above); the snapshot is kept locally" >&2
  exit 1
fi
# copyto compared the stored object's size, and its MD5 where the store gives one (the ETag of a single-part
# upload, the MD5 rclone records with a multipart one), with the file's. A crypt object has no hash of the clear
# text: cryptcheck encrypts the local file with the object's nonce and compares that MD5 with the stored one.
if [ -n "$passphrase" ]; then
  if ! timeout --kill-after=10 "$TIMEOUT" rclone cryptcheck "\${rclone_opts[@]}" "$SNAPSHOT_DIR/$name" "$remote"; then
    echo "etcd-backup on $MEMBER: the encrypted object $remote$name does not match $name (rclone cryptcheck above)" >&2
    exit 1
  fi
  echo "etcd-backup on $MEMBER: uploaded $name to $remote$name, encrypted on this host (cryptcheck: contents match)"
else
  echo "etcd-backup on $MEMBER: uploaded $name to $remote$name (rclone checked size and MD5)"
fi
backup_succeeded
`;

/**
 * \`backup_succeeded\`: writes the time of this success for Prometheus (EtcdBackupTooOld reads it). Needs
 * CLUSTER, MEMBER, METRICS_DIR and \`write_textfile\`. Exported so that a test runs it.
 */
export const BACKUP_SUCCEEDED = `# The time of this success for Prometheus (the alert on the newest backup's age reads it).
backup_succeeded() {
  printf '%s\\n' \\
    "# HELP ${TEXTFILE_METRICS.backupLastSuccess} Unix time of the newest snapshot this member saved, verified and uploaded." \\
    "# TYPE ${TEXTFILE_METRICS.backupLastSuccess} gauge" \\
    "${TEXTFILE_METRICS.backupLastSuccess}{etcd_cluster=\\"$CLUSTER\\",etcd_member=\\"$MEMBER\\"} $(date +%s)" |
    write_textfile ${TEXTFILE_NAMES.backup}
}
`;

export function backupScript(input: BackupScriptInput): string {
    const { layout } = input;
    return header("etcd-backup: scheduled snapshot of the cluster", {
        CLUSTER: input.clusterName,
        ...localMemberVars(input.memberName, layout),
        SNAPSHOT_DIR: layout.snapshotDir,
        METRICS_DIR: METRICS_TEXTFILE_DIR,
        KEEP: input.keep,
        TIMEOUT: input.timeoutSeconds,
        S3_ENV_FILE,
        SCHEDULED_PREFIX,
        ETCDUTL: layout.links.etcdutl,
    }) + BACKUP_BODY;
}

const BACKUP_BODY = `# Usage: etcd-backup [--any-member]   (--any-member: take the snapshot even when this member is not the leader)
${ETCDCTL_MTLS}${STATUS_LINES}${WRITE_TEXTFILE}
${BACKUP_SUCCEEDED}
any_member=0
case "\${1:-}" in
  --any-member) any_member=1 ;;
  "") ;;
  *) echo "usage: etcd-backup [--any-member]" >&2; exit 2 ;;
esac

# 1. Only the leader saves the scheduled snapshot, so the cluster gets one per tick, not one per member.
status=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" endpoint status -w fields | status_lines)
read -r _ member_id leader_id _ _ <<<"$status"
if [ -z "\${member_id:-}" ]; then
  echo "etcd-backup on $MEMBER: cannot read the status of the local member" >&2
  exit 1
fi
if [ "$any_member" = 0 ] && [ "$member_id" != "$leader_id" ]; then
  echo "etcd-backup on $MEMBER: not the leader (leader id $leader_id); the leader takes the scheduled snapshot"
  exit 0
fi

# 2. Save, then verify with etcdutl before the snapshot gets its final name.
umask 077
name="$SCHEDULED_PREFIX$(date -u +%Y%m%dT%H%M%SZ)-$MEMBER.db"
incoming="$SNAPSHOT_DIR/.incoming-$name"
cleanup() { rm -f "$incoming" "$incoming.part"; }
trap cleanup EXIT
etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" --command-timeout="\${TIMEOUT}s" snapshot save "$incoming" >/dev/null
if ! verified=$("$ETCDUTL" snapshot status -w fields "$incoming"); then
  echo "etcd-backup on $MEMBER: etcdutl cannot read the snapshot it just saved; not keeping it" >&2
  exit 1
fi
field() { awk -F' : ' -v k="\\"$1\\"" '$1 == k { print $2 }' <<<"$verified"; }
revision=$(field Revision)
keys=$(field Keys)
hash=$(field Hash)
mv "$incoming" "$SNAPSHOT_DIR/$name"
size=$(stat -c %s "$SNAPSHOT_DIR/$name")
echo "etcd-backup on $MEMBER: saved $SNAPSHOT_DIR/$name (revision $revision, $keys keys, $size bytes, hash $hash)"

# 3. Keep the newest $KEEP scheduled snapshots; pre-upgrade snapshots and anything else are left alone.
mapfile -t scheduled < <(find "$SNAPSHOT_DIR" -maxdepth 1 -type f -name "$SCHEDULED_PREFIX*.db" -printf '%f\\n' | LC_ALL=C sort)
excess=$(( \${#scheduled[@]} - KEEP ))
for ((i = 0; i < excess; i++)); do
  rm -f -- "\${SNAPSHOT_DIR:?}/\${scheduled[$i]}"
  echo "etcd-backup on $MEMBER: pruned \${scheduled[$i]}"
done

${UPLOAD_STEP}`;
