// Installs one etcd release on a host: verified download, a versioned directory, the service user and
// directories. Idempotent: a release already present with the same checksum is left alone.
import { ResolvedRelease } from "../plan";
import { CONFIG_DIR, HostLayout, OWNER_FILE, PKI_DIR, RELEASES_DIR, SERVICE_USER, UNIT_PATH } from "./layout";
import { header } from "./shell";

export interface InstallInput {
    release: ResolvedRelease;
    layout: HostLayout;
    /** `<cluster>/<member>`: the uninstall acts only on a host that still belongs to this member. */
    owner: string;
}

export function installScript({ release, layout, owner }: InstallInput): string {
    return header(`Install etcd ${release.version}`, {
        OWNER: owner,
        OWNER_FILE,
        UNIT_PATH,
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
    }) + OWNERSHIP_CHECK + INSTALL_BODY;
}

/**
 * Before anything changes: a host whose data belongs to another member (a renamed cluster or member would
 * start a second cluster here, and the old one's delete would then uninstall the host), or whose data
 * directory moved while the old one holds data (an empty directory would bootstrap a new cluster), is
 * refused. Then the host is marked as this member's. Reads OWNER, OWNER_FILE, UNIT_PATH, DATA_DIR.
 */
export const OWNERSHIP_CHECK = `
had_owner="" had_data=""
if [ -f "$OWNER_FILE" ]; then read -r had_owner had_data < "$OWNER_FILE" || true; fi
# Hosts set up before the marker existed: the running unit says where the data is.
if [ -z "$had_data" ] && [ -f "$UNIT_PATH" ]; then had_data=$(sed -n 's/.*--data-dir=\\([^ ]*\\).*/\\1/p' "$UNIT_PATH"); fi
if [ -n "$had_owner" ] && [ "$had_owner" != "$OWNER" ] && [ -n "$had_data" ] && [ -d "$had_data/member" ]; then
  echo "refusing to install $OWNER here: this host runs etcd member $had_owner (data in $had_data). Renaming the cluster or a member would start a second cluster on it; keep the names (rename the Pulumi resource with aliases instead: docs/operations.md), or remove that member first. Nothing was changed." >&2
  exit 1
fi
if [ -n "$had_data" ] && [ "$had_data" != "$DATA_DIR" ] && [ -d "$had_data/member" ]; then
  echo "refusing dataDir $DATA_DIR for $OWNER: its data is in $had_data, and an empty data directory would make it start over (a single member would bootstrap a new, empty cluster). Set dataDir back, or move the data first, one member at a time (systemctl stop etcd; mv $had_data $DATA_DIR). Nothing was changed." >&2
  exit 1
fi
install -d -m 0755 -o root -g root "$(dirname "$OWNER_FILE")"
printf '%s %s\n' "$OWNER" "$DATA_DIR" > "$OWNER_FILE"
`;

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
export function uninstallScript({ release, layout, owner }: InstallInput): string {
    return header(`Remove etcd ${release.version}; data is kept`, {
        OWNER: owner,
        OWNER_FILE,
        UNIT_PATH,
        PKI_DIR,
        DEST: layout.releaseDir,
        LINKS: Object.values(layout.links),
        DATA_DIR: layout.dataDir,
    }) + UNINSTALL_BODY;
}

const UNINSTALL_BODY = `# Only a host that is still this member's: after a rename or a replacement it may be another's now.
if [ -f "$OWNER_FILE" ] && [ "$(cut -d' ' -f1 "$OWNER_FILE")" != "$OWNER" ]; then
  echo "this host now belongs to etcd member $(cut -d' ' -f1 "$OWNER_FILE"), not $OWNER: left alone"
  exit 0
fi
systemctl disable --now etcd.service 2>/dev/null || true
rm -f "$UNIT_PATH"
systemctl daemon-reload
rm -rf "$PKI_DIR" "$DEST"
rm -f "\${LINKS[@]}"
if [ -d "$DATA_DIR" ]; then
  kept=$DATA_DIR.removed-$(date +%Y%m%dT%H%M%S)
  mv "$DATA_DIR" "$kept"
  echo "etcd stopped and removed; its data is kept in $kept"
fi
rm -f "$OWNER_FILE"
`;
