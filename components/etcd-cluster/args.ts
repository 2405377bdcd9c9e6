// The component's public arguments, with their documentation. Plain interfaces: defaults live in
// defaults.ts, the rules and their messages in validate.ts, the resolved result in plan.ts.
import * as pulumi from "@pulumi/pulumi";

/** Where the members run: Hetzner Cloud servers this component creates. */
export interface HcloudHostsArgs {
    /** Hetzner location of every server (`hcloud location list`). Give this or `locations`. @default "ash" */
    location?: string;
    /**
     * Several locations of one network zone, so that a whole location can fail (e.g. ["fsn1", "nbg1", "hel1"]
     * in eu-central). Member k (1-based) runs in `locations[(k - 1) % locations.length]`: members go round the
     * list in order, so adding members never moves an existing one (5 over 3: fsn1, nbg1, hel1, fsn1, nbg1).
     * Each location has its own spread placement group. Changing the list moves members whose slot changes (one
     * server per `pulumi up`); when moving from `location: X`, list X first. @default [location]
     */
    locations?: string[];
    /**
     * Refuse a member layout in which the failure of one location loses the majority (e.g. 3 members over 2
     * locations, or one location). @default false (such a multi-location layout is a warning)
     */
    requireLocationFailureTolerance?: boolean;
    /** Network zone of the subnet; must contain every location. @default "us-east" */
    networkZone?: string;
    /** Server type, e.g. cpx11, cx22, cax11, ccx13. @default "cpx11" */
    serverType?: string;
    /** Image name or id. @default "ubuntu-22.04" */
    image?: string;
    /** IP range of the private network. @default "10.1.0.0/16" */
    networkCidr?: string;
    /** IP range of the subnet the servers attach to; must lie inside `networkCidr`. @default "10.1.1.0/24" */
    subnetCidr?: string;
    /** Member k (1-based) gets the private IP subnet address + offset + k. @default 10 (10.1.1.11, .12, …) */
    privateIpOffset?: number;
    /** Labels on every Hetzner resource, besides `etcd-cluster=<name>`. @default {} */
    labels?: Record<string, string>;
    /**
     * Names of SSH keys already in the Hetzner project to put on the servers. When set, no key is generated and
     * `sshPrivateKey` must be given. @default [] (a key is generated with @pulumi/tls)
     */
    sshKeyNames?: string[];
    /**
     * Source CIDRs allowed to reach SSH (22/tcp) on the public interface: where `pulumi up` runs from, and your
     * operators. Required, not empty: there is no default, because the usual one (the whole internet) is the one
     * to avoid. `["0.0.0.0/0", "::/0"]` states it explicitly.
     */
    sshAllowedCidrs?: string[];
    /**
     * Source CIDRs allowed to reach the client port (2379/tcp) on the public interface. The peer port is never
     * opened publicly: peers talk over the private network, which Hetzner firewalls do not filter.
     * @default [] (clients come over the private network)
     */
    clientAllowedCidrs?: string[];
    /**
     * Make the Hetzner names (network, firewall, placement group, SSH key, servers) unique to this stack:
     * `<name>-network-<stack>-<hash>`, servers `<member>-<stack>-<hash>` (etcd member names stay), so that several
     * clusters share one Hetzner project. Turning it on renames in place (nothing is replaced); do it in a
     * `pulumi up` of its own. Recommended for new stacks. @default false (`<name>-network`, `<member>`, …)
     */
    uniqueNames?: boolean;
    /**
     * Hetzner delete and rebuild protection on the servers. A server change that replaces servers (serverType,
     * image, location) is refused while it is on: turn it off, change, turn it on again. @default false
     */
    protection?: boolean;
}

