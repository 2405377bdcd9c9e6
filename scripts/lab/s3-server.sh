#!/usr/bin/env bash
# scripts/lab/s3-server.sh - a real S3-compatible server for the backup tests: MinIO, built from its Go module.
#
# Usage:
#   scripts/lab/s3-server.sh build
#       Build MinIO once (scripts/lab/go-tools.sh minio: pinned there, cached by version); print its path.
#   scripts/lab/s3-server.sh start --address IP:PORT --dir DIR [--bucket NAME]...
#       Start it in the background on IP:PORT with its data, pid file and log in DIR; wait until it serves;
#       create each bucket (signed with SigV4 by curl). Prints the endpoint URL.
#       Credentials come from the environment, never from the command line:
#         S3_SERVER_ACCESS_KEY (3+ characters), S3_SERVER_SECRET_KEY (8+ characters).
#   scripts/lab/s3-server.sh stop --dir DIR
#       Stop the server started with that DIR (by its pid file) and wait for it to exit.
#
# MinIO checks every request's Signature V4 and the payload against x-amz-content-sha256, answers with the
# S3 error codes (SignatureDoesNotMatch, XAmzContentSHA256Mismatch, NoSuchKey, ...) and MD5 ETags, so the
# hosts' upload path is exercised as it runs against AWS S3. Server-side encryption (SSE-S3 "AES256" and
# SSE-KMS "aws:kms") works with its static KMS key: MINIO_KMS_SECRET_KEY, a random 256-bit key named
# $KMS_KEY_NAME kept in DIR/kms.key (0600) for the server's lifetime. It listens only on the given address
# (loopback or a test rig's bridge); its console, update check and call-home are off.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# shellcheck source=scripts/lib/cli.sh # (paths from the repository root, as scripts/test-all.sh runs shellcheck)
source "$here/../lib/cli.sh"
# shellcheck source=scripts/lib/pidfile.sh
source "$here/../lib/pidfile.sh"
readonly CLI_NAME=s3-server
readonly KMS_KEY_NAME=etcd-backup-test-key

build() { bash "$here/go-tools.sh" minio; }

ADDRESS="" DIR="" BUCKETS=()
on_option() {
  case $1 in
    --address) ADDRESS=$2 ;;
    --dir) DIR=$2 ;;
    --bucket) BUCKETS+=("$2") ;;
    *) return 1 ;;
  esac
}
parse() {
  cli_options on_option "$@"
  [[ -n $DIR ]] || die "--dir DIR is required"
  [[ $DIR == /* ]] || DIR=$PWD/$DIR
}

# signed S3 request with the server's credentials; the credentials reach curl on stdin (its config).
s3_curl() {
  local user="$S3_SERVER_ACCESS_KEY:$S3_SERVER_SECRET_KEY"
  user=${user//\\/\\\\}
  user=${user//\"/\\\"}
  printf 'user = "%s"\n' "$user" | curl --silent --show-error --config - --aws-sigv4 "aws:amz:us-east-1:s3" "$@"
}

start() {
  parse "$@"
  [[ $ADDRESS =~ ^[0-9.]+:[0-9]+$ ]] || die "--address IP:PORT is required (an IPv4 address of this machine)"
  [[ ${#S3_SERVER_ACCESS_KEY} -ge 3 && ${#S3_SERVER_SECRET_KEY} -ge 8 ]] ||
    die "set S3_SERVER_ACCESS_KEY (3+ characters) and S3_SERVER_SECRET_KEY (8+ characters) in the environment"
  local bin pid url bucket code
  bin=$(build)
  mkdir -p "$DIR/data"
  if pid=$(pidfile_alive "$DIR/minio.pid"); then
    die "a server already runs for $DIR (pid $pid)"
  fi
  url="http://$ADDRESS"
  # The same key for the same data: objects encrypted earlier stay readable after a restart.
  [[ -s $DIR/kms.key ]] || (umask 077 && head -c 32 /dev/urandom | base64 >"$DIR/kms.key")
  MINIO_KMS_SECRET_KEY="$KMS_KEY_NAME:$(<"$DIR/kms.key")" \
    MINIO_ROOT_USER=$S3_SERVER_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SERVER_SECRET_KEY MINIO_BROWSER=off MINIO_UPDATE=off \
    MINIO_CALLHOME_ENABLE=off setsid "$bin" server --quiet --address "$ADDRESS" "$DIR/data" >"$DIR/minio.log" 2>&1 </dev/null &
  pid=$!
  write_pidfile "$DIR/minio.pid" "$pid" || die "MinIO exited at once: $(tail -n 20 "$DIR/minio.log")"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || die "MinIO exited at once: $(tail -n 20 "$DIR/minio.log")"
    if curl --silent --fail --max-time 2 -o /dev/null "$url/minio/health/live"; then
      break
    fi
    sleep 0.5
  done
  curl --silent --fail --max-time 2 -o /dev/null "$url/minio/health/live" || die "MinIO on $url did not come up: $(tail -n 20 "$DIR/minio.log")"
  for bucket in "${BUCKETS[@]}"; do
    code=$(s3_curl -X PUT -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
      -o "$DIR/bucket.out" -w '%{http_code}' "$url/$bucket")
    [[ $code == 200 ]] || grep -q BucketAlreadyOwnedByYou "$DIR/bucket.out" || die "creating bucket $bucket: HTTP $code: $(cat "$DIR/bucket.out")"
  done
  log "MinIO serves $url (pid $pid, data $DIR/data${BUCKETS[*]:+, buckets ${BUCKETS[*]}})"
  printf '%s\n' "$url"
}

stop() {
  parse "$@"
  local pid
  pid=$(pidfile_alive "$DIR/minio.pid") || { rm -f "$DIR/minio.pid"; log "no server runs for $DIR"; return 0; }
  kill "$pid"
  for _ in $(seq 1 50); do pidfile_alive "$DIR/minio.pid" >/dev/null || break; sleep 0.2; done
  if pidfile_alive "$DIR/minio.pid" >/dev/null; then kill -9 "$pid"; fi
  rm -f "$DIR/minio.pid"
  log "stopped MinIO (pid $pid)"
}

case ${1:-} in
  build) build ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  -h | --help) cli_help ;;
  *) usage_error "missing or unknown command: ${1:-}" ;;
esac
