// The backend check, run by etcd-alarm-check.timer on every member: fails (non-zero exit, so the unit shows
// as failed, with the reason in the journal) while any alarm is active in the cluster (NOSPACE, CORRUPT) or
// while this member's backend has reached the warning share of its quota, or while a certificate under the
// PKI directory expires within the stated number of days (leaves renew only when someone runs `pulumi up`).
import { CERTIFICATE_ENDS, CERTIFICATE_EXPIRY_METRICS, EXPIRING_CERTIFICATES } from "./cert-expiry";
import { HostLayout, METRICS_TEXTFILE_DIR, PKI_DIR } from "./layout";
import { ETCDCTL_MTLS, header, localMemberVars, STATUS_LINES } from "./shell";
import { TEXTFILE_NAMES, WRITE_TEXTFILE } from "./textfile-metrics";

export interface AlarmScriptInput {
    /** The cluster's name: the etcd_cluster label of the metrics it writes. */
    clusterName: string;
    memberName: string;
    layout: HostLayout;
    /** `--quota-backend-bytes` as rendered; used when the member does not report its quota (etcd 3.5). */
    quotaBackendBytes: number;
    /** Fail at or above this share of the quota, in percent. */
    warnPercent: number;
    /** Fail while a certificate under the PKI directory expires within this many days. */
    certificateWarnDays: number;
}

export function alarmScript(input: AlarmScriptInput): string {
    return header("etcd-alarm-check: active alarms and backend size vs quota", {
        CLUSTER: input.clusterName,
        ...localMemberVars(input.memberName, input.layout),
        METRICS_DIR: METRICS_TEXTFILE_DIR,
        CONFIGURED_QUOTA: input.quotaBackendBytes,
        WARN_PERCENT: input.warnPercent,
        PKI_DIR,
        CERT_WARN_DAYS: input.certificateWarnDays,
    }) + ALARM_BODY;
}

const ALARM_BODY = `${ETCDCTL_MTLS}${STATUS_LINES}${CERTIFICATE_ENDS}${EXPIRING_CERTIFICATES}${CERTIFICATE_EXPIRY_METRICS}${WRITE_TEXTFILE}
# The certificates, read once: their expiry for Prometheus first (true whether or not etcd answers), then the
# expiry check below.
certificates_read=1
ends=$(certificate_ends "$PKI_DIR") || certificates_read=0
if [ "$certificates_read" = 1 ]; then certificate_expiry_metrics <<<"$ends" | write_textfile ${TEXTFILE_NAMES.certificates}; fi
if ! fields=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" endpoint status -w fields 2>&1); then
  echo "etcd-alarm-check on $MEMBER: FAILED: the local etcd member does not answer: $fields" >&2
  exit 1
fi
read -r _ _ _ size quota <<<"$(status_lines <<<"$fields")"
if [ -z "\${size:-}" ]; then
  echo "etcd-alarm-check on $MEMBER: FAILED: cannot read the backend size of the local member" >&2
  exit 1
fi
if [ "\${quota:-0}" -le 0 ]; then quota=$CONFIGURED_QUOTA; fi
percent=$(( size * 100 / quota ))
problems=0
alarms=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" alarm list)
if [ -n "$alarms" ]; then
  echo "etcd-alarm-check on $MEMBER: FAILED: alarm active in the cluster: \${alarms//$'\\n'/; }" >&2
  echo "  NOSPACE: free space (delete keys, compact to the current revision, then systemctl start etcd-defrag.service)," >&2
  echo "  then clear it with: etcdctl alarm disarm. See docs/operations.md." >&2
  problems=1
fi
if [ "$percent" -ge "$WARN_PERCENT" ]; then
  echo "etcd-alarm-check on $MEMBER: FAILED: the backend is $size bytes, $percent% of its quota of $quota bytes (threshold $WARN_PERCENT%)." >&2
  echo "  At 100% etcd raises NOSPACE and refuses writes. Compact, then defragment (systemctl start etcd-defrag.service)," >&2
  echo "  or raise tuning.quotaBackendBytes. See docs/operations.md." >&2
  problems=1
fi
if [ "$certificates_read" = 0 ]; then
  echo "etcd-alarm-check on $MEMBER: FAILED: cannot read the certificates under $PKI_DIR (the reason is above)" >&2
  problems=1
elif ! expiring=$(expiring_certificates "$CERT_WARN_DAYS" <<<"$ends"); then
  echo "etcd-alarm-check on $MEMBER: FAILED: certificates expire soon: \${expiring//$'\\n'/; }." >&2
  echo "  Run pulumi up: it renews member and client certificates from pki.earlyRenewalHours before they expire." >&2
  echo "  A CA is renewed by a CA rotation (pki.activeCa / pki.trustedCas). See docs/operations.md." >&2
  problems=1
fi
if [ "$problems" = 1 ]; then exit 1; fi
echo "etcd-alarm-check on $MEMBER: ok: no alarm; backend $size bytes, $percent% of its quota of $quota bytes (threshold $WARN_PERCENT%); no certificate expires within $CERT_WARN_DAYS days"
`;
