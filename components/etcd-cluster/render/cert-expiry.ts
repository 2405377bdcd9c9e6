// Bash that reads the certificates under a directory: leaf certificates are renewed only when someone runs
// `pulumi up`, so the hosts must say when that is due rather than fail one day in the TLS handshake. The
// alarm check reads them once, writes every expiry as a metric for Prometheus and fails on the ones about to
// expire.
import { TEXTFILE_METRICS } from "./textfile-metrics";

/**
 * `certificate_ends DIR`: one tab-separated line per certificate in DIR/*.crt (every certificate of a bundle,
 * not only the first): file, its number in the file, notAfter in epoch seconds, notAfter as openssl prints
 * it, subject. Returns 1 when openssl is missing (a dependency of ca-certificates on Debian and Ubuntu).
 */
export const CERTIFICATE_ENDS = `certificate_ends() {
  local dir=$1 file line pem n end subject
  if ! command -v openssl >/dev/null; then
    echo "cannot read certificates: openssl is not installed (apt-get install openssl)" >&2
    return 1
  fi
  for file in "$dir"/*.crt; do
    [ -e "$file" ] || continue
    pem=""
    n=0
    while IFS= read -r line; do
      pem+="$line"$'\\n'
      if [ "$line" = "-----END CERTIFICATE-----" ]; then
        n=$((n + 1))
        end=$(openssl x509 -noout -enddate <<<"$pem")
        end=\${end#notAfter=}
        subject=$(openssl x509 -noout -subject -nameopt oneline <<<"$pem")
        printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$file" "$n" "$(date -u -d "$end" +%s)" "$end" "\${subject#subject=}"
        pem=""
      fi
    done <"$file"
  done
}
`;

/**
 * `expiring_certificates DAYS`, fed `certificate_ends` lines on stdin: prints one line per certificate that
 * expires within DAYS days, and returns 1 when it printed any.
 */
export const EXPIRING_CERTIFICATES = `expiring_certificates() {
  local days=$1 limit file n end end_text subject found=0
  limit=$(( $(date +%s) + days * 86400 ))
  while IFS=$'\\t' read -r file n end end_text subject; do
    [ -n "$file" ] || continue
    if [ "$end" -le "$limit" ]; then
      echo "$file (certificate $n, $subject) expires $end_text, within $days days"
      found=1
    fi
  done
  return "$found"
}
`;

/**
 * `certificate_expiry_metrics`, fed `certificate_ends` lines on stdin: every certificate's notAfter in
 * Prometheus's text format, labelled with CLUSTER, MEMBER, the file and the certificate's number in it.
 */
export const CERTIFICATE_EXPIRY_METRICS = `certificate_expiry_metrics() {
  local file n end _
  echo "# HELP ${TEXTFILE_METRICS.certificateExpiry} notAfter of each certificate under the etcd PKI directory."
  echo "# TYPE ${TEXTFILE_METRICS.certificateExpiry} gauge"
  while IFS=$'\\t' read -r file n end _; do
    [ -n "$file" ] || continue
    echo "${TEXTFILE_METRICS.certificateExpiry}{etcd_cluster=\\"$CLUSTER\\",etcd_member=\\"$MEMBER\\",file=\\"$file\\",certificate=\\"$n\\"} $end"
  done
}
`;
