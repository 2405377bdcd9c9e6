// The scheduled backup, run by etcd-backup.service on every member as the etcd user: only the member that is
// the raft leader at that moment saves a snapshot (one per tick for the cluster), verifies it with etcdutl,
// keeps the newest N scheduled snapshots, and uploads it to S3-compatible storage when configured. The S3
// settings are read from a 0600 file as data (never sourced, never on a command line). Requests are signed with
// AWS Signature V4 by the script itself (HMAC-SHA256 from sha256sum, so any curl and no S3 client will do; curl's
// own --aws-sigv4 signs an uploaded file's payload only from 7.87 on, and Ubuntu 22.04 has 7.81); the signed
// headers reach curl through its config on stdin, never on a command line.
import { HostLayout, S3_ENV_FILE, SCHEDULED_PREFIX } from "./layout";
import { ETCDCTL_MTLS, header, localMemberVars, STATUS_LINES } from "./shell";

export interface BackupScriptInput {
    memberName: string;
    layout: HostLayout;
    /** Scheduled snapshots kept on this host. */
    keep: number;
    /** Seconds `snapshot save` and the upload may take. */
    timeoutSeconds: number;
}

/** The S3 env file's keys, in the order the renderer writes them. */
export const S3_ENV_KEYS = ["S3_ENDPOINT", "S3_BUCKET", "S3_REGION", "S3_PREFIX", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] as const;

export interface S3Settings {
    endpoint: string;
    bucket: string;
    region: string;
    prefix: string;
    accessKeyId: string;
    secretAccessKey: string;
}

/** The env file text (sent over stdin). Refuses values a line-based file cannot carry. */
export function renderS3Env(s3: S3Settings): string {
    const values = [s3.endpoint, s3.bucket, s3.region, s3.prefix, s3.accessKeyId, s3.secretAccessKey];
    values.forEach((v, i) => {
        // eslint-disable-next-line no-control-regex
        if (/[\x00-\x1f\x7f]/.test(v)) throw new Error(`backup.s3: ${S3_ENV_KEYS[i]} contains a control character or a line break`);
        if (i >= 4 && v.length === 0) throw new Error(`backup.s3: ${S3_ENV_KEYS[i]} is empty`);
    });
    return S3_ENV_KEYS.map((k, i) => `${k}=${values[i]}\n`).join("");
}

/**
 * Bash functions for AWS Signature V4 (S3, header-based, single chunk), with no tool beyond coreutils:
 * \`hmac_sha256 KEYHEX\` (message on stdin; hex digest out) and
 * \`sigv4_headers METHOD ENDPOINT PATH PAYLOAD_SHA256 REGION ACCESS_KEY SECRET_KEY\`, which prints curl config
 * lines (\`header = "…"\`) for Host, x-amz-date, x-amz-content-sha256 and Authorization. PATH must need no
 * percent-encoding (the bucket and prefix rules and member names ensure it). Bytes go through printf (a builtin)
 * into sha256sum's stdin: the secret is never on a command line. SIGV4_DATE (YYYYmmddTHHMMSSZ) fixes the time
 * for tests.
 */
export const SIGV4_FUNCTIONS = `hex_to_escapes() {
  local hex=$1 out="" i
  for ((i = 0; i < \${#hex}; i += 2)); do out+="\\\\x\${hex:i:2}"; done
  printf '%s' "$out"
}
hmac_sha256() {
  local key=$1 ipad="" opad="" i byte x digest
  if [ "\${#key}" -gt 128 ]; then
    digest=$(printf '%b' "$(hex_to_escapes "$key")" | sha256sum)
    key=\${digest%% *}
  fi
  while [ "\${#key}" -lt 128 ]; do key+=00; done
  for ((i = 0; i < 128; i += 2)); do
    byte=$((16#\${key:i:2}))
    printf -v x '\\\\x%02x' $((byte ^ 0x36))
    ipad+=$x
    printf -v x '\\\\x%02x' $((byte ^ 0x5c))
    opad+=$x
  done
  digest=$({ printf '%b' "$ipad"; cat; } | sha256sum)
  digest=\${digest%% *}
  digest=$({ printf '%b' "$opad"; printf '%b' "$(hex_to_escapes "$digest")"; } | sha256sum)
  printf '%s\\n' "\${digest%% *}"
}
text_to_hex() {
  local text=$1 out="" i x
  for ((i = 0; i < \${#text}; i++)); do printf -v x '%02x' "'\${text:i:1}"; out+=$x; done
  printf '%s' "$out"
}
sigv4_headers() {
  local method=$1 endpoint=$2 path=$3 payload=$4 region=$5 access_key=$6 secret_key=$7
  local host amz_date day scope signed canonical request_hash key signature
  host=\${endpoint#*://}
  host=\${host%%/*}
  amz_date=\${SIGV4_DATE:-$(date -u +%Y%m%dT%H%M%SZ)}
  day=\${amz_date%%T*}
  scope="$day/$region/s3/aws4_request"
  signed="host;x-amz-content-sha256;x-amz-date"
  canonical=$(printf '%s\\n%s\\n\\nhost:%s\\nx-amz-content-sha256:%s\\nx-amz-date:%s\\n\\n%s\\n%s' \\
    "$method" "$path" "$host" "$payload" "$amz_date" "$signed" "$payload")
  request_hash=$(printf '%s' "$canonical" | sha256sum)
  request_hash=\${request_hash%% *}
  key=$(LC_ALL=C text_to_hex "AWS4$secret_key")
  key=$(printf '%s' "$day" | hmac_sha256 "$key")
  key=$(printf '%s' "$region" | hmac_sha256 "$key")
  key=$(printf '%s' "s3" | hmac_sha256 "$key")
  key=$(printf '%s' "aws4_request" | hmac_sha256 "$key")
  signature=$(printf 'AWS4-HMAC-SHA256\\n%s\\n%s\\n%s' "$amz_date" "$scope" "$request_hash" | hmac_sha256 "$key")
  printf 'header = "Host: %s"\\n' "$host"
  printf 'header = "x-amz-date: %s"\\n' "$amz_date"
  printf 'header = "x-amz-content-sha256: %s"\\n' "$payload"
  printf 'header = "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"\\n' \\
    "$access_key" "$scope" "$signed" "$signature"
}
`;

