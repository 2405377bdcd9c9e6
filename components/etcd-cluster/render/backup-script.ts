// The scheduled backup, run by etcd-backup.service on every member as the etcd user: only the member that is
// the raft leader at that moment saves a snapshot (one per tick for the cluster), verifies it with etcdutl,
// keeps the newest N scheduled snapshots, and uploads it to S3-compatible storage when configured. The S3
// settings are read from a 0600 file as data (never sourced, never on a command line): curl gets the
// credentials through its config on stdin and signs with --aws-sigv4.
import {
    ETCDUTL, LOCAL_CLIENT_URL, maintenanceEtcdctl, S3_ENV_FILE, SCHEDULED_PREFIX, statusLinesFunction,
} from "./maintenance-layout";
import { SCRIPT_HEADER, shellQuote } from "./shell";

export interface BackupScriptInput {
    memberName: string;
    snapshotDir: string;
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

export function backupScript(input: BackupScriptInput): string {
    return `${SCRIPT_HEADER}# etcd-backup (managed by the EtcdCluster Pulumi component): scheduled snapshot of the cluster.
# Usage: etcd-backup [--any-member]   (--any-member: take the snapshot even when this member is not the leader)
member=${shellQuote(input.memberName)}
dir=${shellQuote(input.snapshotDir)}
keep=${input.keep}
timeout=${input.timeoutSeconds}
env_file=${shellQuote(S3_ENV_FILE)}
local_url=${shellQuote(LOCAL_CLIENT_URL)}
${maintenanceEtcdctl()}${statusLinesFunction()}
any_member=0
case "\${1:-}" in
  --any-member) any_member=1 ;;
  "") ;;
  *) echo "usage: etcd-backup [--any-member]" >&2; exit 2 ;;
esac

# 1. Only the leader saves the scheduled snapshot, so the cluster gets one per tick, not one per member.
status=$(etcdctl_mtls --endpoints="$local_url" endpoint status -w fields | status_lines)
read -r _ member_id leader_id _ _ <<<"$status"
if [ -z "\${member_id:-}" ]; then
  echo "etcd-backup on $member: cannot read the status of the local member" >&2
  exit 1
fi
if [ "$any_member" = 0 ] && [ "$member_id" != "$leader_id" ]; then
  echo "etcd-backup on $member: not the leader (leader id $leader_id); the leader takes the scheduled snapshot"
  exit 0
fi

# 2. Save, then verify with etcdutl before the snapshot gets its final name.
umask 077
name="${SCHEDULED_PREFIX}$(date -u +%Y%m%dT%H%M%SZ)-$member.db"
incoming="$dir/.incoming-$name"
body=""
cleanup() { rm -f "$incoming" "$incoming.part"; if [ -n "$body" ]; then rm -f "$body"; fi; }
trap cleanup EXIT
etcdctl_mtls --endpoints="$local_url" --command-timeout="\${timeout}s" snapshot save "$incoming" >/dev/null
if ! verified=$(${ETCDUTL} snapshot status -w fields "$incoming"); then
  echo "etcd-backup on $member: etcdutl cannot read the snapshot it just saved; not keeping it" >&2
  exit 1
fi
field() { awk -F' : ' -v k="\\"$1\\"" '$1 == k { print $2 }' <<<"$verified"; }
revision=$(field Revision)
keys=$(field Keys)
hash=$(field Hash)
mv "$incoming" "$dir/$name"
size=$(stat -c %s "$dir/$name")
echo "etcd-backup on $member: saved $dir/$name (revision $revision, $keys keys, $size bytes, hash $hash)"

# 3. Keep the newest $keep scheduled snapshots; pre-upgrade snapshots and anything else are left alone.
mapfile -t scheduled < <(find "$dir" -maxdepth 1 -type f -name '${SCHEDULED_PREFIX}*.db' -printf '%f\\n' | LC_ALL=C sort)
excess=$(( \${#scheduled[@]} - keep ))
for ((i = 0; i < excess; i++)); do
  rm -f -- "\${dir:?}/\${scheduled[$i]}"
  echo "etcd-backup on $member: pruned \${scheduled[$i]}"
done

# 4. Upload when configured. The settings are read as data; the credentials reach curl on its stdin.
if [ ! -f "$env_file" ]; then
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
done <"$env_file"
if [ -z "$endpoint" ] || [ -z "$bucket" ] || [ -z "$region" ] || [ -z "$access_key" ] || [ -z "$secret_key" ]; then
  echo "etcd-backup on $member: $env_file lacks a setting; the snapshot is kept locally but not uploaded" >&2
  exit 1
fi
curl_user() {
  local user="$access_key:$secret_key"
  user=\${user//\\\\/\\\\\\\\}
  user=\${user//\\"/\\\\\\"}
  printf 'user = "%s"\\n' "$user"
}
sha256=$(sha256sum "$dir/$name")
sha256=\${sha256%% *}
md5=$(md5sum "$dir/$name")
md5=\${md5%% *}
url="\${endpoint%/}/$bucket/$prefix$name"
body=$(mktemp)
# The server checks the payload against x-amz-content-sha256, which the signature covers.
if ! headers=$(curl_user | curl --silent --show-error --fail-with-body --config - --aws-sigv4 "aws:amz:$region:s3" \\
    --retry 3 --connect-timeout 10 --max-time "$timeout" -H "x-amz-content-sha256: $sha256" \\
    --upload-file "$dir/$name" --dump-header - --output "$body" "$url"); then
  echo "etcd-backup on $member: upload of $name to $url failed; the snapshot is kept locally. The server said:" >&2
  head -c 2000 "$body" >&2 || true
  echo >&2
  exit 1
fi
etag=$(sed -n -E 's/^[Ee][Tt][Aa][Gg]: *"?([0-9a-fA-F]{32})"?.*/\\1/p' <<<"$headers" | tail -n 1)
if [ -n "$etag" ] && [ "\${etag,,}" != "$md5" ]; then
  echo "etcd-backup on $member: $url has ETag $etag, but the snapshot's MD5 is $md5; the upload is not intact" >&2
  exit 1
fi
echo "etcd-backup on $member: uploaded $name to $url (sha256 $sha256\${etag:+, ETag matches the MD5})"
`;
}
