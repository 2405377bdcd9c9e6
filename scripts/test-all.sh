#!/usr/bin/env bash
# `npm test`: every test of the project, cheapest first. Installs what the tests need that
# scripts/local-up.sh does not (each cached by version, outside the clone): etcd's upgrade targets, promtool
# and Prometheus, Debian's etcd packages, and the Go servers of the lab (MinIO, Pulumi's YAML language host,
# kube-apiserver). Needs the Debian packages of scripts/install-deps.sh, `npm ci`, and for the end-to-end
# suite root with systemd-nspawn and debootstrap (see README).
set -euo pipefail
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
readonly CLI_NAME=test-all # the prefix of its messages (die, log)
cli_answer_help "$@"
(($# == 0)) || die "unexpected argument: $1 (see --help)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/toolchain.sh --etcd-default-only # Node, Pulumi and the default etcd: at once when cached
# shellcheck source=scripts/env.sh disable=SC1091
source "$repo/scripts/env.sh"

step() { printf '\n=== %s\n' "$*"; }

# The slow parts of the test lab build in the background, beside the first steps (on a cold machine they are
# Go builds of many CPU-minutes; on a warm one they end at once). A test that needs one before it is done waits
# for it (lib/gobuild.sh builds each once, under a lock), and the end-to-end step starts when all are done.
lab_logs=$(mktemp -d)
lab_jobs=()
# lab NAME COMMAND...: run COMMAND in the background in a process group of its own (setsid), its output in
# $lab_logs/NAME.log.
lab() {
  local name=$1
  shift
  setsid "$@" >"$lab_logs/$name.log" 2>&1 &
  lab_jobs+=("$!:$name")
}
# On the way out (a failed step ends the run early), stop the builds still running, with their children.
lab_cleanup() {
  local job
  for job in "${lab_jobs[@]}"; do
    kill -- "-${job%%:*}" 2>/dev/null || true
  done
  rm -rf "$lab_logs"
}
trap lab_cleanup EXIT
# lab_wait: wait for every lab job; a failed one fails the run with its output.
lab_wait() {
  local job
  for job in "${lab_jobs[@]}"; do
    if ! wait "${job%%:*}"; then
      cat "$lab_logs/${job#*:}.log" >&2
      die "preparing the test lab failed: ${job#*:} (its output is above)"
    fi
  done
  lab_jobs=() # all reaped: lab_cleanup must not signal their process group ids, which may be reused by then
}
lab etcd-upgrade-targets bash scripts/toolchain.sh # the day-2 test's patch and minor upgrades
lab debian-etcd bash scripts/lab/debian-etcd.sh download # the adoption test's cluster built by hand
lab minio bash scripts/lab/s3-server.sh build # the backup test's S3 server
lab pulumi-language-yaml bash scripts/lab/go-tools.sh pulumi-language-yaml # the multi-language package test
lab kube-apiserver bash scripts/lab/go-tools.sh kube-apiserver # its end-to-end test
bash scripts/lab/prometheus.sh install >/dev/null # promtool for the unit tests of the alert rules (~10 s cold)
step "type check"
npx tsc -p tsconfig.json --noEmit
step "shellcheck of the project's scripts"
shellcheck -S style -x scripts/*.sh scripts/lab/*.sh scripts/lib/*.sh .ci/run
step "Hetzner Cloud API stand-in: build, contract tests driven by hcloud-go (API only, then real hosts)"
bash scripts/lab/hcloud-standin.sh build >/dev/null
HCLOUD_STANDIN_REAL_HOSTS=1 bash scripts/lab/hcloud-standin.sh test
step "unit tests, two files at a time"
# jest's default on 2 cores is one worker; the files are independent, and two halve the wall time (100 -> 55 s).
npx jest --selectProjects unit --maxWorkers=2
step "linearizability recorder and checker (tools/lincheck): build, go test (hand-made histories, a local etcd)"
bash scripts/lab/go-tools.sh lincheck >/dev/null
(cd tools/lincheck && go vet ./... && go test -count=1 ./...)
step "integration tests (real Pulumi engine and providers), two files at a time"
# Each file has its own stacks and directories; two side by side took 86 s against 116 s one at a time.
npx jest --selectProjects integration --maxWorkers=2
step "end-to-end tests (real engine, local Debian hosts, real etcd), two files at a time"
lab_wait
# Each file has its own rig (names, bridges, address ranges) and stand-in, so two run side by side; they
# spend most of their time waiting on hosts and etcd, which halves the wall time on 2 cores.
npx jest --selectProjects e2e --maxWorkers=2
