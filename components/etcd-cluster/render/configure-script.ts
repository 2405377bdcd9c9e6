// Configures and (re)starts etcd on one member, behind a health gate. The certificate bundle arrives on
// stdin (never on the command line, never in a log). Members run this one after another, so a rolling
// change never takes two members down at once.
import { MAINTENANCE_TIMEOUT_SECONDS } from "./maintenance-units";
import { BOOTSTRAP_ENV_PATH, CLIENT_CRL, HostLayout, PKI_DIR, PKI_FILES, PkiFileKey, RELEASES_DIR, SERVICE_USER, UNIT_PATH } from "./layout";
import { JOIN_DECISION, MEMBER_LIST_FUNCTIONS } from "./membership";
import { ETCDCTL_MTLS, header, WAIT_UNTIL } from "./shell";

export interface ConfigureInput {
    memberName: string;
    layout: HostLayout;
    /** The etcd unit, serialized. */
    unit: string;
    /** Client URLs of the other members, for the gate before a restart. */
    peerClientUrls: string[];
    /** This member's peer URL, by which the running cluster knows it. */
    selfPeerUrl: string;
    /** The rendered initial cluster, used when this member starts a new cluster. */
    initialCluster: string;
    clusterToken: string;
    healthTimeoutSeconds: number;
    /**
     * The start step's variant: it runs for every member at once, so it only ever starts a member that has
     * no data yet (a new cluster, or a join); a member already in a cluster is left to the chained configure
     * step, which restarts members one at a time.
     */
    firstStartOnly?: boolean;
}

/** One header line per file in the bundle; the PEM text follows until the next header. */
export const BUNDLE_HEADER = "--- FILE ";

/** The stdin bundle: every PKI file, in a fixed order, then the client CRL when there is one, framed by header lines. */
export function renderBundle(files: Record<PkiFileKey, string>, clientCrlPem?: string): string {
    const sections: [string, string][] = (Object.keys(PKI_FILES) as PkiFileKey[]).map((key) => [PKI_FILES[key].file, files[key]]);
    if (clientCrlPem !== undefined) sections.push([CLIENT_CRL.pemFile, clientCrlPem]);
    return sections.map(([file, text]) => `${BUNDLE_HEADER}${file}\n${text.trimEnd()}\n`).join("");
}

const UNIT_MARKER = "ETCD_UNIT_EOF";

export function configureScript(input: ConfigureInput): string {
    const { layout } = input;
    const files = Object.values(PKI_FILES);
    if (input.unit.includes(UNIT_MARKER)) throw new Error(`the unit text must not contain ${UNIT_MARKER}`);
    return header(`Configure etcd member ${input.memberName}`, {
        MEMBER: input.memberName,
        VERSION: layout.version,
        FIRST_START_ONLY: input.firstStartOnly ?? false,
        DATA_DIR: layout.dataDir,
        SNAPSHOT_DIR: layout.snapshotDir,
        SNAPSHOT_TIMEOUT: MAINTENANCE_TIMEOUT_SECONDS,
        SERVICE_USER,
        PKI_DIR,
        FILES: files.map((f) => f.file),
        MODES: files.map((f) => f.mode),
        CRL_PEM_FILE: CLIENT_CRL.pemFile,
        CRL_DER_FILE: CLIENT_CRL.derFile,
        CRL_MODE: CLIENT_CRL.mode,
        BUNDLE_HEADER,
        UNIT_PATH,
        BOOTSTRAP_ENV_PATH,
        RELEASES_DIR,
        BINARIES: Object.values(layout.release),
        LINKS: Object.values(layout.links),
        ETCDCTL: layout.release.etcdctl,
        ETCDUTL: layout.release.etcdutl,
        CLIENT_CA_FILE: PKI_FILES.ca.file,
        CLIENT_CERT_FILE: PKI_FILES.healthcheckCert.file,
        CLIENT_KEY_FILE: PKI_FILES.healthcheckKey.file,
        LOCAL_CLIENT_URL: layout.localClientUrl,
        PEERS: input.peerClientUrls,
        SELF_PEER_URL: input.selfPeerUrl,
        INITIAL_CLUSTER: input.initialCluster,
        CLUSTER_TOKEN: input.clusterToken,
        HEALTH_TIMEOUT: input.healthTimeoutSeconds,
    }) + CONFIGURE_BODY.replace("@UNIT@", `cat > "$stage/etcd.service" <<'${UNIT_MARKER}'\n${input.unit}${UNIT_MARKER}\n`);
}

