// Membership changes, as bash: how a member first joins (a new cluster, or the running one as a learner
// that is promoted once in sync), and how members leave (leadership moved away first). Each step checks
// the live member list first, so an interrupted scale re-runs to convergence ("peer URLs already exist",
// a learner that was added but never started, a member whose data is gone).
import { HostLayout } from "./layout";
import { ETCDCTL_MTLS, etcdctlVars, header } from "./shell";

/** Parses `etcdctl member list` (simple format) lines: id, status, name, peer URL, client URL, learner. */
export const MEMBER_LIST_FUNCTIONS = `# member_line LIST PEER_URL: the member list line of the member with that peer URL, if any.
member_line() {
  local id status name peer rest
  while IFS=', ' read -r id status name peer rest; do
    if [ "$peer" = "$2" ]; then printf '%s, %s, %s, %s, %s\\n' "$id" "$status" "$name" "$peer" "$rest"; return 0; fi
  done <<<"$1"
  return 1
}
# member_running LINE: the member has started at least once. etcdctl's "started" only means "has a name",
# and the members of an initial cluster have their names before they ever run; client URLs appear only
# when a member publishes them on start.
member_running() {
  local client
  IFS=', ' read -r _ _ _ _ client _ <<<"$1"
  [ -n "$client" ]
}
# all_running LIST N: exactly N members, every one running and a voting member (no learner).
all_running() {
  local line count=0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    member_running "$line" || return 1
    [[ $line == *", false" ]] || return 1
    count=$((count + 1))
  done <<<"$1"
  [ "$count" -eq "$2" ]
}
# client_urls LIST [EXCEPT_PEER_URL]: the client URLs of the listed members, comma-separated.
client_urls() {
  local peer client urls=""
  while IFS=', ' read -r _ _ _ peer client _; do
    if [ -n "$client" ] && [ "$peer" != "\${2:-}" ]; then urls="$urls\${urls:+,}$client"; fi
  done <<<"$1"
  echo "$urls"
}
# is_leader ENDPOINT: true when the member behind ENDPOINT is the raft leader.
is_leader() {
  local json member leader
  json=$(etcdctl_mtls --endpoints="$1" endpoint status -w json) || return 1
  [[ $json =~ \\"member_id\\":([0-9]+) ]] && member=\${BASH_REMATCH[1]} || return 1
  [[ $json =~ \\"leader\\":([0-9]+) ]] && leader=\${BASH_REMATCH[1]} || return 1
  [ "$member" = "$leader" ]
}
# remove_member LIST ENDPOINTS ID [KEEP_PEER_URLS]: moves leadership away from the member if it leads, then
# removes it. The new leader is a running voting member, and one of KEEP_PEER_URLS (space-separated) when
# given: during a scale-down, leadership must not go to a member that leaves next. Waits up to HEALTH_TIMEOUT
# seconds while etcd answers "unhealthy cluster": it removes a voting member only once its leader has been
# connected for 5 s to enough of the others to keep a quorum without it (not so just after a restart).
remove_member() {
  local list=$1 endpoints=$2 id=$3 keep=" \${4:-} " line target="" tid tstatus tpeer tclient tlearner deadline error
  while IFS=', ' read -r tid tstatus _ tpeer tclient tlearner; do
    if [ "$tid" != "$id" ] && [ "$tstatus" = started ] && [ -n "$tclient" ] && [ "$tlearner" = false ] \\
       && { [ -z "\${4:-}" ] || [[ $keep == *" $tpeer "* ]]; }; then target=$tid; break; fi
  done <<<"$list"
  line=$(grep "^$id, " <<<"$list") || return 0
  local client
  client=$(cut -d, -f5 <<<"$line" | tr -d ' ')
  if [ -n "$client" ] && [ -n "$target" ] && is_leader "$client"; then
    echo "moving leadership from $id to $target before removing it"
    etcdctl_mtls --endpoints="$client" move-leader "$target" >/dev/null
  fi
  deadline=$((SECONDS + HEALTH_TIMEOUT))
  until error=$(etcdctl_mtls --endpoints="$endpoints" member remove "$id" 2>&1 >/dev/null); do
    if [[ $error != *"unhealthy cluster"* ]] || [ "$SECONDS" -ge "$deadline" ]; then
      echo "member remove $id failed: $error" >&2
      return 1
    fi
    sleep 1
  done
  echo "removed member $id"
}
`;

/**
 * `join_decision`: for a member with an empty data directory, writes `$stage/bootstrap.env` and sets
 * `join_id` (the member id, when it joins the running cluster) and `learner` (1 when it must be promoted).
 * Reads MEMBER, PEERS (the other members' client URLs), SELF_PEER_URL, INITIAL_CLUSTER (used only when no
 * cluster runs yet), CLUSTER_TOKEN and HEALTH_TIMEOUT (how long `member add` may wait for another new
 * member's learner slot: etcd admits one learner at a time).
 */
