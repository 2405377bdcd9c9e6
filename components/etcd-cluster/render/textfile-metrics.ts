// Metrics etcd does not serve itself (the newest successful backup, the certificates' expiry), written by the
// maintenance tools as files for node_exporter's textfile collector (`--collector.textfile.directory`
// pointed at METRICS_TEXTFILE_DIR), and read by the alert rules (monitoring/rules.ts). Each line carries the
// same etcd_cluster and etcd_member labels as the members' scrape targets.

/** The metric names, shared by the tools that write them and the rules that read them. */
export const TEXTFILE_METRICS = {
    /** Unix time of the newest backup a member saved, verified and (when configured) uploaded. */
    backupLastSuccess: "etcd_backup_last_success_timestamp_seconds",
    /** notAfter of each certificate under the PKI directory, in Unix time. */
    certificateExpiry: "etcd_certificate_expiry_timestamp_seconds",
} as const;

/** The files, one per tool, so that each replaces only its own. */
export const TEXTFILE_NAMES = { backup: "etcd-backup.prom", certificates: "etcd-certificates.prom" } as const;

/**
 * `write_textfile NAME`: stdin into METRICS_DIR/NAME through a temporary file and a rename, so that a scrape
 * never reads half a file (node_exporter skips files whose name does not end in .prom).
 */
export const WRITE_TEXTFILE = `write_textfile() {
  local tmp
  tmp=$(mktemp "$METRICS_DIR/.$1.XXXXXX")
  cat >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$METRICS_DIR/$1"
}
`;
