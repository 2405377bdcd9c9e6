// Runs before anything changes on the hosts: reads the version every reachable member runs and refuses a
// version change etcd does not support. A fresh cluster (nothing installed yet) passes.
import { MIN_PATCH_BEFORE_NEXT_MINOR } from "../upgrade";
import { etcdctlFunction, SCRIPT_HEADER, shellQuote } from "./shell";

export interface PreflightInput {
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

export function preflightScript(input: PreflightInput): string {
    return `${SCRIPT_HEADER}# Preflight before etcd ${input.targetVersion} (managed by the EtcdCluster Pulumi component).
target=${shellQuote(input.targetVersion)}
endpoints=${shellQuote(input.clientUrls.join(","))}
${versionCheckFunction()}
if [ ! -x /usr/local/bin/etcdctl ] || [ ! -s /etc/etcd/pki/healthcheck-client.key ]; then
  echo "preflight: no etcd deployed on this host yet; nothing to compare"
  exit 0
fi
${etcdctlFunction("/usr/local/bin/etcdctl")}
# One line per reachable member: "<endpoint>, <id>, <version>, …". Unreachable members are skipped here;
# the rolling restart refuses to proceed while any member is unhealthy.
status=$(etcdctl_mtls --endpoints="$endpoints" endpoint status 2>/dev/null || true)
refused=0
while IFS=', ' read -r endpoint _ running _; do
  [ -n "$endpoint" ] || continue
  if ! reason=$(version_change_allowed "$running" "$target"); then
    echo "refusing the version change before touching anything ($endpoint): $reason" >&2
    refused=1
  fi
done <<<"$status"
if [ "$refused" = 1 ]; then exit 1; fi
echo "preflight: every reachable member may move to etcd $target"
`;
}