/** Where the members run: machines that already exist (bring your own hosts, local test hosts). */
export interface ExistingHostArgs {
    /** Member name. @default "<memberNamePrefix>-<k>" */
    name?: string;
    /** Address peers and clients use (the private network). */
    privateIp: string;
    /** Public address, added to certificate SANs. @default privateIp */
    publicIp?: string;
    /** Address to SSH to. @default publicIp */
    sshHost?: string;
    /** @default 22 */
    sshPort?: number;
    /** @default "root" */
    sshUser?: string;
    /**
     * The host's SSH public host key, e.g. the line in its `/etc/ssh/ssh_host_ed25519_key.pub`
     * (`ssh-ed25519 AAAA…`). Connections refuse a host that shows another key, before anything is sent. Take it
     * from the host's console or image, not from the network. @default none: the host is not verified, and
     * every `pulumi up` and preview warns about it.
     */
    sshHostKey?: string;
}

/** Which etcd release to install, and from where. */
export interface EtcdReleaseArgs {
    /** etcd version, `X.Y.Z` (a leading `v` is accepted). @default versions.json etcd.default (3.6.14) */
    version?: string;
    /**
     * sha256 of the linux-amd64 tarball. @default the official checksum when `version` is in KNOWN_RELEASE_SHA256,
     * otherwise required.
     */
    sha256?: string;
    /**
     * Base URL of the release assets; the tarball is `<base>/v<version>/etcd-v<version>-linux-amd64.tar.gz`.
     * Point it at a mirror for air-gapped sites. @default "https://github.com/etcd-io/etcd/releases/download"
     */
    downloadBaseUrl?: string;
}

/** etcd tunables. Each maps to one etcd flag; units are in the names. */
export interface EtcdTuningArgs {
    /** Milliseconds between leader heartbeats (`--heartbeat-interval`). @default 100 */
    heartbeatIntervalMs?: number;
    /** Milliseconds a follower waits before calling an election (`--election-timeout`); >= 5 x heartbeat. @default 1000 */
    electionTimeoutMs?: number;
    /** Backend size limit in bytes before the NOSPACE alarm (`--quota-backend-bytes`). @default 2 GiB */
    quotaBackendBytes?: number;
    /** Committed transactions between snapshots to disk (`--snapshot-count`). @default 10000 */
    snapshotCount?: number;
    /** `periodic` (retention is a duration) or `revision` (retention is a count) (`--auto-compaction-mode`). @default "periodic" */
    autoCompactionMode?: "periodic" | "revision";
    /** `--auto-compaction-retention`: e.g. "8h" for periodic, "10000" for revision; "0" disables. @default "8h" */
    autoCompactionRetention?: string;
}

/** Certificate authority and certificates. */
export interface PkiArgs {
    /** Validity of the CA certificate in hours. @default 87600 (10 years) */
    caValidityHours?: number;
    /** Validity of member and client certificates in hours. @default 8760 (1 year) */
    certValidityHours?: number;
    /** Leaf certificates are replaced this many hours before they expire, on the next `pulumi up`. @default 720 (30 days) */
    earlyRenewalHours?: number;
    /** Extra subject alternative names on every member's server and peer certificate: IPs or DNS names. @default [] */
    extraSans?: string[];
    /**
     * The peer port accepts members' peer certificates only (CN `etcd-peer`), not the CA's client and server
     * certificates. `false` only to migrate a cluster whose peer certificates predate that CN: one `pulumi up`
     * with `false` rolls the new certificates out, the next with the default turns the check on. @default true
     */
    peerCertificatesOnly?: boolean;
    /**
     * CA rotation. There are two CA slots, "a" and "b". `activeCa` signs every leaf certificate; `trustedCas` is
     * what members and clients trust (the `caCertificate` output is their bundle). Rotate a -> b in three
     * `pulumi up`s, each rolled one member at a time: trust both (active a, trusted [a, b]); sign with the new
     * one (active b, trusted [a, b]) — hand the new client certificates to consumers now; drop the old one
     * (active b, trusted [b]). @default "a"
     */
    activeCa?: CaSlot;
    /** CAs trusted during a rotation; must include `activeCa`. @default [activeCa] */
    trustedCas?: CaSlot[];
    /**
     * A certificate revocation list (PEM) signed by a trusted CA: members refuse client certificates whose
     * serial it lists (etcd `--client-crl-file`), from the next connection on. Setting it the first time rolls
     * the flag out one member at a time; a new list after that is installed without a restart. Each member
     * checks the list's signature against the CA bundle before installing it, and refuses a list that revokes
     * the health-check certificate the component's own gates use. Sign it with the CA key from the stack's
     * state (docs/operations.md shows how). Revoking the peer or server certificates is a CA rotation.
     * @default none (no list; revoke by rotating the CA)
     */
    clientCrlPem?: pulumi.Input<string>;
}

