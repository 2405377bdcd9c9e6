// Every default and every checksum pin, in one place.
import * as versions from "../../versions.json";
import { CaSlot } from "./args";

export const OFFICIAL_RELEASE_BASE_URL = "https://github.com/etcd-io/etcd/releases/download";

/**
 * sha256 of the official `etcd-v<version>-linux-amd64.tar.gz` assets, as published in each release's SHA256SUMS
 * (cross-checked against several independent pins, e.g. Kubespray's checksums.yml). Other versions need `sha256`.
 */
export const KNOWN_RELEASE_SHA256: Readonly<Record<string, string>> = {
    "3.6.14": "ffe840ff9295808e88cce2794a18a5ac87f12a5203c8314d0bf6aa119b41bac5",
    "3.7.0": "b05cb07f5686dab8f9cdab89986b44f0dd24aaf5c627176aff325e21fa56f9f0",
    "3.7.1": "e8cd3fa8064c98137c5dbd78b76f969417ace84efb83c481041d7a52ffdd8fb9",
    "3.7.2": "3a3679bc51a4ee9d30bccea1da7cd4fe62c6fc1d2ca1255068d2c53bf3026135",
};

/** Every default, in one place. */
export const defaults = {
    memberCount: 3,
    hcloud: {
        location: "ash",
        requireLocationFailureTolerance: false,
        networkZone: "us-east",
        serverType: "cpx11",
        image: "ubuntu-22.04",
        networkCidr: "10.1.0.0/16",
        subnetCidr: "10.1.1.0/24",
        privateIpOffset: 10,
        labels: {} as Record<string, string>,
        sshKeyNames: [] as string[],
        clientAllowedCidrs: [] as string[],
        uniqueNames: false,
        protection: false,
    },
    release: {
        version: versions.etcd.default,
        downloadBaseUrl: OFFICIAL_RELEASE_BASE_URL,
    },
    tuning: {
        heartbeatIntervalMs: 100,
        electionTimeoutMs: 1000,
        quotaBackendBytes: 2 * 1024 ** 3,
        snapshotCount: 10_000,
        autoCompactionMode: "periodic" as "periodic" | "revision",
        autoCompactionRetention: "8h",
    },
    pki: {
        caValidityHours: 10 * 8760,
        certValidityHours: 8760,
        earlyRenewalHours: 30 * 24,
        extraSans: [] as string[],
        activeCa: "a" as CaSlot,
        peerCertificatesOnly: true,
    },
    dataDir: "/var/lib/etcd",
    snapshotDir: "/var/backups/etcd",
    metricsOnPrivateNetwork: false,
    healthTimeoutSeconds: 120,
    backup: {
        schedule: "hourly",
        keep: 24,
        maxAgeHours: 3,
        s3: { region: "us-east-1" },
    },
    maintenance: {
        defragSchedule: "weekly",
        alarmCheckSchedule: "*:0/5",
        quotaWarnPercent: 80,
        certificateWarnDays: 21,
    },
    ports: { client: 2379, peer: 2380, metrics: 2381 },
};

export const MAX_MEMBERS = 9;
/** etcd refuses a backend quota above 8 GiB ("exceeds maximum recommended"); we refuse it up front. */
export const MAX_QUOTA_BACKEND_BYTES = 8 * 1024 ** 3;
