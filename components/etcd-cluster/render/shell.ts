// Small helpers shared by the rendered host scripts.
import { PKI_FILES, PkiFileKey, pkiPath } from "./layout";

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
export function etcdctlFunction(etcdctlBinary: string, pkiDir?: string): string {
    // With `pkiDir` (a shell expression), the files are read from there: the configure script points it at
    // the staged bundle while a new member's files are not installed yet.
    const file = (key: PkiFileKey) => (pkiDir ? `${pkiDir}/${PKI_FILES[key].file}` : pkiPath(key));
    return `etcdctl_mtls() {
  ${etcdctlBinary} --cacert=${file("ca")} --cert=${file("healthcheckCert")} --key=${file("healthcheckKey")} \\
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