export type CaSlot = "a" | "b";

/**
 * Where scheduled snapshots are uploaded: any S3-compatible store (AWS S3, MinIO, Ceph RGW, Hetzner Object
 * Storage, …), path-style keys `<bucket>/<prefix><file>`, uploaded with rclone (the distribution's package,
 * which the maintenance step installs with apt-get when it is missing: the hosts need their package mirror).
 * The bucket must exist; expire old objects with a lifecycle rule. Every value reaches the hosts only over SSH
 * stdin, into a 0600 file owned by `etcd`; keep the keys and the passphrase as Pulumi secrets.
 */
export interface BackupS3Args {
    /** Base URL, e.g. "https://s3.eu-central-1.amazonaws.com"; plain http only with `allowHttp`. */
    endpoint: string;
    /** Accept a plain-http endpoint (snapshots and signatures unencrypted on the wire), for a trusted network. @default false */
    allowHttp?: boolean;
    /** Bucket name (S3 rules: 3-63 characters of lowercase letters, digits, '.', '-'). */
    bucket: string;
    /** Signing region. @default "us-east-1" */
    region?: string;
    /** Key prefix of the uploaded objects. @default "<component name>/" */
    prefix?: string;
    /** Access key id. Secret. */
    accessKeyId: pulumi.Input<string>;
    /** Secret access key. Secret. */
    secretAccessKey: pulumi.Input<string>;
    /**
     * Server-side encryption the store applies to each uploaded object (S3's `x-amz-server-side-encryption`):
     * "AES256" (keys managed by the store) or "aws:kms" (a KMS key, `kmsKeyId` or the store's default).
     * @default none (the bucket's default encryption, if any)
     */
    // A string, not a union of literals: Pulumi's schema for other languages has no union types; validate.ts
    // refuses any other value.
    serverSideEncryption?: string;
    /** KMS key id or ARN for `serverSideEncryption: "aws:kms"`. @default the store's default KMS key */
    kmsKeyId?: string;
    /**
     * Client-side encryption: the hosts encrypt each snapshot with rclone's `crypt` (NaCl secretbox, key derived
     * from this passphrase with scrypt) before it leaves them; the object is `<prefix><file>.bin` and only this
     * passphrase opens it (docs/operations.md shows how). At least 16 characters, one line. Secret; losing it
     * loses the backups. @default none (no client-side encryption)
     */
    encryptionPassphrase?: pulumi.Input<string>;
    /**
     * Snapshots larger than this many MiB are uploaded in parts (an S3 multipart upload, rclone's `upload_cutoff`);
     * smaller ones in one PUT, which S3 allows up to 5 GiB. From 1 to 5120. @default 200 (rclone's default)
     */
    uploadCutoffMiB?: number;
}

/**
 * Scheduled snapshots. Every member gets the timer; the run on the member that is the raft leader at that
 * moment takes the snapshot (one per tick for the cluster), the others log that they skipped.
 */
export interface BackupArgs {
    /** systemd `OnCalendar=` of etcd-backup.timer; "" installs no timer (start etcd-backup.service by hand). @default "hourly" */
    schedule?: string;
    /** Scheduled snapshots kept per host in `snapshotDir` (pre-upgrade snapshots are never pruned). @default 24 */
    keep?: number;
    /**
     * The alert rules' EtcdBackupTooOld fires when the cluster's newest successful backup (saved, verified and,
     * when configured, uploaded) is older than this many hours. Set it above the schedule's period. @default 3
     */
    maxAgeHours?: number;
    /** Upload every scheduled snapshot to S3-compatible storage. @default none (local snapshots only) */
    s3?: BackupS3Args;
}

