// The maintenance units of one member and the script that installs them: etcd-backup (service + timer),
// etcd-defrag (on demand) and etcd-defrag-scheduled (service + timer), etcd-alarm-check (service + timer),
// and the restore tool (run by scripts/restore.sh). The S3 settings arrive on stdin (never on the command
// line, never in a log) when uploads are configured. Idempotent: files are replaced only when their text
// differs; timers that are no longer wanted are removed.
import { alarmScript } from "./alarm-script";
import { BACKUP_REMOTE_KEY, backupScript, RCLONE_S3_REMOTE } from "./backup-script";
import { defragScript } from "./defrag-script";
import { HostLayout, METRICS_TEXTFILE_DIR, S3_ENV_FILE, SERVICE_USER, TOOLS, UNIT_DIR } from "./layout";
import { restoreTool } from "./restore-tool";
import { header } from "./shell";
import { serializeUnit, UnitFile } from "./systemd";

export interface MaintenanceUnitsInput {
    /** The cluster's name: the etcd_cluster label of the metrics the tools write. */
    clusterName: string;
    memberName: string;
    layout: HostLayout;
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
    certificateWarnDays: number;
    healthTimeoutSeconds: number;
}

/** Every timer this component may install, so that one no longer wanted is found and removed. */
const TIMERS = ["etcd-backup.timer", "etcd-defrag-scheduled.timer", "etcd-alarm-check.timer"];
const SERVICES = ["etcd-backup.service", "etcd-defrag.service", "etcd-defrag-scheduled.service", "etcd-alarm-check.service"];
/** Seconds a snapshot save or upload, and one member's defragmentation, may take. */
export const MAINTENANCE_TIMEOUT_SECONDS = 900;

function service(description: string, execStart: string[], readWritePaths: string[]): UnitFile {
    return [
        { name: "Unit", entries: [
            ["Description", description],
            ["Documentation", "https://etcd.io/docs/v3.6/op-guide/maintenance/"],
            ["Wants", "network-online.target"],
            ["After", "network-online.target etcd.service"],
        ] },
        { name: "Service", entries: [
            ["Type", "oneshot"],
            ["User", SERVICE_USER],
            ["Group", SERVICE_USER],
            ["ExecStart", execStart.join(" ")],
            ["TimeoutStartSec", `${2 * MAINTENANCE_TIMEOUT_SECONDS}s`],
            ["Nice", 10],
            ["IOSchedulingClass", "best-effort"],
            ["IOSchedulingPriority", 7],
            ["NoNewPrivileges", "yes"],
            ["PrivateTmp", "yes"],
            ["ProtectHome", "yes"],
            ["ProtectSystem", "strict"],
            ...readWritePaths.map((p) => ["ReadWritePaths", p] as const),
        ] },
    ];
}

function timer(description: string, onCalendar: string, persistent: boolean): UnitFile {
    return [
        { name: "Unit", entries: [["Description", description]] },
        { name: "Timer", entries: [["OnCalendar", onCalendar], ["Persistent", persistent], ["AccuracySec", "1s"]] },
        { name: "Install", entries: [["WantedBy", "timers.target"]] },
    ];
}

export interface HostFile {
    path: string;
    mode: string;
    text: string;
}

