#!/usr/bin/env bash
# The local default: a real etcd cluster on local Debian hosts (systemd-nspawn), deployed by the real
# program (index.ts) with `pulumi up`. Then prints how to reach it with etcdctl. Needs root.
#   ETCD_LOCAL_MEMBERS        members (default 3)
#   PULUMI_CONFIG_PASSPHRASE  passphrase of the local stack's secrets (default "local-only")
#   ETCD_CLUSTER_CACHE        cache and state (default ~/.cache/etcd-cluster); the stack's state lives in
#                             $ETCD_CLUSTER_CACHE/local/state
# Take it down with scripts/local-down.sh.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PULUMI_RELEASE_MIRROR="${PULUMI_RELEASE_MIRROR:-$repo/../shared/toolchain}"
bash scripts/install-deps.sh
bash scripts/toolchain.sh
# shellcheck source=scripts/env.sh disable=SC1091
source scripts/env.sh
[ -d node_modules ] || npm ci --no-audit --no-fund

members=${ETCD_LOCAL_MEMBERS:-3}
local_dir="$ETCD_CLUSTER_CACHE/local"
mkdir -p "$local_dir/state" "$local_dir/www/v$ETCD_VERSION" "$local_dir/client"
tarball="etcd-v$ETCD_VERSION-linux-amd64.tar.gz"
cp "$ETCD_RELEASE_DIR/$tarball" "$local_dir/www/v$ETCD_VERSION/$tarball"

if ! bash scripts/testhosts.sh status --rig local >/dev/null 2>&1; then
  bash scripts/testhosts.sh down --rig local >/dev/null 2>&1 || true
  bash scripts/testhosts.sh up --rig local --count "$members" --private-prefix 10.1.1 --public-prefix 198.18.1 \
    --serve "$local_dir/www" > "$local_dir/hosts.json"
fi

export PULUMI_BACKEND_URL="file://$local_dir/state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local-only}"
# The stack's configuration comes from the hosts just started (Pulumi.local.yaml is git-ignored).
node -e '
  const rig = require(process.argv[1]);
  const cfg = { config: {
    "etcd-cluster:existingHosts": rig.hosts.map((h) => ({ name: h.name, privateIp: h.privateIp, publicIp: h.publicIp })),
    "etcd-cluster:sshPrivateKeyPath": rig.sshPrivateKeyPath,
    "etcd-cluster:release": { version: process.argv[2], sha256: process.argv[3], downloadBaseUrl: rig.serveUrl.replace(/\/$/, "") },
  } };
  const fs = require("fs");
  const salt = fs.existsSync("Pulumi.local.yaml") && /^encryptionsalt: .*$/m.exec(fs.readFileSync("Pulumi.local.yaml", "utf8"));
  fs.writeFileSync("Pulumi.local.yaml", "# Written by scripts/local-up.sh\n" + JSON.stringify(cfg, null, 2) + "\n" + (salt ? salt[0] + "\n" : ""));
' "$local_dir/hosts.json" "$ETCD_VERSION" "$(cat "$ETCD_RELEASE_DIR/$tarball.sha256")"
pulumi stack select --create --secrets-provider passphrase local --non-interactive
pulumi up --yes --stack local --non-interactive

pulumi stack output caCertificate > "$local_dir/client/ca.crt"
pulumi stack output adminClientCertificate > "$local_dir/client/admin.crt"
(umask 077 && pulumi stack output --show-secrets adminClientKey > "$local_dir/client/admin.key")
endpoints=$(pulumi stack output clientEndpoints --json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).join(","))')
etcdctl_dir=$(mktemp -d "$local_dir/etcdctl.XXXXXX")
tar -xzf "$ETCD_RELEASE_DIR/$tarball" -C "$etcdctl_dir" --strip-components=1
mv -f "$etcdctl_dir/etcdctl" "$local_dir/client/etcdctl" && rm -rf "$etcdctl_dir"

cat <<EOT

The cluster is up. Reach it with etcdctl:

  export ETCDCTL_ENDPOINTS=$endpoints
  export ETCDCTL_CACERT=$local_dir/client/ca.crt
  export ETCDCTL_CERT=$local_dir/client/admin.crt
  export ETCDCTL_KEY=$local_dir/client/admin.key
  $local_dir/client/etcdctl member list -w table
  $local_dir/client/etcdctl put greeting hello && $local_dir/client/etcdctl get greeting

Hosts: ssh -i $(node -p 'require(process.argv[1]).sshPrivateKeyPath' "$local_dir/hosts.json") root@198.18.1.11
Take it down: bash scripts/local-down.sh
EOT