/** Defragmentation and the backend quota check, as systemd units on every member. */
export interface MaintenanceArgs {
    /**
     * systemd `OnCalendar=` of etcd-defrag-scheduled.timer: the leader then defragments every member, one at a
     * time. "" installs no timer (etcd-defrag.service still walks the cluster on demand). @default "weekly"
     */
    defragSchedule?: string;
    /** systemd `OnCalendar=` of etcd-alarm-check.timer. @default "*:0/5" (every five minutes) */
    alarmCheckSchedule?: string;
    /** The alarm check fails once the backend reaches this share of `tuning.quotaBackendBytes`, in percent. @default 80 */
    quotaWarnPercent?: number;
    /**
     * The alarm check fails while any certificate under /etc/etcd/pki expires within this many days. Leaf
     * certificates renew only when `pulumi up` runs (from `pki.earlyRenewalHours` before expiry, 30 days by
     * default), so this says it is due; the CA needs a rotation. @default 21
     */
    certificateWarnDays?: number;
}

export interface EtcdClusterArgs {
    /** Number of members: odd, so that a majority survives the loss of (n-1)/2 members; 1 to 9. @default 3 */
    memberCount?: number;
    /** Member k is named `<memberNamePrefix>-<k>`; also the Hetzner server name. @default the component's name */
    memberNamePrefix?: string;
    /** Create Hetzner Cloud servers. Exactly one of `hcloud` and `existingHosts` is given. */
    hcloud?: HcloudHostsArgs;
    /** Use existing machines; their number is the member count. Exactly one of `hcloud` and `existingHosts`. */
    existingHosts?: ExistingHostArgs[];
    /** SSH private key (OpenSSH/PEM) for existing hosts or for `hcloud.sshKeyNames`. Stored as a secret. */
    sshPrivateKey?: pulumi.Input<string>;
    /** etcd release. @default see EtcdReleaseArgs */
    release?: EtcdReleaseArgs;
    /** etcd tunables. @default see EtcdTuningArgs */
    tuning?: EtcdTuningArgs;
    /** Certificates. @default see PkiArgs */
    pki?: PkiArgs;
    /** etcd data directory on the hosts (created 0700, owned by `etcd`). @default "/var/lib/etcd" */
    dataDir?: string;
    /** Where snapshots are kept on the hosts (pre-upgrade snapshots, scheduled backups); 0700, owned by `etcd`. @default "/var/backups/etcd" */
    snapshotDir?: string;
    /**
     * Existing hosts: serve the client port on each host's `publicIp` too (when it differs from `privateIp`).
     * On Hetzner this follows `hcloud.clientAllowedCidrs` instead: the client port listens on the public
     * address exactly when that list names who may reach it. @default false (private address and loopback only)
     */
    clientsOnPublicAddress?: boolean;
    /**
     * Serve Prometheus metrics on the member's private IP too (plain HTTP, port 2381, no authentication), not
     * only on 127.0.0.1; never on the public IP. Then `prometheusTargets` lists them for a Prometheus on the
     * private network. @default false: the Hetzner firewall filters only public interfaces, so every server
     * on the private network could read the metrics (and `/health`); turning it on is a decision to make, and
     * changing it restarts each member (one at a time).
     */
    metricsOnPrivateNetwork?: boolean;
    /** Seconds a rolling restart waits for a member to become healthy before failing the deployment. @default 120 */
    healthTimeoutSeconds?: number;
    /** Scheduled snapshots, kept locally and optionally uploaded. @default see BackupArgs */
    backup?: BackupArgs;
    /** Defragmentation and the quota alarm check. @default see MaintenanceArgs */
    maintenance?: MaintenanceArgs;
}
