#!/usr/bin/env bash
# scripts/go-tools.sh - build the Go tools the consumer tests need from their Go modules, cached by version.
#
# Usage: scripts/go-tools.sh TOOL...      prints one line per tool: the absolute path of its binary
#
# Tools (each pinned here; the binary goes to $ETCD_CLUSTER_CACHE/bin/<tool>-<version>/<binary>):
#   actionlint            github.com/rhysd/actionlint/cmd/actionlint           the GitHub Actions workflow linter
#   pulumi-language-yaml  github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml  Pulumi YAML's language host
#                         (the release mirror ships only the Node.js one; v1.38.1 is built on pulumi pkg
#                         v3.255, whose plugin protocol the 3.259 CLI speaks)
#
# A tool is built once per version (`go install module@version`, CGO_ENABLED=0, -trimpath) and the build
# checked by running it; a second call only prints the path. Go: $GO, else `go` on PATH, else
# /usr/local/go/bin/go. Build output goes to stderr, so `bin=$(scripts/go-tools.sh actionlint)` works.
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12
PULUMI_YAML_VERSION=v1.38.1

cache=${ETCD_CLUSTER_CACHE:-${HOME:?HOME or ETCD_CLUSTER_CACHE must be set}/.cache/etcd-cluster}
[[ $cache == /* ]] || cache=$PWD/$cache

go_cmd() {
  if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"
  elif command -v go >/dev/null 2>&1; then printf 'go\n'
  elif [[ -x /usr/local/go/bin/go ]]; then printf '/usr/local/go/bin/go\n'
  else echo "go-tools: Go is needed (set GO or put go on PATH)" >&2; return 1
  fi
}

# build NAME VERSION MODULE_PATH CHECK_ARGS...: install MODULE_PATH@VERSION into the cache, print the binary.
build() {
  local name=$1 version=$2 module=$3
  shift 3
  local dir="$cache/bin/$name-$version" bin started go tmp
  bin="$dir/${module##*/}"
  if [[ ! -x $bin || ! -e $dir/.built ]]; then
    go=$(go_cmd)
    started=$SECONDS
    echo "go-tools: building $module@$version with $("$go" env GOVERSION)" >&2
    mkdir -p "$cache/bin"
    tmp=$(mktemp -d "$cache/bin/.$name-$version.XXXXXX") # private: parallel runs do not share a half-built folder
    chmod 755 "$tmp"
    GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" "$go" install "$module@$version" >&2
    "$tmp/${module##*/}" "$@" >/dev/null 2>&1 || { echo "go-tools: $tmp/${module##*/} $* failed" >&2; rm -rf "$tmp"; return 1; }
    touch "$tmp/.built"
    rm -rf "$dir"
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another run finished first: keep its build
    echo "go-tools: $name $version built in $((SECONDS - started)) s" >&2
  fi
  printf '%s\n' "$bin"
}

[[ $# -gt 0 ]] || { sed -n '2,15p' "$0" >&2; exit 2; }
for tool in "$@"; do
  case $tool in
    actionlint) build actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint -version ;;
    pulumi-language-yaml) build pulumi-language-yaml "$PULUMI_YAML_VERSION" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml -help ;;
    *) echo "go-tools: unknown tool $tool (known: actionlint, pulumi-language-yaml)" >&2; exit 2 ;;
  esac
done