export const JOIN_DECISION = `join_decision() {
  local initial=$INITIAL_CLUSTER state=new endpoints list line add_deadline add_error id status name peer rest
  join_id=""
  learner=0
  endpoints="$(IFS=,; echo "\${PEERS[*]}")"
  # Short timeouts: while a new cluster forms, the peers answer nothing until a majority is up.
  if [ -n "$endpoints" ] && list=$(etcdctl_mtls --endpoints="$endpoints" --dial-timeout=1s --command-timeout=2s member list 2>/dev/null); then
    # A cluster runs. A member it lists as started lost its data: take it out and add it anew.
    if line=$(member_line "$list" "$SELF_PEER_URL") && member_running "$line"; then
      echo "etcd on $MEMBER: the cluster knows this member as started but its data is gone; re-adding it"
      remove_member "$list" "$endpoints" "\${line%%,*}"
      list=$(etcdctl_mtls --endpoints="$endpoints" member list)
    fi
    if ! line=$(member_line "$list" "$SELF_PEER_URL"); then
      # Two refusals pass, so wait them out: new members start in parallel and etcd admits one learner at a
      # time ("too many learner members" while another catches up and is promoted); and etcd refuses a member
      # add until its leader has been connected for 5 s to enough voting members to keep a quorum with the new
      # one counted as down ("unhealthy cluster", e.g. just after another new member was promoted).
      add_deadline=$((SECONDS + HEALTH_TIMEOUT))
      until add_error=$(etcdctl_mtls --endpoints="$endpoints" member add "$MEMBER" --peer-urls="$SELF_PEER_URL" --learner 2>&1 >/dev/null); do
        if [[ $add_error != *"too many learner members"* && $add_error != *"unhealthy cluster"* ]] || [ "$SECONDS" -ge "$add_deadline" ]; then
          echo "etcd on $MEMBER: member add failed: $add_error" >&2
          exit 1
        fi
        sleep 1
      done
      echo "etcd on $MEMBER: added to the running cluster as a learner"
      list=$(etcdctl_mtls --endpoints="$endpoints" member list)
      line=$(member_line "$list" "$SELF_PEER_URL")
    fi
    if [[ $line == *", true" ]]; then
      # Joining as a learner (just added, or added by an interrupted run): start from the live membership.
      # etcd matches members by peer URL; members not started yet have no name, so name them.
      join_id=\${line%%,*}
      learner=1
      state=existing
      initial=""
      while IFS=', ' read -r id status name peer rest; do
        [ "$peer" = "$SELF_PEER_URL" ] && name=$MEMBER
        [ -n "$name" ] || name="unstarted-$id"
        initial="$initial\${initial:+,}$name=$peer"
      done <<<"$list"
    fi
    # Otherwise it is one of the initial members starting late: it starts like the others did.
  fi
  printf 'ETCD_INITIAL_CLUSTER=%s\\nETCD_INITIAL_CLUSTER_STATE=%s\\nETCD_INITIAL_CLUSTER_TOKEN=%s\\n' "$initial" "$state" "$CLUSTER_TOKEN" > "$stage/bootstrap.env"
}
`;

export interface PruneInput {
    layout: HostLayout;
    wantedPeerUrls: string[];
    clientUrls: string[];
    /** How long a `member remove` may wait out etcd's "unhealthy cluster" refusal. */
    healthTimeoutSeconds: number;
}

/**
 * Removes every member the cluster lists that is not wanted (scale down), one at a time, moving leadership
 * away from a member before it goes. Runs before the cluster check, so the check sees the wanted members only.
 */
export function pruneScript(input: PruneInput): string {
    return header("Remove members that are no longer wanted", {
        WANTED: input.wantedPeerUrls,
        ENDPOINTS: input.clientUrls.join(","),
        HEALTH_TIMEOUT: input.healthTimeoutSeconds,
        ...etcdctlVars(input.layout.etcdctl.release),
    }) + PRUNE_BODY;
}

const PRUNE_BODY = `${ETCDCTL_MTLS}${MEMBER_LIST_FUNCTIONS}
list=$(etcdctl_mtls --endpoints="$ENDPOINTS" member list)
removed=0
while IFS=', ' read -r id status name peer rest; do
  case " \${WANTED[*]} " in *" $peer "*) continue ;; esac
  echo "member \${name:-$id} ($peer, $status) is no longer wanted"
  remove_member "$list" "$ENDPOINTS" "$id" "\${WANTED[*]}"
  removed=$((removed + 1))
  list=$(etcdctl_mtls --endpoints="$ENDPOINTS" member list)
done <<<"$list"
echo "membership: $removed member(s) removed; $(grep -c . <<<"$list") member(s) remain"
`;
