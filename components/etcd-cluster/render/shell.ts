// How rendered host scripts are put together: a typed header of variables (the only place a value from
// TypeScript enters a script), then static bash that reads them. A changed value is one changed
// `readonly` line in a preview's diff.
import { EtcdctlChoice, HostLayout } from "./layout";

/** Single-quotes a value for bash, so no expansion happens inside it. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/** Bash array literal of quoted words. */
export function shellArray(values: readonly string[]): string {
    return `(${values.map(shellQuote).join(" ")})`;
}

export type ShellValue = string | number | boolean | readonly string[];
export type ShellVars = Readonly<Record<string, ShellValue>>;

const VAR_NAME = /^[A-Z][A-Z0-9_]*$/;

function shellValue(value: ShellValue): string {
    if (typeof value === "number") {
        if (!Number.isSafeInteger(value)) throw new Error(`script variable value ${value} is not a whole number`);
        return String(value);
    }
    if (typeof value === "boolean") return value ? "1" : "0";
    return typeof value === "string" ? shellQuote(value) : shellArray(value);
}

/**
 * The start of every host script: shebang, strict mode, what the script is, and one `readonly NAME=value`
 * line per variable, in the order given. Booleans become 1/0, lists bash arrays.
 */
export function header(title: string, vars: ShellVars): string {
    const lines = Object.entries(vars).map(([name, value]) => {
        if (!VAR_NAME.test(name)) throw new Error(`script variable name ${JSON.stringify(name)} is not UPPER_SNAKE_CASE`);
        return `readonly ${name}=${shellValue(value)}\n`;
    });
    if (/\n/.test(title)) throw new Error("a script title is one line");
    return `#!/usr/bin/env bash\nset -euo pipefail\n# ${title} (managed by the EtcdCluster Pulumi component).\n${lines.join("")}`;
}

/** Header variables of ETCDCTL_MTLS: which etcdctl, and the client certificate it presents. */
export function etcdctlVars(choice: EtcdctlChoice): ShellVars {
    return { ETCDCTL: choice.binary, CLIENT_CA: choice.ca, CLIENT_CERT: choice.cert, CLIENT_KEY: choice.key };
}

/** Header variables of the maintenance tools, which talk to their own member over loopback. */
export function localMemberVars(memberName: string, layout: HostLayout): ShellVars {
    return { MEMBER: memberName, LOCAL_CLIENT_URL: layout.localClientUrl, ...etcdctlVars(layout.etcdctl.installed) };
}

/**
 * `etcdctl_mtls`: etcdctl over mTLS with the health-check client certificate (the variables of
 * etcdctlVars()), with short timeouts so that gates fail fast and retry instead of hanging.
 */
export const ETCDCTL_MTLS = `etcdctl_mtls() {
  "$ETCDCTL" --cacert="$CLIENT_CA" --cert="$CLIENT_CERT" --key="$CLIENT_KEY" --dial-timeout=3s --command-timeout=5s "$@"
}
`;

/**
 * `wait_until SECONDS MESSAGE COMMAND...`: runs COMMAND until it succeeds, every 0.2 s for the first 25 tries
 * (a restarted member is back within a second or two, and every pause there is added to a rolling change per
 * member), then every second (a long wait need not run etcdctl five times a second); after SECONDS, prints
 * MESSAGE and exits 1.
 */
export const WAIT_UNTIL = `wait_until() {
  local seconds=$1 message=$2 deadline tries=0
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$message" >&2
      exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -le 25 ]; then sleep 0.2; else sleep 1; fi
  done
}
`;

/**
 * \`status_lines\`: reads \`etcdctl endpoint status -w fields\` on stdin and prints one line per member:
 * \`<endpoint> <member id> <leader id> <db size> <db size quota or 0>\`. etcd 3.5 reports no quota (0).
 */
export const STATUS_LINES = `status_lines() {
  awk -F' : ' '
    $1 == "\\"Endpoint\\"" { ep = $2; gsub(/"/, "", ep) }
    $1 == "\\"MemberID\\"" { id = $2 }
    $1 == "\\"Leader\\"" { leader = $2 }
    $1 == "\\"DBSize\\"" { size = $2 }
    $1 == "\\"DBSizeQuota\\"" { quota = $2; gsub(/[^0-9]/, "", quota) }
    /^$/ { if (ep != "") print ep, id, leader, size, (quota == "" ? 0 : quota); ep = ""; quota = "" }
    END { if (ep != "") print ep, id, leader, size, (quota == "" ? 0 : quota) }'
}
`;
