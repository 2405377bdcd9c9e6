#!/usr/bin/env bash
# `npm run preview`: `pulumi preview` of the dev stack (Pulumi.dev.yaml) on the real engine and providers,
# offline and without a Hetzner account: a scratch copy of the program, a local file backend, a dummy
# 64-character token and an API endpoint on loopback that nothing answers (preview needs no API call).
# Extra arguments go to `pulumi preview` (e.g. --json, --diff).
#   HCLOUD_TOKEN     default: 64 x "0"          HCLOUD_ENDPOINT  default: http://127.0.0.1:9/v1
set -euo pipefail
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
readonly CLI_NAME=preview # the prefix of its messages (die, log)
cli_answer_help "$@"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh disable=SC1091
source "$repo/scripts/env.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/state" "$work/program"
cp -r "$repo"/{Pulumi.yaml,Pulumi.dev.yaml,index.ts,components,package.json,tsconfig.json,tsconfig.pulumi.json,versions.json} "$work/program/"
ln -s "$repo/node_modules" "$work/program/node_modules"

export PULUMI_BACKEND_URL="file://$work/state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-preview-only}"
export PULUMI_NODEJS_TRANSPILE_ONLY=true
export HCLOUD_TOKEN="${HCLOUD_TOKEN:-$(printf '0%.0s' {1..64})}"
export HCLOUD_ENDPOINT="${HCLOUD_ENDPOINT:-http://127.0.0.1:9/v1}"
cd "$work/program"
pulumi stack init dev --secrets-provider passphrase --non-interactive >/dev/null
pulumi preview --stack dev --non-interactive "$@"