/** The static part; `@UNIT@` is where the unit is staged (a quoted here-document: nothing in it expands). */
const CONFIGURE_BODY = `stage=$(mktemp -d "$PKI_DIR/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# etcdctl uses the staged certificates: a new member's are not installed yet, and they are what will be.
CLIENT_CA=$stage/$CLIENT_CA_FILE
CLIENT_CERT=$stage/$CLIENT_CERT_FILE
CLIENT_KEY=$stage/$CLIENT_KEY_FILE
${ETCDCTL_MTLS}${WAIT_UNTIL}${MEMBER_LIST_FUNCTIONS}${JOIN_DECISION}
peer_endpoints=$(IFS=,; echo "\${PEERS[*]}")

# 1. Stage the certificate bundle from stdin and the unit.
current=""
while IFS= read -r line; do
  case "$line" in
    "$BUNDLE_HEADER"*)
      current=\${line#"$BUNDLE_HEADER"}
      case " \${FILES[*]} $CRL_PEM_FILE " in *" $current "*) ;; *) echo "unexpected file in bundle: $current" >&2; exit 1 ;; esac
      : > "$stage/$current" ;;
    *)
      if [ -z "$current" ]; then echo "certificate bundle does not start with a file header" >&2; exit 1; fi
      printf '%s\\n' "$line" >> "$stage/$current" ;;
  esac
done
for f in "\${FILES[@]}"; do
  if [ ! -s "$stage/$f" ]; then echo "certificate bundle lacks $f" >&2; exit 1; fi
done
@UNIT@
# 1b. The client CRL, when the bundle has one: signed by a CA of the staged bundle, not revoking the
#     health-check certificate the gates use, installed as DER (what etcd reads). etcd reads the file at every
#     new client connection, so a new list takes effect without a restart; the flag itself is a unit change.
if [ -s "$stage/$CRL_PEM_FILE" ]; then
  if ! openssl crl -in "$stage/$CRL_PEM_FILE" -CAfile "$stage/$CLIENT_CA_FILE" -noout 2>"$stage/crl.err"; then
    echo "refusing pki.clientCrlPem on $MEMBER: it is not a CRL signed by a CA the cluster trusts ($(tr '\n' ' ' <"$stage/crl.err")). Nothing was changed." >&2
    exit 1
  fi
  revoked=$(openssl crl -in "$stage/$CRL_PEM_FILE" -noout -text | sed -n -E 's/^ *Serial Number: *([0-9A-Fa-f]+)$/\\1/p')
  healthcheck_serial=$(openssl x509 -in "$stage/$CLIENT_CERT_FILE" -noout -serial)
  if grep -qix "\${healthcheck_serial#serial=}" <<<"$revoked"; then
    echo "refusing pki.clientCrlPem on $MEMBER: it revokes the health-check certificate (serial \${healthcheck_serial#serial=}), which every health gate uses. Nothing was changed." >&2
    exit 1
  fi
  openssl crl -in "$stage/$CRL_PEM_FILE" -outform DER -out "$stage/$CRL_DER_FILE"
  if ! cmp -s "$stage/$CRL_DER_FILE" "$PKI_DIR/$CRL_DER_FILE"; then
    # Renamed into place: a connection never reads half a list.
    install -m "$CRL_MODE" -o "$SERVICE_USER" -g "$SERVICE_USER" "$stage/$CRL_DER_FILE" "$PKI_DIR/.$CRL_DER_FILE.new"
    mv -f "$PKI_DIR/.$CRL_DER_FILE.new" "$PKI_DIR/$CRL_DER_FILE"
    echo "etcd on $MEMBER: client CRL installed ($(grep -c . <<<"$revoked" || true) revoked certificates)"
  fi
fi

# 2. Nothing to do when files are current and etcd runs, unless an earlier run left this member a learner.
restart=1
invocation_before=""
join_id=""
learner=0
changed=0
for f in "\${FILES[@]}"; do cmp -s "$stage/$f" "$PKI_DIR/$f" || changed=1; done
cmp -s "$stage/etcd.service" "$UNIT_PATH" || changed=1
if [ "$changed" = 0 ] && systemctl is-active --quiet etcd.service; then
  if list=$(etcdctl_mtls --endpoints="$peer_endpoints" member list 2>/dev/null) \\
     && line=$(member_line "$list" "$SELF_PEER_URL") && [[ $line == *", true" ]]; then
    echo "etcd on $MEMBER: configuration unchanged; finishing an interrupted join (still a learner)"
    join_id=\${line%%,*}
    learner=1
    restart=0
  else
    echo "etcd on $MEMBER: configuration unchanged and running"
    exit 0
  fi
fi

established=0
if [ -d "$DATA_DIR/member" ]; then established=1; fi

# 3. Data that no running cluster knows (a join that failed half-way started a cluster of its own) is
#    moved aside, never deleted; the member then joins like a new one.
if [ "$restart" = 1 ] && [ "$established" = 1 ] && [ "\${#PEERS[@]}" -gt 0 ] \\
   && list=$(etcdctl_mtls --endpoints="$peer_endpoints" --dial-timeout=1s --command-timeout=2s member list 2>/dev/null) \\
   && ! member_line "$list" "$SELF_PEER_URL" >/dev/null; then
  aside=$DATA_DIR.orphaned-$(date +%Y%m%dT%H%M%S)
  echo "etcd on $MEMBER: its data belongs to no running cluster (an interrupted join); moving it to $aside"
  systemctl stop etcd.service 2>/dev/null || true
  mv "$DATA_DIR" "$aside"
  install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"
  established=0
fi

# First start only (the start step): a member already in a cluster is restarted by the configure step,
# one member at a time.
if [ "$FIRST_START_ONLY" = 1 ] && [ "$established" = 1 ] && [ -z "$join_id" ]; then
  echo "etcd on $MEMBER: already a member of the cluster; the configure step rolls changes to it"
  exit 0
fi

# 4. A member without data decides how it first starts: as part of a new cluster, or joining the running
#    one as a learner. Otherwise, health gate: a running member of an established cluster is restarted only
#    while every other member is healthy, so a change never takes a second member down.
if [ "$restart" = 1 ] && [ "$established" = 0 ]; then
  join_decision
  install -m 0644 -o root -g root "$stage/bootstrap.env" "$BOOTSTRAP_ENV_PATH"
fi
# The other members are the ones the cluster lists now (during a scale-up, wanted members may not have
# joined yet); a member that cannot be listed at all means no quorum, and restarting would not help it.
if [ "$restart" = 1 ] && [ "$established" = 1 ] && systemctl is-active --quiet etcd.service && [ "\${#PEERS[@]}" -gt 0 ]; then
  others=""
  if list=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" member list 2>/dev/null); then
    others=$(client_urls "$list" "$SELF_PEER_URL")
  fi
  if [ -z "$others" ]; then others=$peer_endpoints; fi
  if ! report=$(etcdctl_mtls --endpoints="$others" endpoint health 2>&1); then
    echo "refusing to restart etcd on $MEMBER: not every other member is healthy, and restarting now could lose quorum." >&2
    echo "$report" | grep -v ' is healthy' >&2 || true
    echo "Bring the unhealthy members back, then run pulumi up again." >&2
    exit 1
  fi
fi

# 5. Before this member changes etcd version, save a snapshot of the data (verified), to go back to.
running_version=$(sed -n -E "s|^ExecStart=$RELEASES_DIR/v([0-9.]+)/etcd.*|\\\\1|p" "$UNIT_PATH" 2>/dev/null || true)
if [ "$restart" = 1 ] && [ "$established" = 1 ] && [ -n "$running_version" ] && [ "$running_version" != "$VERSION" ] \\
   && systemctl is-active --quiet etcd.service; then
  install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$SNAPSHOT_DIR"
  snapshot=$SNAPSHOT_DIR/pre-upgrade-v$running_version-to-v$VERSION-$(date +%Y%m%dT%H%M%S).db
  # A large database streams for minutes: etcdctl's 5 s default command timeout would fail the upgrade.
  snapshot_started=$SECONDS
  etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" --command-timeout="\${SNAPSHOT_TIMEOUT}s" snapshot save "$snapshot.part" >/dev/null
  "$ETCDUTL" snapshot status "$snapshot.part" >/dev/null
  chown "$SERVICE_USER:$SERVICE_USER" "$snapshot.part" && chmod 0600 "$snapshot.part" && mv "$snapshot.part" "$snapshot"
  echo "etcd on $MEMBER: snapshot before $running_version -> $VERSION saved to $snapshot ($(( $(stat -c %s "$snapshot") / 1048576 )) MiB in $(( SECONDS - snapshot_started )) s)"
fi

# 6. Put the files in place (keys 0600, owned by the service user), link the release and restart.
if [ "$restart" = 1 ]; then
  for i in "\${!FILES[@]}"; do
    install -m "\${MODES[$i]}" -o "$SERVICE_USER" -g "$SERVICE_USER" "$stage/\${FILES[$i]}" "$PKI_DIR/\${FILES[$i]}"
  done
  install -m 0644 -o root -g root "$stage/etcd.service" "$UNIT_PATH"
  for i in "\${!BINARIES[@]}"; do ln -sfn "\${BINARIES[$i]}" "\${LINKS[$i]}"; done
  systemctl daemon-reload
  systemctl enable --quiet etcd.service
  # The gate after waits for a new run of the unit: with --no-block the old process may still answer, active
  # and healthy, for a moment after the restart was queued.
  invocation_before=$(systemctl show -p InvocationID --value etcd.service)
  # --no-block: a first member cannot finish starting until enough peers are up, so starting blocks on them.
  systemctl restart --no-block etcd.service
fi

if [ "$established" = 0 ] && [ -z "$join_id" ]; then
  echo "etcd on $MEMBER: started; it joins when a majority of the initial members are up"
  exit 0
fi

# 7. A learner is promoted once it has caught up with the leader (etcd refuses earlier, so retry).
promoted() { etcdctl_mtls --endpoints="$peer_endpoints" member promote "$join_id" >/dev/null 2>&1; }
if [ "$learner" = 1 ]; then
  wait_until "$HEALTH_TIMEOUT" "etcd on $MEMBER joined as a learner but was not promoted within \${HEALTH_TIMEOUT}s (not caught up, or not started); the next pulumi up resumes from here." promoted
  echo "etcd on $MEMBER: promoted from learner to voting member"
fi

# 8. Health gate after: this member serves again, every member is healthy (so there is a leader and a
#    quorum commits) and every member is started; only then may the next member restart.
member_ready() {
  # Type=notify: the unit is active once etcd has rejoined and serves; until then etcdctl would only wait out
  # its timeouts (a refused connection is retried, not reported), so ask systemd first: it answers at once.
  systemctl is-active --quiet etcd.service || return 1
  if [ "$restart" = 1 ] && [ "$(systemctl show -p InvocationID --value etcd.service)" = "$invocation_before" ]; then return 1; fi
  list=$(etcdctl_mtls --endpoints="$LOCAL_CLIENT_URL" member list 2>/dev/null) || return 1
  all_running "$list" "$(grep -c . <<<"$list")" || return 1
  etcdctl_mtls --endpoints="$(client_urls "$list")" endpoint health >/dev/null 2>&1
}
wait_until "$HEALTH_TIMEOUT" "etcd on $MEMBER or the cluster was not healthy within \${HEALTH_TIMEOUT}s after the restart; see journalctl -u etcd on that host. The roll stops here; the members after it were not touched." member_ready
# A client CRL no longer wanted: the unit that read it is gone now.
if [ ! -s "$stage/$CRL_PEM_FILE" ] && [ -e "$PKI_DIR/$CRL_DER_FILE" ]; then
  rm -f "$PKI_DIR/$CRL_DER_FILE"
  echo "etcd on $MEMBER: client CRL removed"
fi
echo "etcd on $MEMBER: up to date, and every member is healthy"
`;
