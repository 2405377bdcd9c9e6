// The maintenance units of one member and the script that installs them: etcd-backup (service + timer),
// etcd-defrag (on demand) and etcd-defrag-scheduled (service + timer), etcd-alarm-check (service + timer).
// The S3 settings arrive on stdin (never on the command line, never in a log) when uploads are configured.
// Idempotent: files are replaced only when their text differs; timers that are no longer wanted are removed.
import { alarmScript } from "./alarm-script";
import { backupScript } from "./backup-script";
import { defragScript } from "./defrag-script";
import { SERVICE_USER } from "./layout";
import { MAINTENANCE_BIN, S3_ENV_FILE } from "./maintenance-layout";
import { SCRIPT_HEADER, shellArray, shellQuote } from "./shell";

export interface MaintenanceInput {
    memberName: string;
    snapshotDir: string;
    backup: {
        /** OnCalendar of etcd-backup.timer; "" for no timer. */
        schedule: string;
        keep: number;
        /** Whether the S3 settings come on stdin. */
        s3: boolean;
    };
    /** OnCalendar of etcd-defrag-scheduled.timer; "" for no timer. */
    defragSchedule: string;
    alarmCheckSchedule: string;
    quotaBackendBytes: number;
    quotaWarnPercent: number;
    healthTimeoutSeconds: number;
}

const UNIT_DIR = "/etc/systemd/system";
const HEADER = "# Managed by the EtcdCluster Pulumi component; local edits are overwritten on the next `pulumi up`.\n";
/** Every timer this component may install, so that one no longer wanted is found and removed. */
const TIMERS = ["etcd-backup.timer", "etcd-defrag-scheduled.timer", "etcd-alarm-check.timer"];
/** Seconds a snapshot save or upload, and one member's defragmentation, may take. */
export const MAINTENANCE_TIMEOUT_SECONDS = 900;

function service(description: string, execStart: string, readWritePaths: string[], extra = ""): string {
    return `${HEADER}[Unit]
Description=${description}
Documentation=https://etcd.io/docs/v3.6/op-guide/maintenance/
Wants=network-online.target
After=network-online.target etcd.service

[Service]
Type=oneshot
User=${SERVICE_USER}
Group=${SERVICE_USER}
ExecStart=${execStart}
TimeoutStartSec=${2 * MAINTENANCE_TIMEOUT_SECONDS}s
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
NoNewPrivileges=yes
PrivateTmp=yes
ProtectHome=yes
ProtectSystem=strict
${readWritePaths.map((p) => `ReadWritePaths=${p}\n`).join("")}${extra}`;
}

function timer(description: string, onCalendar: string, persistent: boolean): string {
    return `${HEADER}[Unit]
Description=${description}

[Timer]
OnCalendar=${onCalendar}
Persistent=${persistent ? "true" : "false"}
AccuracySec=1s

[Install]
WantedBy=timers.target
`;
}

