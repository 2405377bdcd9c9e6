# shellcheck shell=bash
# scripts/lib/rootfs.sh - the base root file system of the test hosts: Debian bookworm built once by debootstrap,
# cached under $CACHE_DIR/rootfs by a key of everything that makes it, never written to afterwards (the lower
# layer of every host's overlay). Needs log and die (lib/cli.sh), CACHE_DIR and LOCK_FD (a lock debootstrap must
# not inherit, or empty); ensure_rootfs sets ROOTFS.

readonly SUITE=bookworm
# rclone: the scheduled backup uploads with it. On real servers the maintenance install apt-gets it when uploads
# are configured; the test hosts reach no package mirror, so their rootfs carries it (debootstrap has the mirror).
readonly PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,ca-certificates,curl,tar,gzip,rclone
# Bump when customize_rootfs changes in a way its text does not show.
readonly CUSTOMIZE_VERSION=1

# Unmount everything mounted at or below DIR, deepest first.
umount_under() {
  local dir=$1 m i
  local -a mounts=()
  while read -r m; do
    m=$(printf '%b' "$m") # findmnt escapes spaces etc. as \x20
    [[ $m == "$dir" || $m == "$dir"/* ]] && mounts+=("$m")
  done < <(findmnt -rn -o TARGET 2>/dev/null || true)
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null \
      || log "warning: could not unmount ${mounts[i]}"
  done
}

apt_mirror() {
  if [[ -n ${TESTHOSTS_MIRROR:-} ]]; then
    printf '%s\n' "$TESTHOSTS_MIRROR"
    return
  fi
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    while read -r uri; do
      uri=${uri%/}
      if [[ $uri =~ ^https?://[^[:space:]]+/debian$ ]]; then
        printf '%s\n' "$uri"
        return
      fi
    done < <(sed -nE -e 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' \
      -e 's/^[[:space:]]*URIs:[[:space:]]*//p' "$f" | tr ' ' '\n')
  done
  die "no Debian mirror found in /etc/apt/sources.list{,.d}; set TESTHOSTS_MIRROR"
}

# Everything done to the debootstrapped tree before it becomes the cached
# base rootfs. Its text is part of the cache key.
customize_rootfs() {
  local r=$1
  # Per-host identity is written by prepare_host: no shared host keys or ids.
  rm -f "$r"/etc/ssh/ssh_host_*
  : >"$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id"
  ln -s /etc/machine-id "$r/var/lib/dbus/machine-id"
  printf 'localhost\n' >"$r/etc/hostname" # debootstrap copied the build machine's
  printf '# testhosts: no DNS on test hosts\n' >"$r/etc/resolv.conf"
  : >"$r/etc/motd"
  # Locale-free: no locales package, C.UTF-8 everywhere, accept no LANG/LC_* from clients.
  printf 'LANG=C.UTF-8\n' >"$r/etc/locale.conf"
  printf 'LANG=C.UTF-8\n' >"$r/etc/default/locale"
  sed -i -E '/^[[:space:]]*AcceptEnv/d' "$r/etc/ssh/sshd_config"
  mkdir -p "$r/etc/ssh/sshd_config.d"
  cat >"$r/etc/ssh/sshd_config.d/10-testhosts.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
PrintLastLog no
EOF
  systemctl --root="$r" enable systemd-networkd.service ssh.service
  systemctl --root="$r" set-default multi-user.target
  # Nothing that slows the boot, waits on a console or reaches for the network.
  systemctl --root="$r" mask \
    apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
    dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    console-getty.service container-getty@.service getty@.service serial-getty@.service \
    getty.target systemd-timesyncd.service
  rm -f "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin
  find "$r/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete 2>/dev/null || true
  printf 'suite=%s\npackages=%s\ncustomize=%s\n' "$SUITE" "$PACKAGES" "$CUSTOMIZE_VERSION" \
    >"$r/etc/etcd-testhosts-rootfs"
}

rootfs_key() {
  {
    printf '%s\n%s\n%s\n' "$SUITE" "$PACKAGES" "$CUSTOMIZE_VERSION"
    declare -f customize_rootfs
  } | sha256sum | cut -c1-12
}

BUILD_TMP=""
BUILD_PID=""
cleanup_build_tmp() { # after a failed build: keep only its log
  local i
  if [[ -n $BUILD_PID ]] && kill -0 "$BUILD_PID" 2>/dev/null; then
    # debootstrap runs in a session (and process group) of its own: stop it all.
    kill -TERM -- "-$BUILD_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 -- "-$BUILD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$BUILD_PID" 2>/dev/null || true
    wait "$BUILD_PID" 2>/dev/null || true
  fi
  BUILD_PID=""
  [[ -n $BUILD_TMP && -d $BUILD_TMP ]] || return 0
  log "rootfs build failed; last lines of $BUILD_TMP.log:"
  tail -n 30 "$BUILD_TMP.log" >&2 || true
  umount_under "$BUILD_TMP"
  rm -rf --one-file-system "$BUILD_TMP"
  BUILD_TMP=""
}

# Sets ROOTFS to the cached base rootfs, building it first if needed.
ensure_rootfs() {
  local base=$CACHE_DIR/rootfs key
  key=$(rootfs_key)
  ROOTFS=$base/$SUITE-$key
  [[ -f $ROOTFS/etc/etcd-testhosts-rootfs ]] && return 0
  mkdir -p "$base"
  local fd
  exec {fd}>"$base/.build.lock"
  if ! flock -n "$fd"; then
    log "another up is building the rootfs; waiting for it (at most 900 s)"
    flock -w 900 "$fd" || die "timed out waiting for $base/.build.lock"
  fi
  if [[ -f $ROOTFS/etc/etcd-testhosts-rootfs ]]; then
    exec {fd}>&-
    return 0
  fi
  # Remove what killed builds left (we hold the lock: nobody else is building).
  local old
  for old in "$base"/.tmp-*; do
    [[ -e $old ]] || continue
    [[ -d $old ]] && umount_under "$old"
    rm -rf --one-file-system "$old"
  done
  [[ -e $ROOTFS ]] && rm -rf --one-file-system "$ROOTFS" # incomplete
  local mirror t0=$SECONDS
  mirror=$(apt_mirror)
  BUILD_TMP=$(mktemp -d "$base/.tmp-$SUITE-$key.XXXXXX")
  log "building base rootfs $ROOTFS from $mirror (log: $BUILD_TMP.log)"
  # In the background so that a signal to up is handled at once; a failure
  # exits, and up's EXIT trap runs cleanup_build_tmp.
  # It keeps the build lock (a killed up's orphan still owns the temp dir),
  # not the rig lock.
  (
    [[ -n $LOCK_FD ]] && exec {LOCK_FD}>&-
    exec setsid debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$BUILD_TMP/root" "$mirror"
  ) </dev/null >"$BUILD_TMP.log" 2>&1 &
  BUILD_PID=$!
  wait "$BUILD_PID"
  BUILD_PID=""
  umount_under "$BUILD_TMP"
  customize_rootfs "$BUILD_TMP/root" >>"$BUILD_TMP.log" 2>&1
  mv -T "$BUILD_TMP/root" "$ROOTFS" # atomic: the key file only appears complete
  rm -rf --one-file-system "$BUILD_TMP" "$BUILD_TMP.log"
  BUILD_TMP=""
  exec {fd}>&-
  log "base rootfs built in $((SECONDS - t0)) s"
}
