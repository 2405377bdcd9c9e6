#!/usr/bin/env bash
# `npm test`: every test of the project, cheapest first. Needs the toolchain (scripts/toolchain.sh) and,
# for the end-to-end suite, root with systemd-nspawn and debootstrap (see README).
set -euo pipefail
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
readonly CLI_NAME=test-all # the prefix of its messages (die, log)
cli_answer_help "$@"
(($# == 0)) || die "unexpected argument: $1 (see --help)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh disable=SC1091
source "$repo/scripts/env.sh"
cd "$repo"

step() { printf '\n=== %s\n' "$*"; }
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
# Each file has its own rig (names, bridges, address ranges) and stand-in, so two run side by side; they
# spend most of their time waiting on hosts and etcd, which halves the wall time on 2 cores.
npx jest --selectProjects e2e --maxWorkers=2
