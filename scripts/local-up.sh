#!/usr/bin/env bash
# The local default: the dev stack (Pulumi.dev.yaml: 3 x cpx11, ubuntu-22.04, ash, us-east, network
# 10.1.0.0/16, subnet 10.1.1.0/24) deployed by the real program (index.ts, through its Hetzner layer) with
# `pulumi up`, against the local stand-in for the Hetzner Cloud API (tools/hcloud-standin, rig `local`):
# every server it creates is a real local Debian host, public addresses 198.18.1.11 and up. Then prints how
# to reach the cluster with etcdctl and the hosts with ssh. Needs root. Running it again converges (the
# second `pulumi up` changes nothing). Take it down with scripts/local-down.sh.
#
# The stack's configuration is Pulumi.local.yaml (git-ignored): the dev stack's values plus only what the
# local path needs: hcloud:endpoint and hcloud:token (secret) of the stand-in, and etcd-cluster:release
# pointing at the toolchain's etcd tarball served on the rig's bridge (http://198.18.1.1:8080).
#
#   PULUMI_CONFIG_PASSPHRASE  passphrase of the local stack's secrets (default "local-only")
#   ETCD_CLUSTER_CACHE        cache and state (default ~/.cache/etcd-cluster); under it:
#     local/state             the stack's state (file backend)
#     local/client            etcdctl, ca.crt, admin.crt, admin.key (0600)
#     local/ssh/id_ed25519    the generated SSH key (the stack's sshPrivateKey output, 0600)
#     local/www               the etcd release the hosts download
#     hcloud-standin/local    the stand-in's token (0600), state and log; rigs/local: its hosts
set -euo pipefail
# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
readonly CLI_NAME=local-up # the prefix of its messages (die, log)
cli_answer_help "$@"
(($# == 0)) || die "unexpected argument: $1 (see --help)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
name=local
public_prefix=198.18.1
bridge=etb-$name

# The subnet's first address goes on the rig's bridge once a server is on the subnet; if another interface
# has an address of that subnet (the hcloud e2e test's rig uses the dev stack's subnet too), both cannot run.
subnet=$(sed -n 's/^ *subnetCidr: *//p' Pulumi.dev.yaml)
[[ $subnet =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.0/24$ ]] || die "expected a /24 subnetCidr in Pulumi.dev.yaml, got '$subnet'"
subnet_prefix=${BASH_REMATCH[1]}
taken=""
if command -v ip >/dev/null; then
  taken=$(ip -o -4 addr show | awk -v b="$bridge" -v p="$subnet_prefix." -v q="$public_prefix." \
    '$2 != b && (index($4, p) == 1 || index($4, q) == 1) { print $4 " on " $2 }')
fi
if [[ -n $taken ]]; then
  die "the dev stack's subnet $subnet (or the local public range $public_prefix.0/24) is in use here: $(echo "$taken" | paste -sd, -).
Another rig uses it (the hcloud end-to-end test's rig hcloud-e2e uses $subnet as well); this script does not
touch rigs it did not create. Run local-up again once that one is gone."
fi

started=$SECONDS
export PULUMI_RELEASE_MIRROR="${PULUMI_RELEASE_MIRROR:-$repo/../shared/toolchain}"
bash scripts/install-deps.sh
bash scripts/toolchain.sh --etcd-default-only   # the versions only the tests use are built by npm test
# shellcheck source=scripts/env.sh disable=SC1091
source scripts/env.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
local_dir="$ETCD_CLUSTER_CACHE/local"
standin_dir="$ETCD_CLUSTER_CACHE/hcloud-standin/$name"

# Left over by the earlier local default (existing hosts), or a stand-in whose state is gone.
if { [[ -f $ETCD_CLUSTER_CACHE/rigs/$name/rig.env ]] && [[ ! -d $standin_dir ]]; } \
  || { [[ -f Pulumi.local.yaml ]] && grep -q existingHosts Pulumi.local.yaml; }; then
  die "a local cluster from an earlier scripts/local-up.sh (existing hosts) is still there; run bash scripts/local-down.sh first"
fi
trap 'echo "local-up: failed; bash scripts/local-down.sh takes down what it made" >&2' ERR

tarball="etcd-v$ETCD_VERSION-linux-amd64.tar.gz"
mkdir -p "$local_dir/state" "$local_dir/www/v$ETCD_VERSION" "$local_dir/client" "$local_dir/ssh"
cmp -s "$ETCD_RELEASE_DIR/$tarball" "$local_dir/www/v$ETCD_VERSION/$tarball" \
  || cp "$ETCD_RELEASE_DIR/$tarball" "$local_dir/www/v$ETCD_VERSION/$tarball"
bash scripts/lab/hcloud-standin.sh up --name "$name" --public-prefix "$public_prefix" --serve "$local_dir/www" >"$local_dir/standin.json"
echo "local-up: stand-in ready after $((SECONDS - started)) s"

export PULUMI_BACKEND_URL="file://$local_dir/state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local-only}"
unset HCLOUD_TOKEN HCLOUD_ENDPOINT # the stack's own configuration decides where the provider goes
# Pulumi.local.yaml: the dev stack's configuration plus the local path's; the encryption salt and the
# encrypted token are kept, so that a re-run writes the same file.
node -e '
  const fs = require("fs"), yaml = require("js-yaml");
  const [standinFile, version, sha256] = process.argv.slice(1);
  const standin = JSON.parse(fs.readFileSync(standinFile, "utf8"));
  const dev = yaml.load(fs.readFileSync("Pulumi.dev.yaml", "utf8"));
  const old = fs.existsSync("Pulumi.local.yaml") ? yaml.load(fs.readFileSync("Pulumi.local.yaml", "utf8")) ?? {} : {};
  const doc = {};
  doc.config = {
    ...dev.config,
    "etcd-cluster:release": { version, sha256, downloadBaseUrl: standin.serveUrl.replace(/\/$/, "") },
    "hcloud:endpoint": standin.endpoint,
  };
  if (old.config?.["hcloud:token"]?.secure) doc.config["hcloud:token"] = old.config["hcloud:token"];
  if (old.encryptionsalt) doc.encryptionsalt = old.encryptionsalt;
  fs.writeFileSync("Pulumi.local.yaml", "# Written by scripts/local-up.sh (the dev stack on the local Hetzner Cloud API stand-in)\n" + yaml.dump(doc, { lineWidth: -1 }));
' "$local_dir/standin.json" "$ETCD_VERSION" "$(cat "$ETCD_RELEASE_DIR/$tarball.sha256")"
pulumi stack select --create --secrets-provider passphrase "$name" --non-interactive
token_file=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).tokenFile' "$local_dir/standin.json")
if [[ $(pulumi config get hcloud:token --stack "$name" 2>/dev/null || true) != "$(cat "$token_file")" ]]; then
  pulumi config set --secret hcloud:token --stack "$name" --non-interactive <"$token_file" # stdin: never in a process list
fi
t0=$SECONDS
pulumi up --yes --stack "$name" --non-interactive
echo "local-up: pulumi up took $((SECONDS - t0)) s"

out() { pulumi stack output --stack "$name" "$@"; }
# Written to a temporary file with a private umask, then moved: an existing file keeps no other mode.
secret_file() {
  (umask 077 && out --show-secrets "$1" >"$2.tmp")
  chmod 600 "$2.tmp" && mv -f "$2.tmp" "$2"
}
out caCertificate >"$local_dir/client/ca.crt"
out adminClientCertificate >"$local_dir/client/admin.crt"
secret_file adminClientKey "$local_dir/client/admin.key"
secret_file sshPrivateKey "$local_dir/ssh/id_ed25519"
endpoints=$(out clientEndpoints --json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).join(","))')
members=$(out members --json | node -e 'for (const m of JSON.parse(require("fs").readFileSync(0, "utf8"))) console.log(m.name, m.publicIp, m.privateIp)')
etcdctl_dir=$(mktemp -d "$local_dir/etcdctl.XXXXXX")
tar -xzf "$ETCD_RELEASE_DIR/$tarball" -C "$etcdctl_dir" --strip-components=1
mv -f "$etcdctl_dir/etcdctl" "$local_dir/client/etcdctl" && rm -rf "$etcdctl_dir"
# Health as it is now, not the text of the last cluster check (which runs only when something changed).
if ! health=$("$local_dir/client/etcdctl" --endpoints="$endpoints" --cacert="$local_dir/client/ca.crt" \
    --cert="$local_dir/client/admin.crt" --key="$local_dir/client/admin.key" --dial-timeout=3s --command-timeout=5s endpoint health 2>&1); then
  echo "local-up: pulumi up finished, but not every member is healthy now:" >&2
  echo "$health" >&2
  echo "local-up: see docs/operations.md, \"A member is lost or down\" (pulumi up --refresh repairs a lost server)" >&2
  exit 1
fi
measured=$(date -u +%H:%M:%S)
trap - ERR

if [[ $PULUMI_CONFIG_PASSPHRASE == local-only ]]; then
  passphrase_line="export PULUMI_CONFIG_PASSPHRASE=local-only"
else
  passphrase_line="export PULUMI_CONFIG_PASSPHRASE=...   # the one you set for local-up"
fi
ssh_opts="-i $local_dir/ssh/id_ed25519 -o UserKnownHostsFile=$local_dir/ssh/known_hosts -o StrictHostKeyChecking=accept-new"
cat <<EOT

The cluster is up ($((SECONDS - started)) s; every member answered healthy at $measured UTC): the dev stack on the local Hetzner Cloud API stand-in
($(node -p 'require(process.argv[1]).endpoint' "$local_dir/standin.json"), servers are local Debian hosts).

Reach it with etcdctl:

  export ETCDCTL_ENDPOINTS=$endpoints
  export ETCDCTL_CACERT=$local_dir/client/ca.crt
  export ETCDCTL_CERT=$local_dir/client/admin.crt
  export ETCDCTL_KEY=$local_dir/client/admin.key
  $local_dir/client/etcdctl member list -w table
  $local_dir/client/etcdctl put greeting hello && $local_dir/client/etcdctl get greeting

SSH to the hosts (root, with the key the stack generated: the sshPrivateKey output):

$(while read -r m pub priv; do printf '  ssh %s root@%s   # %s, private %s\n' "$ssh_opts" "$pub" "$m" "$priv"; done <<<"$members")

The stack (outputs, config, state):

  cd $repo && source scripts/env.sh
  export PULUMI_BACKEND_URL=file://$local_dir/state
  $passphrase_line
  pulumi stack output --stack $name
  pulumi stack output --stack $name --show-secrets adminClientKey

Take it down: bash scripts/local-down.sh
EOT
