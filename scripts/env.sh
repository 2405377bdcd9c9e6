# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
# scripts/env.sh - put the project's pinned toolchain on PATH. Source it (bash), from any directory:
#
#     source scripts/env.sh
#
# Everything is computed from versions.json and the setting below alone, so sourcing works before
# scripts/toolchain.sh ever ran; the binaries exist only once it has. Safe to source under
# `set -euo pipefail` and more than once (PATH gets no duplicates). On error it prints why and
# returns 1 without changing the environment.
#
# Setting:
#   ETCD_CLUSTER_CACHE   cache root of scripts/toolchain.sh. Default: $HOME/.cache/etcd-cluster
#                        (a relative path is taken from the current directory)
#
# Exports (<x> = the field x of versions.json, $CACHE = ETCD_CLUSTER_CACHE):
#   PATH                 $CACHE/node-v<node>/bin : $CACHE/pulumi-v<pulumi>/pulumi : the PATH before
#   PULUMI_HOME          $CACHE/pulumi-home (plugins live here, not in ~/.pulumi)
#   PULUMI_SKIP_UPDATE_CHECK=1
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
#                        only when toolchain.sh installed the plugins from a release mirror (it then
#                        leaves $CACHE/pulumi-home/etcd-cluster-plugins-from-mirror); otherwise left as is
#   ETCD_CLUSTER_CACHE   $CACHE, absolute
#   ETCD_RELEASE_DIR     $CACHE/etcd: etcd-v<ver>-linux-amd64.tar.gz (+ .sha256) and SHA256SUMS
#   ETCD_VERSION         <etcd.default>        (plain version, no leading v)
#   ETCD_PATCH_VERSION   <etcd.patchTarget>    (plain version)
#   ETCD_UPGRADE_VERSION <etcd.upgradeTarget>  (plain version)

_etcd_cluster_env() {
  local here root cache p
  local NODE_V PULUMI_V ETCD_V ETCD_PATCH_V ETCD_UP_V PLUGINS # set by etcd_cluster_read_versions
  here=${BASH_SOURCE[0]}
  if [[ $here == */* ]]; then here=${here%/*}; else here=.; fi
  here=$(CDPATH='' cd -- "$here" && pwd) || return 1
  root=${here%/*}

  # shellcheck source=lib/cache.sh disable=SC1091 # followed with shellcheck -x
  source "$here/lib/cache.sh" || return 1
  cache=$(etcd_cluster_cache) || return 1
  # shellcheck source=lib/versions.sh disable=SC1091
  source "$here/lib/versions.sh" || return 1
  etcd_cluster_read_versions "$root/versions.json" "$cache" || return 1

  # PATH: drop earlier copies of our two directories, then put them first.
  p=":${PATH:-}:"
  while [[ $p == *":$cache/node-v$NODE_V/bin:"* || $p == *":$cache/pulumi-v$PULUMI_V/pulumi:"* ]]; do
    p=${p//":$cache/node-v$NODE_V/bin:"/:}
    p=${p//":$cache/pulumi-v$PULUMI_V/pulumi:"/:}
  done
  p=${p#:}
  p=${p%:}
  export PATH="$cache/node-v$NODE_V/bin:$cache/pulumi-v$PULUMI_V/pulumi${p:+:$p}"
  # Go builds the etcd releases and the test tools; the official installer puts it in /usr/local/go.
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="$PATH:/usr/local/go/bin"
  fi

  export ETCD_CLUSTER_CACHE="$cache"
  export PULUMI_HOME="$cache/pulumi-home"
  export PULUMI_SKIP_UPDATE_CHECK=1
  if [[ -e $cache/pulumi-home/etcd-cluster-plugins-from-mirror ]]; then
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
  fi
  export ETCD_RELEASE_DIR="$cache/etcd"
  export ETCD_VERSION="$ETCD_V"
  export ETCD_PATCH_VERSION="$ETCD_PATCH_V"
  export ETCD_UPGRADE_VERSION="$ETCD_UP_V"
}

if _etcd_cluster_env; then
  unset -f _etcd_cluster_env
else
  unset -f _etcd_cluster_env
  echo "env.sh: environment not set up" >&2
  # shellcheck disable=SC2317 # exit is reached only when this file is run instead of sourced
  return 1 2>/dev/null || exit 1
fi
