// Configures and (re)starts etcd on one member, behind a health gate. The certificate bundle arrives on
// stdin (never on the command line, never in a log). Members run this one after another, so a rolling
// change never takes two members down at once.
import { BOOTSTRAP_ENV_PATH, PKI_DIR, PKI_FILES, PkiFileKey, releaseDir, RELEASES_DIR, SERVICE_USER, UNIT_PATH } from "./layout";
import { joinDecision, MEMBER_LIST_FUNCTIONS } from "./membership";
import { etcdctlFunction, SCRIPT_HEADER, shellArray, shellQuote, waitUntil } from "./shell";

export interface ConfigureInput {
    memberName: string;
    version: string;
    /** Where a snapshot is saved before this member moves to another etcd version. */
    snapshotDir: string;
    dataDir: string;
    unit: string;
    /** This member's loopback client URL, for its own health. */
    localClientUrl: string;
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

/** The stdin bundle: every PKI file, in a fixed order, framed by header lines. */
export function renderBundle(files: Record<PkiFileKey, string>): string {
    return (Object.keys(PKI_FILES) as PkiFileKey[])
        .map((key) => `${BUNDLE_HEADER}${PKI_FILES[key].file}\n${files[key].trimEnd()}\n`)
        .join("");
}

export function configureScript(input: ConfigureInput): string {
    const bin = releaseDir(input.version);
    const files = Object.values(PKI_FILES);
    const unitMarker = "ETCD_UNIT_EOF";
    if (input.unit.includes(unitMarker)) throw new Error(`the unit text must not contain ${unitMarker}`);
    return `${SCRIPT_HEADER}# Configure etcd member ${input.memberName} (managed by the EtcdCluster Pulumi component).
member=${shellQuote(input.memberName)}
files=${shellArray(files.map((f) => f.file))}
modes=${shellArray(files.map((f) => f.mode))}
peers=${shellArray(input.peerClientUrls)}
bin=${shellQuote(bin)}
stage=$(mktemp -d ${PKI_DIR}/.stage.XXXXXX)
# etcdctl uses the staged certificates: a new member's are not installed yet, and they are what will be.
${etcdctlFunction('"$bin/etcdctl"', '"$stage"')}
trap 'rm -rf "$stage"' EXIT

# 1. Stage the certificate bundle from stdin and the unit.
current=""
while IFS= read -r line; do
  case "$line" in
    ${shellQuote(BUNDLE_HEADER)}*)
      current=\${line#${shellQuote(BUNDLE_HEADER)}}
      case " \${files[*]} " in *" $current "*) ;; *) echo "unexpected file in bundle: $current" >&2; exit 1 ;; esac
      : > "$stage/$current" ;;
    *)
      if [ -z "$current" ]; then echo "certificate bundle does not start with a file header" >&2; exit 1; fi
      printf '%s\\n' "$line" >> "$stage/$current" ;;
  esac
done
for f in "\${files[@]}"; do
  if [ ! -s "$stage/$f" ]; then echo "certificate bundle lacks $f" >&2; exit 1; fi
done
cat > "$stage/etcd.service" <<'${unitMarker}'
${input.unit}${unitMarker}

${MEMBER_LIST_FUNCTIONS}
# 2. Nothing to do when files are current and etcd runs, unless an earlier run left this member a learner.
restart=1
join_id=""
learner=0
changed=0
for f in "\${files[@]}"; do cmp -s "$stage/$f" "${PKI_DIR}/$f" || changed=1; done
cmp -s "$stage/etcd.service" ${UNIT_PATH} || changed=1
if [ "$changed" = 0 ] && systemctl is-active --quiet etcd.service; then
  if list=$(etcdctl_mtls --endpoints="$(IFS=,; echo "\${peers[*]}")" member list 2>/dev/null) \
     && line=$(member_line "$list" ${shellQuote(input.selfPeerUrl)}) && [[ $line == *", true" ]]; then
    echo "etcd on $member: configuration unchanged; finishing an interrupted join (still a learner)"
    join_id=\${line%%,*}
    learner=1
    restart=0
  else
    echo "etcd on $member: configuration unchanged and running"
    exit 0
  fi
fi

established=0
if [ -d ${shellQuote(input.dataDir)}/member ]; then established=1; fi

# 3. Data that no running cluster knows (a join that failed half-way started a cluster of its own) is
#    moved aside, never deleted; the member then joins like a new one.
if [ "$restart" = 1 ] && [ "$established" = 1 ] && [ "\${#peers[@]}" -gt 0 ] \
   && list=$(etcdctl_mtls --endpoints="$(IFS=,; echo "\${peers[*]}")" --dial-timeout=1s --command-timeout=2s member list 2>/dev/null) \
   && ! member_line "$list" ${shellQuote(input.selfPeerUrl)} >/dev/null; then
  aside=${shellQuote(input.dataDir)}.orphaned-$(date +%Y%m%dT%H%M%S)
  echo "etcd on $member: its data belongs to no running cluster (an interrupted join); moving it to $aside"
  systemctl stop etcd.service 2>/dev/null || true
  mv ${shellQuote(input.dataDir)} "$aside"
  install -d -m 0700 -o ${SERVICE_USER} -g ${SERVICE_USER} ${shellQuote(input.dataDir)}
  established=0
fi

${input.firstStartOnly ? `# First start only: a member already in a cluster is restarted by the configure step, one member at a time.
if [ "$established" = 1 ] && [ -z "$join_id" ]; then
  echo "etcd on $member: already a member of the cluster; the configure step rolls changes to it"
  exit 0
fi

` : ""}# 4. A member without data decides how it first starts: as part of a new cluster, or joining the running
#    one as a learner. Otherwise, health gate: a running member of an established cluster is restarted only
#    while every other member is healthy, so a change never takes a second member down.
if [ "$restart" = 1 ] && [ "$established" = 0 ]; then
${joinDecision({ memberName: input.memberName, selfPeerUrl: input.selfPeerUrl, initialCluster: input.initialCluster,
        clusterToken: input.clusterToken, peerClientUrlsVar: "peers", addTimeoutSeconds: input.healthTimeoutSeconds }).replace(/^/gm, "  ").trimEnd()}
  install -m 0644 -o root -g root "$stage/bootstrap.env" ${BOOTSTRAP_ENV_PATH}
fi
# The other members are the ones the cluster lists now (during a scale-up, wanted members may not have
# joined yet); a member that cannot be listed at all means no quorum, and restarting would not help it.
if [ "$restart" = 1 ] && [ "$established" = 1 ] && systemctl is-active --quiet etcd.service && [ "\${#peers[@]}" -gt 0 ]; then
  others=""
  if list=$(etcdctl_mtls --endpoints=${input.localClientUrl} member list 2>/dev/null); then
    others=$(client_urls "$list" ${shellQuote(input.selfPeerUrl)})
  fi
  if [ -z "$others" ]; then others=$(IFS=,; echo "\${peers[*]}"); fi
  if ! report=$(etcdctl_mtls --endpoints="$others" endpoint health 2>&1); then
    echo "refusing to restart etcd on $member: not every other member is healthy, and restarting now could lose quorum." >&2
    echo "$report" | grep -v ' is healthy' >&2 || true
    echo "Bring the unhealthy members back, then run pulumi up again." >&2
    exit 1
  fi
fi

# 5. Before this member changes etcd version, save a snapshot of the data (verified), to go back to.
running_version=$(sed -n -E 's|^ExecStart=${RELEASES_DIR}/v([0-9.]+)/etcd.*|\\1|p' ${UNIT_PATH} 2>/dev/null || true)
if [ "$restart" = 1 ] && [ "$established" = 1 ] && [ -n "$running_version" ] && [ "$running_version" != ${shellQuote(input.version)} ] \
   && systemctl is-active --quiet etcd.service; then
  install -d -m 0700 -o ${SERVICE_USER} -g ${SERVICE_USER} ${shellQuote(input.snapshotDir)}
  snapshot=${shellQuote(input.snapshotDir)}/pre-upgrade-v$running_version-to-v${input.version}-$(date +%Y%m%dT%H%M%S).db
  etcdctl_mtls --endpoints=${input.localClientUrl} snapshot save "$snapshot.part" >/dev/null
  "$bin/etcdutl" snapshot status "$snapshot.part" >/dev/null
  chown ${SERVICE_USER}:${SERVICE_USER} "$snapshot.part" && chmod 0600 "$snapshot.part" && mv "$snapshot.part" "$snapshot"
  echo "etcd on $member: snapshot before $running_version -> ${input.version} saved to $snapshot"
fi

# 6. Put the files in place (keys 0600, owned by ${SERVICE_USER}) and restart.
if [ "$restart" = 1 ]; then
  for i in "\${!files[@]}"; do
    install -m "\${modes[$i]}" -o ${SERVICE_USER} -g ${SERVICE_USER} "$stage/\${files[$i]}" "${PKI_DIR}/\${files[$i]}"
  done
  install -m 0644 -o root -g root "$stage/etcd.service" ${UNIT_PATH}
  for b in etcd etcdctl etcdutl; do ln -sfn "$bin/$b" "/usr/local/bin/$b"; done
  systemctl daemon-reload
  systemctl enable --quiet etcd.service
  # --no-block: a first member cannot finish starting until enough peers are up, so starting blocks on them.
  systemctl restart --no-block etcd.service
fi

if [ "$established" = 0 ] && [ -z "$join_id" ]; then
  echo "etcd on $member: started; it joins when a majority of the initial members are up"
  exit 0
fi

# 7. A learner is promoted once it has caught up with the leader (etcd refuses earlier, so retry).
if [ "$learner" = 1 ]; then
${waitUntil(`etcdctl_mtls --endpoints="$(IFS=,; echo "\${peers[*]}")" member promote "$join_id" >/dev/null 2>&1`, input.healthTimeoutSeconds,
        `etcd on ${input.memberName} joined as a learner but was not promoted within ${input.healthTimeoutSeconds}s (not caught up, or not started); the next pulumi up resumes from here.`).replace(/^/gm, "  ").trimEnd()}
  echo "etcd on $member: promoted from learner to voting member"
fi

# 8. Health gate after: this member serves again, every member is healthy (so there is a leader and a
#    quorum commits) and every member is started; only then may the next member restart.
member_ready() {
  list=$(etcdctl_mtls --endpoints=${input.localClientUrl} member list 2>/dev/null) || return 1
  all_running "$list" "$(grep -c . <<<"$list")" || return 1
  etcdctl_mtls --endpoints="$(client_urls "$list")" endpoint health >/dev/null 2>&1
}
${waitUntil("member_ready", input.healthTimeoutSeconds,
        `etcd on ${input.memberName} or the cluster was not healthy within ${input.healthTimeoutSeconds}s after the restart; see journalctl -u etcd on that host. The roll stops here; the members after it were not touched.`)}echo "etcd on $member: up to date, and every member is healthy"
`;
}
