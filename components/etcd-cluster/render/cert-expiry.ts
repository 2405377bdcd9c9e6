// Bash that finds certificates about to expire: leaf certificates are renewed only when someone runs
// `pulumi up`, so the hosts must say when that is due rather than fail one day in the TLS handshake.

/**
 * A bash function `expiring_certificates DIR DAYS` that prints one line per certificate in DIR/*.crt
 * (every certificate of a bundle, not only the first) that expires within DAYS days, and returns 1 when it
 * printed any. Needs openssl (a dependency of ca-certificates on Debian and Ubuntu).
 */
export const EXPIRING_CERTIFICATES = `expiring_certificates() {
  local dir=$1 days=$2 file line pem n found=0 subject end
  if ! command -v openssl >/dev/null; then
    echo "cannot check certificate expiry: openssl is not installed (apt-get install openssl)"
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
        if ! openssl x509 -noout -checkend $((days * 86400)) <<<"$pem" >/dev/null; then
          subject=$(openssl x509 -noout -subject -nameopt oneline <<<"$pem")
          end=$(openssl x509 -noout -enddate <<<"$pem")
          echo "$file (certificate $n, \${subject#subject=}) expires \${end#notAfter=}, within $days days"
          found=1
        fi
        pem=""
      fi
    done <"$file"
  done
  return "$found"
}
`;
