#!/usr/bin/env bash
# Takes the local default down: `pulumi destroy` of the local stack, then the local hosts. Safe to run twice.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/env.sh disable=SC1091
source scripts/env.sh
local_dir="$ETCD_CLUSTER_CACHE/local"
export PULUMI_BACKEND_URL="file://$local_dir/state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local-only}"
if [ -d "$local_dir/state" ] && pulumi stack select local --non-interactive 2>/dev/null; then
  if bash scripts/testhosts.sh status --rig local >/dev/null 2>&1; then
    pulumi destroy --yes --stack local --non-interactive
  fi
  pulumi stack rm --yes --force local --non-interactive
fi
bash scripts/testhosts.sh down --rig local
rm -rf "$local_dir/client" Pulumi.local.yaml
echo "local cluster and hosts are gone"