/** Every file the install script writes, by destination: text and mode. Timers only when scheduled. */
export function maintenanceFiles(input: MaintenanceUnitsInput): HostFile[] {
    const { layout, memberName, clusterName } = input;
    const unit = (name: string, u: UnitFile): HostFile => ({ path: `${UNIT_DIR}/${name}`, mode: "0644", text: serializeUnit(u) });
    const tool = (path: string, text: string): HostFile => ({ path, mode: "0755", text });
    const files = [
        tool(TOOLS.backup, backupScript({ clusterName, memberName, layout, keep: input.backup.keep, timeoutSeconds: MAINTENANCE_TIMEOUT_SECONDS })),
        tool(TOOLS.defrag, defragScript({ memberName, layout, defragTimeoutSeconds: MAINTENANCE_TIMEOUT_SECONDS, healthTimeoutSeconds: input.healthTimeoutSeconds })),
        tool(TOOLS.alarmCheck, alarmScript({ clusterName, memberName, layout, quotaBackendBytes: input.quotaBackendBytes, warnPercent: input.quotaWarnPercent,
            certificateWarnDays: input.certificateWarnDays })),
        tool(TOOLS.restore, restoreTool({ layout })),
        unit("etcd-backup.service", service("etcd snapshot (the leader saves, verifies, prunes and uploads it)", [TOOLS.backup], [layout.snapshotDir, METRICS_TEXTFILE_DIR])),
        unit("etcd-defrag.service", service("etcd defragmentation of every member, one at a time", [TOOLS.defrag], [])),
        unit("etcd-defrag-scheduled.service", service("etcd scheduled defragmentation (runs on the leader only)", [TOOLS.defrag, "--only-on-leader"], [])),
        unit("etcd-alarm-check.service", service("etcd alarm and backend quota check", [TOOLS.alarmCheck], [METRICS_TEXTFILE_DIR])),
        unit("etcd-alarm-check.timer", timer("etcd alarm and backend quota check", input.alarmCheckSchedule, false)),
    ];
    if (input.backup.schedule !== "") files.push(unit("etcd-backup.timer", timer("etcd scheduled snapshot", input.backup.schedule, true)));
    if (input.defragSchedule !== "") files.push(unit("etcd-defrag-scheduled.timer", timer("etcd scheduled defragmentation", input.defragSchedule, true)));
    return files;
}

const FILE_MARKER = "ETCD_MAINTENANCE_FILE_EOF";

export function maintenanceInstallScript(input: MaintenanceUnitsInput): string {
    const files = maintenanceFiles(input);
    for (const f of files) {
        if (f.text.includes(FILE_MARKER)) throw new Error(`${f.path} must not contain ${FILE_MARKER}`);
    }
    const name = (f: HostFile) => f.path.slice(f.path.lastIndexOf("/") + 1);
    // The files travel as quoted here-documents (nothing in them expands), staged under their index.
    const staged = files.map((f, i) => `cat > "$stage/${i}" <<'${FILE_MARKER}'\n${f.text}${FILE_MARKER}\n`).join("");
    return header(`Install the maintenance units of etcd member ${input.memberName}`, {
        MEMBER: input.memberName,
        PATHS: files.map((f) => f.path),
        MODES: files.map((f) => f.mode),
        WANTED_TIMERS: files.map(name).filter((n) => n.endsWith(".timer")),
        ALL_TIMERS: TIMERS,
        SCHEDULES: [input.backup.schedule, input.defragSchedule, input.alarmCheckSchedule].filter((s) => s !== ""),
        S3_UPLOADS: input.backup.s3,
        S3_ENV_FILE,
        S3_REQUIRED_KEYS: [`RCLONE_CONFIG_${RCLONE_S3_REMOTE.toUpperCase()}_SECRET_ACCESS_KEY`, BACKUP_REMOTE_KEY],
        SNAPSHOT_DIR: input.layout.snapshotDir,
        METRICS_DIR: METRICS_TEXTFILE_DIR,
        SERVICE_USER,
        UNIT_DIR,
    }) + INSTALL_STAGE + staged + INSTALL_BODY;
}

const INSTALL_STAGE = `stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# 1. Refuse a schedule systemd cannot parse before anything changes.
for s in "\${SCHEDULES[@]}"; do
  if ! out=$(systemd-analyze calendar "$s" 2>&1); then
    echo "maintenance on $MEMBER: systemd cannot parse the schedule '$s': $out" >&2
    exit 1
  fi
done

# 2. Stage every file.
`;

