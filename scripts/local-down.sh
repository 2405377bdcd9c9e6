#!/usr/bin/env bash
# Takes the local default down: `pulumi destroy` of the local stack (while the local Hetzner Cloud API
# stand-in still runs), the stack's removal, then the stand-in with its hosts, rig and state
# (scripts/lab/hcloud-standin.sh down --name local). Touches only what scripts/local-up.sh made (rig `local`).
# Safe to run twice, and after a failed or interrupted local-up: whatever the destroy could not remove goes
# with the stand-in, since every "cloud" resource of the stack is local.
#   PULUMI_CONFIG_PASSPHRASE  as for local-up (default "local-only")
set -euo pipefail
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
readonly CLI_NAME=local-down # the prefix of its messages (die, log)
cli_answer_help "$@"
(($# == 0)) || die "unexpected argument: $1 (see --help)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/env.sh disable=SC1091
source scripts/env.sh
name=local
local_dir="$ETCD_CLUSTER_CACHE/local"
export PULUMI_BACKEND_URL="file://$local_dir/state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local-only}"
unset HCLOUD_TOKEN HCLOUD_ENDPOINT
started=$SECONDS

if [[ -d $local_dir/state/.pulumi ]] && pulumi stack select "$name" --non-interactive 2>/dev/null; then
  # The destroy needs the API that holds the servers (or, for a stack of the earlier local default, its hosts).
  if bash scripts/lab/hcloud-standin.sh status --name "$name" >/dev/null 2>&1 \
    || { [[ ! -d $ETCD_CLUSTER_CACHE/hcloud-standin/$name ]] && bash scripts/lab/testhosts.sh status --rig "$name" >/dev/null 2>&1; }; then
    t0=$SECONDS
    if pulumi destroy --yes --stack "$name" --non-interactive; then
      echo "local-down: pulumi destroy took $((SECONDS - t0)) s"
    else
      echo "local-down: pulumi destroy failed; removing the stack and the stand-in (and with it every server) anyway" >&2
    fi
  fi
  pulumi stack rm --yes --force "$name" --non-interactive
fi
bash scripts/lab/hcloud-standin.sh down --name "$name" # the API, every host, the rig `local` and its state
rm -rf "$local_dir/client" "$local_dir/ssh" "$local_dir/standin.json" "$local_dir/hosts.json" Pulumi.local.yaml
echo "local-down: the local cluster, its stack, the stand-in and its hosts are gone ($((SECONDS - started)) s)"
