// Installs one etcd release on a host: verified download, a versioned directory, the service user and
// directories. Idempotent: a release already present with the same checksum is left alone.
import { ResolvedRelease } from "../plan";
import { CONFIG_DIR, HostLayout, PKI_DIR, RELEASES_DIR, SERVICE_USER, UNIT_PATH } from "./layout";
import { header } from "./shell";

export interface InstallInput {
    release: ResolvedRelease;
    layout: HostLayout;
}

export function installScript({ release, layout }: InstallInput): string {
    return header(`Install etcd ${release.version}`, {
        VERSION: release.version,
        URL: release.url,
        SHA256: release.sha256,
        DEST: layout.releaseDir,
        DATA_DIR: layout.dataDir,
        SERVICE_USER,
        CONFIG_DIR,
        PKI_DIR,
        RELEASES_DIR,
        BINARIES: Object.keys(layout.release),
    }) + INSTALL_BODY;
}

const INSTALL_BODY = `
# The distribution package starts a single-member cluster of its own as soon as it is installed, whose data
# would shadow ours; refuse rather than fight it.
for pkg in etcd etcd-server; do
  status=$(dpkg-query -W -f='\${Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" = "install ok installed" ]; then
    echo "the distribution package $pkg is installed; remove it first (apt-get purge $pkg) and run pulumi up again" >&2
    exit 1
  fi
done

if ! getent passwd "$SERVICE_USER" >/dev/null; then
  useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"
install -d -m 0755 -o root -g root "$CONFIG_DIR"
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$PKI_DIR"
install -d -m 0755 -o root -g root "$RELEASES_DIR"

if [ -f "$DEST/.sha256" ] && [ "$(cat "$DEST/.sha256")" = "$SHA256" ]; then
  echo "etcd $VERSION already installed in $DEST"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl --fail --silent --show-error --location --retry 5 --retry-connrefused --max-time 300 -o "$work/etcd.tar.gz" "$URL"
if ! echo "$SHA256  $work/etcd.tar.gz" | sha256sum --check --status -; then
  echo "checksum mismatch for $URL: expected $SHA256, got $(sha256sum "$work/etcd.tar.gz" | cut -d' ' -f1)" >&2
  exit 1
fi
mkdir "$work/unpacked"
tar -xzf "$work/etcd.tar.gz" -C "$work/unpacked" --strip-components=1 --no-same-owner
install -d -m 0755 "$work/release"
for bin in "\${BINARIES[@]}"; do
  install -m 0755 "$work/unpacked/$bin" "$work/release/$bin"
done
# Captured first: piping into grep -q under pipefail fails at random when grep exits before etcd is done.
reported=$("$work/release/etcd" --version)
if [[ "$reported" != *"etcd Version: $VERSION"$'\\n'* ]]; then
  echo "the tarball at $URL does not contain etcd $VERSION (it says: \${reported%%$'\\n'*})" >&2
  exit 1
fi
echo "$SHA256" > "$work/release/.sha256"
# Swap the directory in whole, so a failed run never leaves half a release behind.
rm -rf "$DEST.old"
if [ -d "$DEST" ]; then mv "$DEST" "$DEST.old"; fi
mv "$work/release" "$DEST"
rm -rf "$DEST.old"
echo "installed etcd $VERSION in $DEST"
`;

/** Run when a member is removed or the stack destroyed: stop etcd and remove what we installed. The data
 * directory is kept (renamed), because deleting etcd data is never undone. */
export function uninstallScript({ release, layout }: InstallInput): string {
    return header(`Remove etcd ${release.version}; data is kept`, {
        UNIT_PATH,
        PKI_DIR,
        DEST: layout.releaseDir,
        LINKS: Object.values(layout.links),
        DATA_DIR: layout.dataDir,
    }) + UNINSTALL_BODY;
}

const UNINSTALL_BODY = `systemctl disable --now etcd.service 2>/dev/null || true
rm -f "$UNIT_PATH"
systemctl daemon-reload
rm -rf "$PKI_DIR" "$DEST"
rm -f "\${LINKS[@]}"
if [ -d "$DATA_DIR" ]; then
  kept=$DATA_DIR.removed-$(date +%Y%m%dT%H%M%S)
  mv "$DATA_DIR" "$kept"
  echo "etcd stopped and removed; its data is kept in $kept"
fi
`;
