// Where the maintenance pieces live on a host, and the bash they share. One source for the renderers of the
// backup, defragmentation and alarm scripts, their units, and the install script that puts them in place.
import { etcdctlFunction } from "./shell";

/** The scripts the units run (root-owned, 0755). */
export const MAINTENANCE_BIN = {
    backup: "/usr/local/sbin/etcd-backup",
    defrag: "/usr/local/sbin/etcd-defrag",
    alarmCheck: "/usr/local/sbin/etcd-alarm-check",
} as const;

/** S3 settings and credentials (0600, owned by etcd); present only when uploads are configured. */
export const S3_ENV_FILE = "/etc/etcd/backup-s3.env";

/** The stable symlinks the configure step keeps pointing at the current release. */
export const ETCDCTL = "/usr/local/bin/etcdctl";
export const ETCDUTL = "/usr/local/bin/etcdutl";

/** Every member serves clients on loopback; the maintenance scripts talk to their own member there. */
export const LOCAL_CLIENT_URL = "https://127.0.0.1:2379";

/** Scheduled snapshots are `scheduled-<UTC time>-<member>.db`: sorting by name sorts by time. */
export const SCHEDULED_PREFIX = "scheduled-";

/** etcdctl over mTLS with the health-check client certificate, through the stable symlink. */
export function maintenanceEtcdctl(): string {
    return etcdctlFunction(ETCDCTL);
}

/**
 * `status_lines`: reads `etcdctl endpoint status -w fields` on stdin and prints one line per member:
 * `<endpoint> <member id> <leader id> <db size> <db size quota or 0>`. etcd 3.5 reports no quota (0).
 */
export function statusLinesFunction(): string {
    return `status_lines() {
  awk -F' : ' '
    $1 == "\\"Endpoint\\"" { ep = $2; gsub(/"/, "", ep) }
    $1 == "\\"MemberID\\"" { id = $2 }
    $1 == "\\"Leader\\"" { leader = $2 }
    $1 == "\\"DBSize\\"" { size = $2 }
    $1 == "\\"DBSizeQuota\\"" { quota = $2 }
    /^$/ { if (ep != "") print ep, id, leader, size, quota + 0; ep = ""; quota = 0 }
    END { if (ep != "") print ep, id, leader, size, quota + 0 }'
}
`;
}