export function backupScript(input: BackupScriptInput): string {
    const { layout } = input;
    return header("etcd-backup: scheduled snapshot of the cluster", {
        ...localMemberVars(input.memberName, layout),
        SNAPSHOT_DIR: layout.snapshotDir,
        KEEP: input.keep,
        TIMEOUT: input.timeoutSeconds,
        S3_ENV_FILE,
        SCHEDULED_PREFIX,
        ETCDUTL: layout.links.etcdutl,
    }) + BACKUP_BODY;
}

const BACKUP_BODY = `# Usage: etcd-backup [--any-member]   (--any-member: take the snapshot even when this member is not the leader)
${ETCDCTL_MTLS}${STATUS_LINES}${SIGV4_FUNCTIONS}
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
body=""
cleanup() { rm -f "$incoming" "$incoming.part"; if [ -n "$body" ]; then rm -f "$body"; fi; }
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

# 4. Upload when configured. The settings are read as data; the credentials reach curl on its stdin.
if [ ! -f "$S3_ENV_FILE" ]; then
  exit 0
fi
endpoint="" bucket="" region="" prefix="" access_key="" secret_key=""
while IFS= read -r line || [ -n "$line" ]; do
  value=\${line#*=}
  case "\${line%%=*}" in
    S3_ENDPOINT) endpoint=$value ;;
    S3_BUCKET) bucket=$value ;;
    S3_REGION) region=$value ;;
    S3_PREFIX) prefix=$value ;;
    S3_ACCESS_KEY_ID) access_key=$value ;;
    S3_SECRET_ACCESS_KEY) secret_key=$value ;;
  esac
done <"$S3_ENV_FILE"
if [ -z "$endpoint" ] || [ -z "$bucket" ] || [ -z "$region" ] || [ -z "$access_key" ] || [ -z "$secret_key" ]; then
  echo "etcd-backup on $MEMBER: $S3_ENV_FILE lacks a setting; the snapshot is kept locally but not uploaded" >&2
  exit 1
fi
sha256=$(sha256sum "$SNAPSHOT_DIR/$name")
sha256=\${sha256%% *}
md5=$(md5sum "$SNAPSHOT_DIR/$name")
md5=\${md5%% *}
url="\${endpoint%/}/$bucket/$prefix$name"
body=$(mktemp)
# The server checks the payload against x-amz-content-sha256, which the signature covers.
if ! headers=$(sigv4_headers PUT "$endpoint" "/$bucket/$prefix$name" "$sha256" "$region" "$access_key" "$secret_key" |
    curl --silent --show-error --fail-with-body --config - --retry 3 --connect-timeout 10 --max-time "$TIMEOUT" \\
      --upload-file "$SNAPSHOT_DIR/$name" --dump-header - --output "$body" "$url"); then
  echo "etcd-backup on $MEMBER: upload of $name to $url failed; the snapshot is kept locally. The server said:" >&2
  head -c 2000 "$body" >&2 || true
  echo >&2
  exit 1
fi
etag=$(sed -n -E 's/^[Ee][Tt][Aa][Gg]: *"?([0-9a-fA-F]{32})"?.*/\\1/p' <<<"$headers" | tail -n 1)
if [ -n "$etag" ] && [ "\${etag,,}" != "$md5" ]; then
  echo "etcd-backup on $MEMBER: $url has ETag $etag, but the snapshot's MD5 is $md5; the upload is not intact" >&2
  exit 1
fi
echo "etcd-backup on $MEMBER: uploaded $name to $url (sha256 $sha256\${etag:+, ETag matches the MD5})"
`;
