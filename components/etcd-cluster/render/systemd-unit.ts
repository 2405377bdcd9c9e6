// The etcd systemd unit. Pure: binary path and flags in, unit text out.
import { BOOTSTRAP_ENV_PATH, SERVICE_USER } from "./layout";

export function systemdUnit(etcdBinary: string, flags: string[]): string {
    for (const f of flags) {
        if (/[\s"'\\$%]/.test(f)) throw new Error(`etcd flag ${JSON.stringify(f)} contains a character systemd would reinterpret`);
    }
    const execStart = [etcdBinary, ...flags].join(" \\\n  ");
    return `# Managed by the EtcdCluster Pulumi component; local edits are overwritten on the next \`pulumi up\`.
[Unit]
Description=etcd key-value store
Documentation=https://etcd.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
# etcd tells systemd when it has joined the cluster and serves clients.
Type=notify
User=${SERVICE_USER}
# ETCD_INITIAL_CLUSTER{,_STATE,_TOKEN}: how this member first joined; read only while its data dir is empty.
EnvironmentFile=-${BOOTSTRAP_ENV_PATH}
Group=${SERVICE_USER}
ExecStart=${execStart}
Restart=on-failure
RestartSec=5s
TimeoutStartSec=300s
LimitNOFILE=65536
Nice=-10
IOSchedulingClass=best-effort
IOSchedulingPriority=0

[Install]
WantedBy=multi-user.target
`;
}
