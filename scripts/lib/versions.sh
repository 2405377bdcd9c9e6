# shellcheck shell=bash
# scripts/lib/versions.sh - read the pinned versions of versions.json.
# Sourced by scripts/env.sh and scripts/toolchain.sh; defines two functions and nothing else.

# etcd_cluster_read_versions JSON [CACHE]
#   Sets NODE_V PULUMI_V ETCD_V ETCD_PATCH_V ETCD_UP_V (plain versions) and the array PLUGINS ("name=version",
#   in file order) from etcd_cluster_versions. A caller that must not leak them (env.sh) declares them local
#   first. Returns non-zero (with etcd_cluster_versions' message) when JSON cannot be read.
# shellcheck disable=SC2034 # set for the caller
etcd_cluster_read_versions() {
  local lines key value
  lines=$(etcd_cluster_versions "$@") || return 1
  NODE_V='' PULUMI_V='' ETCD_V='' ETCD_PATCH_V='' ETCD_UP_V='' PLUGINS=()
  while IFS='=' read -r key value; do
    case $key in
      node) NODE_V=$value ;;
      pulumi) PULUMI_V=$value ;;
      etcd) ETCD_V=$value ;;
      etcd_patch) ETCD_PATCH_V=$value ;;
      etcd_upgrade) ETCD_UP_V=$value ;;
      plugin.*) PLUGINS+=("${key#plugin.}=$value") ;;
    esac
  done <<<"$lines"
}

# etcd_cluster_versions JSON [CACHE]
#   Prints the pinned versions in JSON as KEY=VALUE lines, in this order:
#     node=<node>  pulumi=<pulumi>  etcd=<etcd.default>  etcd_patch=<etcd.patchTarget>  etcd_upgrade=<etcd.upgradeTarget>
#     plugin.<name>=<plugins.name>   (one line per plugin, in file order)
#   Every value is checked to look like a version (digits first, then [0-9A-Za-z.+_-]), so callers
#   can use it in paths and commands as it is. Returns non-zero (with a message) when JSON is
#   unreadable or a field is missing.
#   JSON is read with `node` from PATH, else (no Node.js installed yet, or none on PATH) with a node
#   that scripts/toolchain.sh installed under CACHE ($CACHE/node-v*/bin/node).
etcd_cluster_versions() {
  local json=$1 cache=${2:-} reader='' candidate
  if [[ ! -r $json ]]; then
    echo "etcd_cluster_versions: cannot read $json" >&2
    return 1
  fi
  reader=$(command -v node 2>/dev/null || true)
  if [[ -z $reader && -n $cache ]]; then
    for candidate in "$cache"/node-v*/bin/node; do
      if [[ -x $candidate ]]; then
        reader=$candidate
        break
      fi
    done
  fi
  if [[ -z $reader ]]; then
    echo "etcd_cluster_versions: no node to read $json with (install Node.js, or run scripts/toolchain.sh)" >&2
    return 1
  fi
  # shellcheck disable=SC2016 # JavaScript, not shell: the $ and backticks are meant for node.
  "$reader" -e '
    const file = process.argv[1];
    let v;
    try { v = JSON.parse(require("fs").readFileSync(file, "utf8")); }
    catch (e) { console.error(`${file}: ${e.message}`); process.exit(1); }
    const out = [];
    const put = (key, field, value) => {
      if (typeof value !== "string" || !/^[0-9][0-9A-Za-z.+_-]*$/.test(value)) {
        console.error(`${file}: "${field}" is missing or not a version: ${JSON.stringify(value)}`);
        process.exit(1);
      }
      out.push(`${key}=${value}`);
    };
    put("node", "node", v.node);
    put("pulumi", "pulumi", v.pulumi);
    put("etcd", "etcd.default", (v.etcd || {}).default);
    put("etcd_patch", "etcd.patchTarget", (v.etcd || {}).patchTarget);
    put("etcd_upgrade", "etcd.upgradeTarget", (v.etcd || {}).upgradeTarget);
    for (const [name, version] of Object.entries(v.plugins || {})) {
      if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
        console.error(`${file}: bad plugin name ${JSON.stringify(name)}`);
        process.exit(1);
      }
      put(`plugin.${name}`, `plugins.${name}`, version);
    }
    console.log(out.join("\n"));
  ' "$json"
}
