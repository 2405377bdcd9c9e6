// Installs one etcd release on a host: verified download, a versioned directory, the service user and
// directories. Idempotent: a release already present with the same checksum is left alone.
import { ResolvedRelease } from "../args";
import { PKI_DIR, releaseDir, RELEASES_DIR, SERVICE_USER } from "./layout";
import { SCRIPT_HEADER, shellQuote } from "./shell";

export interface InstallInput {
    release: ResolvedRelease;
    dataDir: string;
}

export function installScript({ release, dataDir }: InstallInput): string {
    const dest = releaseDir(release.version);
    return `${SCRIPT_HEADER}# Install etcd ${release.version} (managed by the EtcdCluster Pulumi component).
version=${shellQuote(release.version)}
url=${shellQuote(release.url)}
sha256=${shellQuote(release.sha256)}
dest=${shellQuote(dest)}

# The distribution package starts a single-member cluster of its own as soon as it is installed, whose data
# would shadow ours; refuse rather than fight it.
for pkg in etcd etcd-server; do
  status=$(dpkg-query -W -f='\${Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" = "install ok installed" ]; then
    echo "the distribution package $pkg is installed; remove it first (apt-get purge $pkg) and run pulumi up again" >&2
    exit 1
  fi
done

if ! getent passwd ${SERVICE_USER} >/dev/null; then
  useradd --system --user-group --home-dir ${shellQuote(dataDir)} --no-create-home --shell /usr/sbin/nologin ${SERVICE_USER}
fi
install -d -m 0700 -o ${SERVICE_USER} -g ${SERVICE_USER} ${shellQuote(dataDir)}
install -d -m 0755 -o root -g root /etc/etcd
install -d -m 0700 -o ${SERVICE_USER} -g ${SERVICE_USER} ${PKI_DIR}
install -d -m 0755 -o root -g root ${RELEASES_DIR}

if [ -f "$dest/.sha256" ] && [ "$(cat "$dest/.sha256")" = "$sha256" ]; then
  echo "etcd $version already installed in $dest"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl --fail --silent --show-error --location --retry 5 --retry-connrefused --max-time 300 -o "$work/etcd.tar.gz" "$url"
if ! echo "$sha256  $work/etcd.tar.gz" | sha256sum --check --status -; then
  echo "checksum mismatch for $url: expected $sha256, got $(sha256sum "$work/etcd.tar.gz" | cut -d' ' -f1)" >&2
  exit 1
fi
mkdir "$work/unpacked"
tar -xzf "$work/etcd.tar.gz" -C "$work/unpacked" --strip-components=1 --no-same-owner
install -d -m 0755 "$work/release"
for bin in etcd etcdctl etcdutl; do
  install -m 0755 "$work/unpacked/$bin" "$work/release/$bin"
done
# Captured first: piping into grep -q under pipefail fails at random when grep exits before etcd is done.
reported=$("$work/release/etcd" --version)
if [[ "$reported" != *"etcd Version: $version"$'\n'* ]]; then
  echo "the tarball at $url does not contain etcd $version (it says: \${reported%%$'\n'*})" >&2
  exit 1
fi
echo "$sha256" > "$work/release/.sha256"
# Swap the directory in whole, so a failed run never leaves half a release behind.
rm -rf "$dest.old"
if [ -d "$dest" ]; then mv "$dest" "$dest.old"; fi
mv "$work/release" "$dest"
rm -rf "$dest.old"
echo "installed etcd $version in $dest"
`;
}

/** Run when a member is removed or the stack destroyed: stop etcd and remove what we installed. The data
 * directory is kept (renamed), because deleting etcd data is never undone. */
export function uninstallScript({ release, dataDir }: InstallInput): string {
    return `${SCRIPT_HEADER}# Remove etcd ${release.version} (managed by the EtcdCluster Pulumi component); data is kept.
systemctl disable --now etcd.service 2>/dev/null || true
rm -f /etc/systemd/system/etcd.service
systemctl daemon-reload
rm -rf ${PKI_DIR} ${shellQuote(releaseDir(release.version))}
rm -f /usr/local/bin/etcd /usr/local/bin/etcdctl /usr/local/bin/etcdutl
if [ -d ${shellQuote(dataDir)} ]; then
  kept=${shellQuote(dataDir)}.removed-$(date +%Y%m%dT%H%M%S)
  mv ${shellQuote(dataDir)} "$kept"
  echo "etcd stopped and removed; its data is kept in $kept"
fi
`;
}
