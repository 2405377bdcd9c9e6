// Small helpers shared by the rendered host scripts.
import { pkiPath } from "./layout";

/** Single-quotes a value for bash, so no expansion happens inside it. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/** Bash array literal of quoted words. */
export function shellArray(values: string[]): string {
    return `(${values.map(shellQuote).join(" ")})`;
}

export const SCRIPT_HEADER = "#!/usr/bin/env bash\nset -euo pipefail\n";

/**
 * A bash function `etcdctl_mtls` that runs the given etcdctl binary over mTLS with the health-check client
 * certificate, with short timeouts so that gates fail fast and retry instead of hanging.
 */
export function etcdctlFunction(etcdctlBinary: string): string {
    return `etcdctl_mtls() {
  ${etcdctlBinary} --cacert=${pkiPath("ca")} --cert=${pkiPath("healthcheckCert")} --key=${pkiPath("healthcheckKey")} \\
    --dial-timeout=3s --command-timeout=5s "$@"
}
`;
}

/** Bash that fails with `message` unless `condition` (a shell command) succeeds within `seconds`, polling every 2 s. */
export function waitUntil(condition: string, seconds: number, message: string): string {
    return `deadline=$((SECONDS + ${seconds}))
until ${condition}; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo ${shellQuote(message)} >&2
    exit 1
  fi
  sleep 2
done
`;
}
