#!/usr/bin/env bash
# hcloud-standin.sh: build, start and stop the local stand-in for the Hetzner Cloud API
# (tools/hcloud-standin) whose servers are real local hosts (scripts/lab/testhosts.sh).
#
# Usage:
#   scripts/lab/hcloud-standin.sh build                 # build (scripts/lab/go-tools.sh: cached by source hash); prints the binary
#   scripts/lab/hcloud-standin.sh test                  # its contract tests (go test, driven by hcloud-go)
#   scripts/lab/hcloud-standin.sh up     --name NAME --public-prefix A.B.C [--serve DIR]
#   scripts/lab/hcloud-standin.sh stop   --name NAME    # stop the API only (hosts keep running, state kept)
#   scripts/lab/hcloud-standin.sh down   --name NAME    # stop the API, remove every host, the rig and the state
#   scripts/lab/hcloud-standin.sh status --name NAME
#
# `up` creates the testhosts rig NAME (a bridge with A.B.C.1/24, the HTTP server of --serve on
# A.B.C.1:8080) unless it exists, starts the stand-in in the background on a free loopback port (pid
# file; a running one is reused), and prints JSON on stdout: endpoint (for HCLOUD_ENDPOINT /
# hcloud:endpoint), tokenFile (the 64-character API token, mode 0600, never printed), rig, publicPrefix,
# bridgePublicIp, serveUrl, pid, log. Servers get public addresses A.B.C.11 and up.
#
# Layout: $ETCD_CLUSTER_CACHE (default ~/.cache/etcd-cluster)
#   hcloud-standin/NAME/                         one stand-in: token, state.json, endpoint,
#                                                standin.pid, standin.log, work/
# Needs Go (to build) and, for up/down, what scripts/lab/testhosts.sh needs (root, systemd-nspawn, ...).
# Exit codes: 0 ok; 1 failure; 2 usage error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$repo/scripts/lib/cli.sh"
# shellcheck source=scripts/lib/cache.sh
source "$repo/scripts/lib/cache.sh"
# shellcheck source=scripts/lib/pidfile.sh
source "$repo/scripts/lib/pidfile.sh"
readonly CLI_NAME=hcloud-standin
src=$repo/tools/hcloud-standin
CACHE_DIR=$(etcd_cluster_cache)
export ETCD_CLUSTER_CACHE=$CACHE_DIR
base=$CACHE_DIR/hcloud-standin

NAME=""
PUBLIC_PREFIX=""
SERVE_DIR=""

on_option() {
  case $1 in
    --name) NAME=$2 ;;
    --public-prefix) PUBLIC_PREFIX=$2 ;;
    --serve) SERVE_DIR=$2 ;;
    *) return 1 ;;
  esac
}

