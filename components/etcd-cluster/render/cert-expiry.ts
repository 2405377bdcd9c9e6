// Bash that reads the certificates under a directory: leaf certificates are renewed only when someone runs
// `pulumi up`, so the hosts must say when that is due rather than fail one day in the TLS handshake. The
// alarm check fails on the ones about to expire, and writes every expiry as a metric for Prometheus.
import { TEXTFILE_METRICS } from "./textfile-metrics";

/**
 * `certificate_ends DIR`: one tab-separated line per certificate in DIR/*.crt (every certificate of a bundle,
 * not only the first): file, its number in the file, notAfter in epoch seconds, notAfter as openssl prints
 * it, subject. Returns 1 when openssl is missing (a dependency of ca-certificates on Debian and Ubuntu).
 */
const CERTIFICATE_ENDS = `certificate_ends() {
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
 * A bash function `expiring_certificates DIR DAYS` that prints one line per certificate in DIR/*.crt that
 * expires within DAYS days, and returns 1 when it printed any (or could not read them).
 */
export const EXPIRING_CERTIFICATES = `${CERTIFICATE_ENDS}expiring_certificates() {
  local dir=$1 days=$2 ends limit file n end end_text subject found=0
  if ! ends=$(certificate_ends "$dir" 2>&1); then
    echo "cannot check certificate expiry: $ends"
    return 1
  fi
  limit=$(( $(date +%s) + days * 86400 ))
  while IFS=$'\\t' read -r file n end end_text subject; do
    [ -n "$file" ] || continue
    if [ "$end" -le "$limit" ]; then
      echo "$file (certificate $n, $subject) expires $end_text, within $days days"
      found=1
    fi
  done <<<"$ends"
  return "$found"
}
`;

/**
 * `certificate_expiry_metrics DIR`: every certificate's notAfter in Prometheus's text format, labelled with
 * CLUSTER, MEMBER, the file and the certificate's number in it. Needs \`certificate_ends\` (EXPIRING_CERTIFICATES).
 */
export const CERTIFICATE_EXPIRY_METRICS = `certificate_expiry_metrics() {
  local ends file n end _
  ends=$(certificate_ends "$1")
  echo "# HELP ${TEXTFILE_METRICS.certificateExpiry} notAfter of each certificate under the etcd PKI directory."
  echo "# TYPE ${TEXTFILE_METRICS.certificateExpiry} gauge"
  while IFS=$'\\t' read -r file n end _; do
    [ -n "$file" ] || continue
    echo "${TEXTFILE_METRICS.certificateExpiry}{etcd_cluster=\\"$CLUSTER\\",etcd_member=\\"$MEMBER\\",file=\\"$file\\",certificate=\\"$n\\"} $end"
  done <<<"$ends"
}
`;
