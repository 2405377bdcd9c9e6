# shellcheck shell=bash
# scripts/lib/gobuild.sh - the one recipe for building Go programs and caching them by version, outside the
# clone: $ETCD_CLUSTER_CACHE/bin/NAME-KEY/. Used by scripts/lab/go-tools.sh (every Go tool the tests use:
# published modules and the modules under tools/) and scripts/toolchain.sh (the etcd releases).
# Needs lib/cache.sh. Messages go to stderr, so `bin=$(...)` gets only the printed path.

# go_cmd: the Go command: $GO, else `go` on PATH, else /usr/local/go/bin/go.
go_cmd() {
  if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"
  elif command -v go >/dev/null 2>&1; then printf 'go\n'
  elif [[ -x /usr/local/go/bin/go ]]; then printf '/usr/local/go/bin/go\n'
  else echo "gobuild: Go is needed (set GO, or put go on PATH)" >&2; return 1
  fi
}

# go_cached NAME KEY CHECK BUILD [ARG...]
#   Prints the directory $ETCD_CLUSTER_CACHE/bin/NAME-KEY, building it first unless a finished build is there.
#   `BUILD OUT ARG...` writes the binaries into the new, empty directory OUT (CGO_ENABLED=0 and -trimpath are
#   set in its environment); `CHECK OUT ARG...` then runs them and must succeed. Both run in a subshell whose status
#   is their last command's (errexit does not apply there): chain steps with &&. Each run builds in a private
#   directory that moves into place only when complete, so no run sees half a build; a run that finds another
#   building the same NAME-KEY waits for it (a lock file beside) instead of building it a second time.
go_cached() {
  local name=$1 key=$2 check=$3 build=$4 cache dir
  shift 4
  cache=$(etcd_cluster_cache) || return 1
  dir=$cache/bin/$name-$key
  if [[ ! -e $dir/.built ]]; then
    mkdir -p "$cache/bin"
    # The lock is held by the subshell's descriptor 9 and released when it ends, however it ends.
    (flock 9 && go_build_once "$name" "$key" "$dir" "$check" "$build" "$@") 9>"$cache/bin/.$name-$key.lock" || return 1
  fi
  printf '%s\n' "$dir"
}

# go_build_once NAME KEY DIR CHECK BUILD [ARG...]: go_cached's build, under its lock: builds DIR unless the run
# that held the lock before has built it.
go_build_once() {
  local name=$1 key=$2 dir=$3 check=$4 build=$5 go started tmp
  shift 5
  [[ ! -e $dir/.built ]] || return 0
  go=$(go_cmd) || return 1
  started=$SECONDS
  echo "gobuild: building $name $key with $("$go" env GOVERSION)" >&2
  tmp=$(mktemp -d "${dir%/*}/.$name-$key.XXXXXX")
  chmod 755 "$tmp"
  if ! (CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" "$build" "$tmp" "$@" >&2 && "$check" "$tmp" "$@" >&2); then
    echo "gobuild: building $name $key failed" >&2
    chmod -R u+w "$tmp" 2>/dev/null
    rm -rf "$tmp"
    return 1
  fi
  touch "$tmp/.built"
  rm -rf "$dir"
  mv -T "$tmp" "$dir"
  echo "gobuild: $name $key built in $((SECONDS - started)) s" >&2
}

# go_install OUT MODULE@VERSION [BUILDFLAG...]: BUILD of a published module (`go install`), without symbol table
# and DWARF (-s -w: a faster link; stack traces keep their names and lines).
go_install() { GOBIN=$1 "$(go_cmd)" install -ldflags "-s -w" "${@:3}" "$2"; }

# go_build_module OUT DIR [BUILDFLAG...]: BUILD of the module in DIR (a tool of this repository); the binary is
# named after DIR, and linked like go_install's.
go_build_module() { (cd "$2" && "$(go_cmd)" build -ldflags "-s -w" "${@:3}" -o "$1/${2##*/}" .); }

# UNOPTIMIZED: the BUILDFLAG for servers a test starts and sends a few requests to: no optimizations or inlining
# (-N -l), about a fifth less compile time (kube-apiserver: 11.4 CPU-minutes instead of 14), which a cold CI
# on 2 cores needs. Never for etcd, nor for a tool that does heavy work (tools/lincheck's checker).
# shellcheck disable=SC2034 # used by the scripts that source this file
UNOPTIMIZED="-gcflags=all=-N -l"

# go_sources_key DIR: the KEY of a module built from its sources: src- and a hash of its non-test .go files,
# go.mod and go.sum.
go_sources_key() {
  printf 'src-%s\n' "$(cd "$1" && find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
}
