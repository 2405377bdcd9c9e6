# shellcheck shell=bash
# scripts/lib/cache.sh - where the project keeps what it builds and downloads: outside the clone, by version.

# etcd_cluster_cache: print the cache root: ETCD_CLUSTER_CACHE, else $HOME/.cache/etcd-cluster, made absolute
# (a relative path is taken from the current directory), without a trailing slash.
etcd_cluster_cache() {
  local c=${ETCD_CLUSTER_CACHE:-}
  if [[ -z $c ]]; then
    if [[ -z ${HOME:-} ]]; then
      echo "HOME is not set; set ETCD_CLUSTER_CACHE" >&2
      return 1
    fi
    c=$HOME/.cache/etcd-cluster
  fi
  [[ $c == /* ]] || c=$PWD/$c
  printf '%s\n' "${c%/}"
}