parse_args() {
  cli_options on_option "$@"
  [[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] || usage_error "--name must match ^[a-z0-9][a-z0-9-]{0,31}\$"
  dir=$base/$NAME
}

# ----------------------------------------------------------------- build

cmd_build() { bash "$repo/scripts/lab/go-tools.sh" hcloud-standin; }

cmd_test() {
  command -v go >/dev/null 2>&1 || die "Go is needed for the contract tests"
  cd "$src"
  go vet ./...
  go test -count=1 ./...
}

# --------------------------------------------------------------- process

# Prints the pid recorded in the pid file if that very process still runs.
running_pid() { pidfile_alive "$dir/standin.pid"; }

print_info() {
  local pid=$1 serve=""
  [[ -f $dir/serve-url ]] && serve=$(cat "$dir/serve-url")
  printf '{\n  "endpoint": %s,\n  "tokenFile": %s,\n  "rig": %s,\n  "publicPrefix": %s,\n  "bridgePublicIp": %s,\n' \
    "$(json_str "$(cat "$dir/endpoint")")" "$(json_str "$dir/token")" "$(json_str "$NAME")" \
    "$(json_str "$(cat "$dir/public-prefix")")" "$(json_str "$(cat "$dir/public-prefix").1")"
  printf '  "serveUrl": %s,\n  "pid": %s,\n  "log": %s\n}\n' "$(json_str "$serve")" "$pid" "$(json_str "$dir/standin.log")"
}

cmd_up() {
  [[ $PUBLIC_PREFIX =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || usage_error "--public-prefix A.B.C is required"
  [[ -z $SERVE_DIR || -d $SERVE_DIR ]] || usage_error "--serve: no such directory: $SERVE_DIR"
  local bin pid i rig_json
  bin=$(cmd_build)
  mkdir -p "$dir/work"
  chmod 700 "$dir"
  if pid=$(running_pid); then
    [[ $(cat "$dir/public-prefix") == "$PUBLIC_PREFIX" ]] \
      || die "stand-in $NAME runs with public prefix $(cat "$dir/public-prefix"); run down first"
    log "stand-in $NAME already runs (pid $pid)"
    print_info "$pid"
    return 0
  fi
  if [[ ! -f $CACHE_DIR/rigs/$NAME/rig.env ]]; then
    local -a serve=()
    [[ -n $SERVE_DIR ]] && serve=(--serve "$SERVE_DIR")
    rig_json=$(bash "$repo/scripts/lab/testhosts.sh" rig-create --rig "$NAME" --public-prefix "$PUBLIC_PREFIX" "${serve[@]}")
    serve_url_of "$rig_json" >"$dir/serve-url"
  fi
  printf '%s\n' "$PUBLIC_PREFIX" >"$dir/public-prefix"
  if [[ ! -s $dir/token ]]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$dir/token")
  fi
  rm -f "$dir/endpoint"
  (
    exec setsid "$bin" -listen 127.0.0.1:0 -addr-file "$dir/endpoint" -token-file "$dir/token" \
      -state "$dir/state.json" -hosts testhosts -testhosts "$repo/scripts/lab/testhosts.sh" -rig "$NAME" \
      -public-prefix "$PUBLIC_PREFIX" -work-dir "$dir/work"
  ) </dev/null >>"$dir/standin.log" 2>&1 &
  pid=$!
  write_pidfile "$dir/standin.pid" "$pid" || die "the stand-in exited at once: $(tail -n 5 "$dir/standin.log")"
  for ((i = 0; i < 100; i++)); do
    [[ -s $dir/endpoint ]] && break
    running_pid >/dev/null || die "the stand-in exited: $(tail -n 5 "$dir/standin.log")"
    sleep 0.1
  done
  [[ -s $dir/endpoint ]] || die "the stand-in did not start listening within 10 s (log: $dir/standin.log)"
  log "stand-in $NAME serves $(cat "$dir/endpoint") (pid $pid, log $dir/standin.log)"
  print_info "$pid"
}

# The serveUrl field of rig-create's JSON (plain text parsing: the JSON is ours and flat).
serve_url_of() {
  local line
  while read -r line; do
    if [[ $line =~ \"serveUrl\":\ \"([^\"]*)\" ]]; then
      printf '%s\n' "${BASH_REMATCH[1]}"
      return 0
    fi
  done <<<"$1"
  printf '\n'
}

cmd_stop() {
  local pid i
  if ! pid=$(running_pid); then
    log "stand-in $NAME is not running"
    return 0
  fi
  kill -TERM "$pid"
  # It lets host operations already under way finish (each bounded), then exits.
  for ((i = 0; i < 3000; i++)); do
    running_pid >/dev/null || break
    sleep 0.1
  done
  if pid=$(running_pid); then
    log "stand-in $NAME did not stop within 300 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/standin.pid"
  log "stand-in $NAME stopped"
}

cmd_down() {
  cmd_stop
  bash "$repo/scripts/lab/testhosts.sh" down --rig "$NAME"
  rm -rf "$dir"
  log "stand-in $NAME, its hosts and its state are gone"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    printf 'stand-in %s: running (pid %s) at %s\n' "$NAME" "$pid" "$(cat "$dir/endpoint")"
    bash "$repo/scripts/lab/testhosts.sh" status --rig "$NAME" || true
    return 0
  fi
  printf 'stand-in %s: not running\n' "$NAME"
  return 1
}

main() {
  (($# >= 1)) || usage_error "missing command"
  local cmd=$1
  shift
  case $cmd in
    -h | --help | help) cli_help; exit 0 ;;
    build) cmd_build; exit 0 ;;
    test) cmd_test; exit 0 ;;
  esac
  parse_args "$@"
  case $cmd in
    up) cmd_up ;;
    stop) cmd_stop ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) usage_error "unknown command: $cmd" ;;
  esac
}

main "$@"
