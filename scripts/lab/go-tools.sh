#!/usr/bin/env bash
# scripts/lab/go-tools.sh - build the Go tools the tests use, each cached by version (lib/gobuild.sh).
#
# Usage: scripts/lab/go-tools.sh TOOL...      prints one line per tool: the absolute path of its binary
#
# Tools pinned here (`go install module@version`; the binary goes to $ETCD_CLUSTER_CACHE/bin/<tool>-<version>/):
#   actionlint            github.com/rhysd/actionlint/cmd/actionlint           the GitHub Actions workflow linter
#   pulumi-language-yaml  github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml  Pulumi YAML's language host
#                         (the release mirror ships only the Node.js one; v1.38.1 is built on pulumi pkg
#                         v3.255, whose plugin protocol the 3.259 CLI speaks)
#   minio                 github.com/minio/minio                               the S3 server of scripts/lab/s3-server.sh
#                         (about 3.5 min from cold on 2 cores, with about 1.2 GB of modules)
# Tools of this repository: every tools/<tool>/ with a go.mod (tools/hcloud-standin, ...), built from its
# sources to $ETCD_CLUSTER_CACHE/bin/<tool>-src-<hash of its sources>/<tool>. Adding one takes no change here:
# put the module in tools/<tool>/ (package main) and call `scripts/lab/go-tools.sh <tool>`. The largest is
# tools/kube-apiserver (k8s.io/kubernetes: about 6 min on 2 cores with its modules downloaded, 11 min of CPU).
#
# A tool is built once per version (CGO_ENABLED=0, -trimpath, -s -w; MinIO, the YAML host and kube-apiserver
# unoptimized, see UNOPTIMIZED in lib/gobuild.sh) and checked by running it; a second call only
# prints the path. Go: $GO, else `go` on PATH, else /usr/local/go/bin/go. Build output goes to stderr, so
# `bin=$(scripts/lab/go-tools.sh actionlint)` works.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=${here%/scripts*}/tools
# shellcheck source=scripts/lib/cache.sh # from the repository root, as scripts/test-all.sh runs it
source "$here/../lib/cache.sh"
# shellcheck source=scripts/lib/gobuild.sh # from the repository root, as scripts/test-all.sh runs it
source "$here/../lib/gobuild.sh"

ACTIONLINT_VERSION=v1.7.12
PULUMI_YAML_VERSION=v1.38.1
# The newest version the Go module proxy serves (MinIO tags its releases RELEASE.*, so it has no semver tags).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

# CHECK of each (go_cached): the new binary runs.
check_actionlint() { "$1/actionlint" -version >/dev/null; }
check_yaml() { "$1/pulumi-language-yaml" -help >/dev/null 2>&1; }
check_minio() { "$1/minio" --version >/dev/null; }
check_ours() { [[ -x $1/$tool ]]; } # a tool of this repository: its own tests check what it does

case ${1:-} in -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;; esac
[[ $# -gt 0 ]] || { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" >&2; exit 2; }
for tool in "$@"; do
  case $tool in
    actionlint) dir=$(go_cached actionlint "$ACTIONLINT_VERSION" check_actionlint go_install github.com/rhysd/actionlint/cmd/actionlint@"$ACTIONLINT_VERSION") ;;
    pulumi-language-yaml) dir=$(go_cached pulumi-language-yaml "$PULUMI_YAML_VERSION" check_yaml go_install github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@"$PULUMI_YAML_VERSION" "$UNOPTIMIZED") ;;
    minio) dir=$(go_cached minio "$MINIO_VERSION" check_minio go_install github.com/minio/minio@"$MINIO_VERSION" "$UNOPTIMIZED") ;;
    *)
      [[ $tool =~ ^[a-z0-9][a-z0-9-]*$ && -f $tools/$tool/go.mod ]] \
        || { echo "go-tools: unknown tool $tool (known: actionlint, pulumi-language-yaml, minio, and each tools/<tool>/ with a go.mod)" >&2; exit 2; }
      flags=() # kube-apiserver is a server the tests send a few requests to: built unoptimized
      [[ $tool != kube-apiserver ]] || flags=("$UNOPTIMIZED")
      dir=$(go_cached "$tool" "$(go_sources_key "$tools/$tool")" check_ours go_build_module "$tools/$tool" "${flags[@]}")
      ;;
  esac
  printf '%s\n' "$dir/$tool"
done
