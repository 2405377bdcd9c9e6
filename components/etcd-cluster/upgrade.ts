// Which version changes etcd supports, as data and one pure function. The preflight script renders the
// same table into bash, and a unit test runs both on the same cases so they cannot drift apart.
import { parseVersion } from "./validate";

/**
 * Before moving to minor N+1, every member must run at least this patch of minor N. Sources: etcd's
 * upgrade guides — 3.5 -> 3.6 "make sure that all of your 3.5 members are updated to 3.5.32 or later"
 * (current guide; earlier editions said 3.5.20, then 3.5.26), 3.6 -> 3.7 needs 3.6.11+.
 */
export const MIN_PATCH_BEFORE_NEXT_MINOR: Readonly<Record<string, number>> = {
    "3.5": 32,
    "3.6": 11,
};

/** Undefined when a member running `from` may move to `to`; otherwise why not, and what to do. */
export function versionChangeRefusal(from: string, to: string): string | undefined {
    const f = parseVersion(from);
    const t = parseVersion(to);
    if (!f || !t) return `cannot compare etcd versions "${from}" and "${to}"`;
    if (f[0] !== t[0]) return `etcd ${from} -> ${to} changes the major version; not supported`;
    if (f[1] === t[1]) return undefined; // patch upgrades and downgrades within a minor are supported
    if (t[1] < f[1]) {
        return `etcd ${from} -> ${to} is a downgrade across minor versions; etcd needs its downgrade procedure (etcdctl downgrade) for that, which this component does not run`;
    }
    if (t[1] > f[1] + 1) {
        return `etcd ${from} -> ${to} skips a minor version; upgrade one minor at a time (first to the newest ${f[0]}.${f[1] + 1}.x)`;
    }
    const minPatch = MIN_PATCH_BEFORE_NEXT_MINOR[`${f[0]}.${f[1]}`];
    if (minPatch !== undefined && f[2] < minPatch) {
        return `etcd ${from} -> ${to} needs ${f[0]}.${f[1]}.${minPatch} or newer first; upgrade to the newest ${f[0]}.${f[1]}.x, then to ${to}`;
    }
    return undefined;
}