/** Every file the install script writes, by destination: text and mode. Timers only when scheduled. */
export function maintenanceFiles(input: MaintenanceInput): { path: string; mode: string; text: string }[] {
    for (const s of [input.backup.schedule, input.defragSchedule, input.alarmCheckSchedule]) {
        if (/[\n\\$%"']/.test(s)) throw new Error(`schedule ${JSON.stringify(s)} contains a character systemd would reinterpret`);
    }
    const files = [
        { path: MAINTENANCE_BIN.backup, mode: "0755", text: backupScript({ memberName: input.memberName, snapshotDir: input.snapshotDir, keep: input.backup.keep, timeoutSeconds: MAINTENANCE_TIMEOUT_SECONDS }) },
        { path: MAINTENANCE_BIN.defrag, mode: "0755", text: defragScript({ memberName: input.memberName, defragTimeoutSeconds: MAINTENANCE_TIMEOUT_SECONDS, healthTimeoutSeconds: input.healthTimeoutSeconds }) },
        { path: MAINTENANCE_BIN.alarmCheck, mode: "0755", text: alarmScript({ memberName: input.memberName, quotaBackendBytes: input.quotaBackendBytes, warnPercent: input.quotaWarnPercent }) },
        { path: `${UNIT_DIR}/etcd-backup.service`, mode: "0644", text: service("etcd snapshot (the leader saves, verifies, prunes and uploads it)", MAINTENANCE_BIN.backup, [input.snapshotDir]) },
        { path: `${UNIT_DIR}/etcd-defrag.service`, mode: "0644", text: service("etcd defragmentation of every member, one at a time", MAINTENANCE_BIN.defrag, []) },
        { path: `${UNIT_DIR}/etcd-defrag-scheduled.service`, mode: "0644", text: service("etcd scheduled defragmentation (runs on the leader only)", `${MAINTENANCE_BIN.defrag} --only-on-leader`, []) },
        { path: `${UNIT_DIR}/etcd-alarm-check.service`, mode: "0644", text: service("etcd alarm and backend quota check", MAINTENANCE_BIN.alarmCheck, []) },
        { path: `${UNIT_DIR}/etcd-alarm-check.timer`, mode: "0644", text: timer("etcd alarm and backend quota check", input.alarmCheckSchedule, false) },
    ];
    if (input.backup.schedule !== "") {
        files.push({ path: `${UNIT_DIR}/etcd-backup.timer`, mode: "0644", text: timer("etcd scheduled snapshot", input.backup.schedule, true) });
    }
    if (input.defragSchedule !== "") {
        files.push({ path: `${UNIT_DIR}/etcd-defrag-scheduled.timer`, mode: "0644", text: timer("etcd scheduled defragmentation", input.defragSchedule, true) });
    }
    return files;
}

export function maintenanceInstallScript(input: MaintenanceInput): string {
    const files = maintenanceFiles(input);
    const marker = "ETCD_MAINTENANCE_FILE_EOF";
    for (const f of files) {
        if (f.text.includes(marker)) throw new Error(`${f.path} must not contain ${marker}`);
    }
    const wantedTimers = files.map((f) => f.path.split("/").pop()!).filter((n) => n.endsWith(".timer"));
    const schedules = [input.backup.schedule, input.defragSchedule, input.alarmCheckSchedule].filter((s) => s !== "");
    const staged = files.map((f, i) => `cat > "$stage/${i}" <<'${marker}'\n${f.text}${marker}\n`).join("");
    return `${SCRIPT_HEADER}# Install the maintenance units of etcd member ${input.memberName} (managed by the EtcdCluster Pulumi component).
member=${shellQuote(input.memberName)}
paths=${shellArray(files.map((f) => f.path))}
modes=${shellArray(files.map((f) => f.mode))}
wanted_timers=${shellArray(wantedTimers)}
all_timers=${shellArray(TIMERS)}
schedules=${shellArray(schedules)}
env_file=${shellQuote(S3_ENV_FILE)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# 1. Refuse a schedule systemd cannot parse before anything changes.
for s in "\${schedules[@]}"; do
  if ! out=$(systemd-analyze calendar "$s" 2>&1); then
    echo "maintenance on $member: systemd cannot parse the schedule '$s': $out" >&2
    exit 1
  fi
done

# 2. Stage every file.
${staged}
# 3. The snapshot directory (0700, owned by ${SERVICE_USER}) and, when uploads are configured, the S3 settings
#    from stdin into a 0600 file owned by ${SERVICE_USER}; otherwise no such file.
install -d -m 0700 -o ${SERVICE_USER} -g ${SERVICE_USER} ${shellQuote(input.snapshotDir)}
${input.backup.s3 ? `umask 077
cat > "$stage/s3.env"
for key in S3_ENDPOINT S3_BUCKET S3_REGION S3_PREFIX S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY; do
  if ! grep -q "^$key=" "$stage/s3.env"; then
    echo "maintenance on $member: the S3 settings on stdin lack $key" >&2
    exit 1
  fi
done
if ! cmp -s "$stage/s3.env" "$env_file"; then
  install -m 0600 -o ${SERVICE_USER} -g ${SERVICE_USER} "$stage/s3.env" "$env_file"
  echo "maintenance on $member: S3 settings installed in $env_file (0600, ${SERVICE_USER})"
fi
chown ${SERVICE_USER}:${SERVICE_USER} "$env_file"
chmod 0600 "$env_file"` : `if [ -e "$env_file" ]; then
  rm -f "$env_file"
  echo "maintenance on $member: uploads no longer configured; removed $env_file"
fi`}

# 4. Put changed files in place; reload systemd only when a unit changed.
units_changed=0
for i in "\${!paths[@]}"; do
  if ! cmp -s "$stage/$i" "\${paths[$i]}"; then
    install -m "\${modes[$i]}" -o root -g root "$stage/$i" "\${paths[$i]}"
    echo "maintenance on $member: wrote \${paths[$i]}"
    case "\${paths[$i]}" in ${UNIT_DIR}/*) units_changed=1 ;; esac
  fi
done
for t in "\${all_timers[@]}"; do
  case " \${wanted_timers[*]} " in
    *" $t "*) ;;
    *)
      if [ -e "${UNIT_DIR}/$t" ]; then
        systemctl disable --now --quiet "$t" || true
        rm -f "${UNIT_DIR}/$t"
        units_changed=1
        echo "maintenance on $member: removed $t (no schedule)"
      fi ;;
  esac
done
if [ "$units_changed" = 1 ]; then systemctl daemon-reload; fi
for t in "\${wanted_timers[@]}"; do
  systemctl enable --quiet "$t"
  # restart, not start: a timer whose schedule changed recomputes its next run.
  if [ "$units_changed" = 1 ] || ! systemctl is-active --quiet "$t"; then systemctl restart "$t"; fi
done
systemctl list-timers --all --no-pager "\${wanted_timers[@]}"
`;
}

/** Run when the member or the stack goes away: timers and units removed; snapshots are kept. */
export function maintenanceUninstallScript(): string {
    const units = [...TIMERS, "etcd-backup.service", "etcd-defrag.service", "etcd-defrag-scheduled.service", "etcd-alarm-check.service"];
    return `${SCRIPT_HEADER}# Remove the etcd maintenance units (managed by the EtcdCluster Pulumi component); snapshots are kept.
units=${shellArray(units)}
for u in "\${units[@]}"; do
  systemctl disable --now --quiet "$u" 2>/dev/null || true
  rm -f "${UNIT_DIR}/$u"
done
rm -f ${Object.values(MAINTENANCE_BIN).map(shellQuote).join(" ")} ${shellQuote(S3_ENV_FILE)}
systemctl daemon-reload
systemctl reset-failed "\${units[@]}" 2>/dev/null || true
echo "etcd maintenance units removed; snapshots are kept"
`;
}