const INSTALL_BODY = `
# 3. The snapshot and metrics directories (owned by the service user) and, when uploads are configured, rclone (the
#    distribution's package, from the host's package mirror) and the S3 settings from stdin into a 0600 file
#    owned by the service user; otherwise no such file.
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$SNAPSHOT_DIR"
# The tools' metric files for node_exporter (readable by anyone: times, no secrets).
install -d -m 0755 -o "$SERVICE_USER" -g "$SERVICE_USER" "$METRICS_DIR"
if [ "$S3_UPLOADS" = 1 ]; then
  (umask 077; cat > "$stage/s3.env")
  if ! command -v rclone >/dev/null; then
    echo "maintenance on $MEMBER: installing rclone (uploads the snapshots) with apt-get"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rclone >/dev/null; } </dev/null; then
      echo "maintenance on $MEMBER: could not install rclone with apt-get; backups to S3 need the host's distribution package mirror" >&2
      exit 1
    fi
  fi
  for key in "\${S3_REQUIRED_KEYS[@]}"; do
    if ! grep -q "^$key=" "$stage/s3.env"; then
      echo "maintenance on $MEMBER: the S3 settings on stdin lack $key" >&2
      exit 1
    fi
  done
  if ! cmp -s "$stage/s3.env" "$S3_ENV_FILE"; then
    install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" "$stage/s3.env" "$S3_ENV_FILE"
    echo "maintenance on $MEMBER: S3 settings installed in $S3_ENV_FILE (0600, $SERVICE_USER)"
  fi
  chown "$SERVICE_USER:$SERVICE_USER" "$S3_ENV_FILE"
  chmod 0600 "$S3_ENV_FILE"
elif [ -e "$S3_ENV_FILE" ]; then
  rm -f "$S3_ENV_FILE"
  echo "maintenance on $MEMBER: uploads no longer configured; removed $S3_ENV_FILE"
fi

# 4. Put changed files in place; reload systemd only when a unit changed.
units_changed=0
for i in "\${!PATHS[@]}"; do
  if ! cmp -s "$stage/$i" "\${PATHS[$i]}"; then
    install -m "\${MODES[$i]}" -o root -g root "$stage/$i" "\${PATHS[$i]}"
    echo "maintenance on $MEMBER: wrote \${PATHS[$i]}"
    case "\${PATHS[$i]}" in "$UNIT_DIR"/*) units_changed=1 ;; esac
  fi
done
for t in "\${ALL_TIMERS[@]}"; do
  case " \${WANTED_TIMERS[*]} " in
    *" $t "*) ;;
    *)
      if [ -e "$UNIT_DIR/$t" ]; then
        systemctl disable --now --quiet "$t" || true
        rm -f "\${UNIT_DIR:?}/$t"
        units_changed=1
        echo "maintenance on $MEMBER: removed $t (no schedule)"
      fi ;;
  esac
done
if [ "$units_changed" = 1 ]; then systemctl daemon-reload; fi
for t in "\${WANTED_TIMERS[@]}"; do
  systemctl enable --quiet "$t"
  # restart, not start: a timer whose schedule changed recomputes its next run.
  if [ "$units_changed" = 1 ] || ! systemctl is-active --quiet "$t"; then systemctl restart "$t"; fi
done
systemctl list-timers --all --no-pager "\${WANTED_TIMERS[@]}"
`;

/** Run when the member or the stack goes away: timers, units and tools removed; snapshots are kept. */
export function maintenanceUninstallScript(): string {
    return header("Remove the etcd maintenance units; snapshots are kept", {
        UNITS: [...TIMERS, ...SERVICES],
        UNIT_DIR,
        FILES: [...Object.values(TOOLS), S3_ENV_FILE],
        // Metrics of a member that is gone would say its certificates and backups are still there.
        METRICS_DIR: METRICS_TEXTFILE_DIR,
    }) + UNINSTALL_BODY;
}

const UNINSTALL_BODY = `for u in "\${UNITS[@]}"; do
  systemctl disable --now --quiet "$u" 2>/dev/null || true
  rm -f "\${UNIT_DIR:?}/$u"
done
rm -f "\${FILES[@]}"
rm -rf "\${METRICS_DIR:?}"
systemctl daemon-reload
systemctl reset-failed "\${UNITS[@]}" 2>/dev/null || true
echo "etcd maintenance units removed; snapshots are kept"
`;
