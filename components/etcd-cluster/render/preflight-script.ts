// Runs before anything changes on the hosts: reads the version every reachable member runs and refuses a
// version change etcd does not support. A fresh cluster (nothing installed yet) passes.
import { MIN_PATCH_BEFORE_NEXT_MINOR } from "../upgrade";
import { HostLayout } from "./layout";
import { ETCDCTL_MTLS, etcdctlVars, header } from "./shell";

export interface PreflightScriptInput {
    layout: HostLayout;
    targetVersion: string;
    clientUrls: string[];
}

/** The bash twin of versionChangeRefusal(): prints the reason and returns 1 when `from` may not move to `target`. */
export function versionCheckFunction(): string {
    const cases = Object.entries(MIN_PATCH_BEFORE_NEXT_MINOR).map(([minor, patch]) => `    ${minor}) min_patch=${patch} ;;`).join("\n");
    return `version_change_allowed() {
  local from=$1 to=$2 f_major f_minor f_patch t_major t_minor min_patch=0
  IFS=. read -r f_major f_minor f_patch <<<"$from"
  IFS=. read -r t_major t_minor _ <<<"$to"
  if [ "$f_major" != "$t_major" ]; then echo "etcd $from -> $to changes the major version; not supported"; return 1; fi
  if [ "$f_minor" -eq "$t_minor" ]; then return 0; fi
  if [ "$t_minor" -lt "$f_minor" ]; then
    echo "etcd $from -> $to is a downgrade across minor versions; etcd needs its downgrade procedure (etcdctl downgrade) for that, which this component does not run"; return 1
  fi
  if [ "$t_minor" -gt $((f_minor + 1)) ]; then
    echo "etcd $from -> $to skips a minor version; upgrade one minor at a time (first to the newest $f_major.$((f_minor + 1)).x)"; return 1
  fi
  case "$f_major.$f_minor" in
${cases}
  esac
  if [ "$f_patch" -lt "$min_patch" ]; then
    echo "etcd $from -> $to needs $f_major.$f_minor.$min_patch or newer first; upgrade to the newest $f_major.$f_minor.x, then to $to"; return 1
  fi
  return 0
}
`;
}

export function preflightScript(input: PreflightScriptInput): string {
    // The symlinked etcdctl: the target release is not installed yet, and a fresh host has none at all.
    return header(`Preflight before etcd ${input.targetVersion}`, {
        TARGET: input.targetVersion,
        ENDPOINTS: input.clientUrls.join(","),
        ...etcdctlVars(input.layout.etcdctl.installed),
    }) + versionCheckFunction() + PREFLIGHT_BODY;
}

const PREFLIGHT_BODY = `if [ ! -x "$ETCDCTL" ] || [ ! -s "$CLIENT_KEY" ]; then
  echo "preflight: no etcd deployed on this host yet; nothing to compare"
  exit 0
fi
${ETCDCTL_MTLS}
# One line per reachable member: "<endpoint>, <id>, <version>, …". Unreachable members are skipped here;
# the rolling restart refuses to proceed while any member is unhealthy.
status=$(etcdctl_mtls --endpoints="$ENDPOINTS" endpoint status 2>/dev/null || true)
refused=0
while IFS=', ' read -r endpoint _ running _; do
  [ -n "$endpoint" ] || continue
  if ! reason=$(version_change_allowed "$running" "$TARGET"); then
    echo "refusing the version change before touching anything ($endpoint): $reason" >&2
    refused=1
  fi
done <<<"$status"
if [ "$refused" = 1 ]; then exit 1; fi
echo "preflight: every reachable member may move to etcd $TARGET"
`;
