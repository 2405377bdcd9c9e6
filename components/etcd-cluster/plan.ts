// The resolved plan: the arguments with every default applied and every rule checked (validate.ts), as
// the rest of the component reads them. resolveArgs() throws before any resource exists: a half-built
// cluster is worse than a type that is a little less flexible.
import * as pulumi from "@pulumi/pulumi";
import { EtcdClusterArgs, EtcdTuningArgs, HcloudHostsArgs, MaintenanceArgs, PkiArgs } from "./args";
import { defaults } from "./defaults";
import {
    fail, hostPath, positiveInteger, resolveBackup, resolveExisting, resolveHcloud, resolveMaintenance, resolveMembers,
    resolvePki, resolveRelease, resolveTuning, separateDirs,
} from "./validate";

/** A member by its place in the cluster; its addresses come from the hosts layer. */
export interface MemberPlan {
    readonly index: number;
    readonly name: string;
}

/** A member's name and addresses, as consumers (the `members` output) and the renderers see it. */
export interface EtcdMemberInfo {
    name: string;
    privateIp: string;
    publicIp: string;
    /** Its Hetzner location (e.g. fsn1); absent for existing hosts. */
    location?: string;
}

/** How the component reaches Hetzner servers over SSH: a key it generates, or keys already in the project. */
export type HcloudSshPlan =
    | { readonly kind: "generated" }
    | { readonly kind: "projectKeys"; readonly keyNames: string[]; readonly privateKey: pulumi.Input<string> };

/** Hetzner servers this component creates, with the private IP and location of each member (in member order). */
export interface HcloudHostsPlan extends Required<Omit<HcloudHostsArgs, "sshKeyNames" | "location" | "locations" | "requireLocationFailureTolerance">> {
    readonly kind: "hcloud";
    /** The locations, in the order members are placed over them. */
    readonly locations: string[];
    /** Member i's location: locations[i % locations.length]. */
    readonly memberLocations: string[];
    /** Set when members are spread over several locations but losing one of them loses the majority. */
    readonly layoutWarning?: string;
    readonly privateIps: string[];
    readonly ssh: HcloudSshPlan;
}

export interface ExistingHostPlan {
    name: string;
    privateIp: string;
    publicIp: string;
    sshHost: string;
    sshPort: number;
    sshUser: string;
    /** The pinned SSH host key; undefined: not verified. */
    sshHostKey?: string;
}

/** Machines that already exist, and the key to reach them. */
export interface ExistingHostsPlan {
    readonly kind: "existing";
    readonly hosts: ExistingHostPlan[];
    readonly sshPrivateKey: pulumi.Input<string>;
}

export type HostsPlan = HcloudHostsPlan | ExistingHostsPlan;

/** Certificate settings with their defaults; the client CRL stays an Input (another resource may make it). */
export type ResolvedPki = Required<Omit<PkiArgs, "clientCrlPem">> & Pick<PkiArgs, "clientCrlPem">;

export interface ResolvedRelease {
    version: string;
    sha256: string;
    url: string;
}

export interface ResolvedBackupS3 {
    endpoint: string;
    bucket: string;
    region: string;
    prefix: string;
    accessKeyId: pulumi.Input<string>;
    secretAccessKey: pulumi.Input<string>;
    serverSideEncryption?: "AES256" | "aws:kms";
    kmsKeyId?: string;
    encryptionPassphrase?: pulumi.Input<string>;
    uploadCutoffMiB?: number;
}

export interface ResolvedBackup {
    schedule: string;
    keep: number;
    maxAgeHours: number;
    s3?: ResolvedBackupS3;
}

export type Ports = typeof defaults.ports;

/** The arguments with every default applied and every rule checked. */
export interface ClusterPlan {
    clusterName: string;
    members: MemberPlan[];
    hosts: HostsPlan;
    release: ResolvedRelease;
    tuning: Required<EtcdTuningArgs>;
    pki: ResolvedPki;
    dataDir: string;
    snapshotDir: string;
    metricsOnPrivateNetwork: boolean;
    /** Whether the client port listens on the members' public addresses too. */
    clientsOnPublicAddress: boolean;
    healthTimeoutSeconds: number;
    backup: ResolvedBackup;
    maintenance: Required<MaintenanceArgs>;
    ports: Ports;
}

/** Applies defaults and checks every rule; throws EtcdClusterArgsError before any resource is created. */
export function resolveArgs(name: string, args: EtcdClusterArgs): ClusterPlan {
    if ((args.hcloud === undefined) === (args.existingHosts === undefined)) {
        fail("Give exactly one of `hcloud` (create Hetzner servers) and `existingHosts` (use machines you have).");
    }
    const members = resolveMembers(args.memberNamePrefix ?? name, args.memberCount, args.existingHosts);
    const hosts: HostsPlan = args.existingHosts
        ? resolveExisting(args.existingHosts, members, args.sshPrivateKey)
        : resolveHcloud(args.hcloud ?? {}, members.length, args.sshPrivateKey);
    const tuning = resolveTuning(args.tuning ?? {});
    const pki = resolvePki(args.pki ?? {});
    const dataDir = hostPath("dataDir", args.dataDir ?? defaults.dataDir);
    const snapshotDir = hostPath("snapshotDir", args.snapshotDir ?? defaults.snapshotDir);
    separateDirs(dataDir, snapshotDir);
    if (args.hcloud && args.clientsOnPublicAddress !== undefined) {
        fail("clientsOnPublicAddress is for existingHosts; on Hetzner, hcloud.clientAllowedCidrs decides: the client port "
            + "listens on the public address exactly when that list names who may reach it.");
    }
    const clientsOnPublicAddress = hosts.kind === "hcloud" ? hosts.clientAllowedCidrs.length > 0 : args.clientsOnPublicAddress ?? false;
    const healthTimeoutSeconds = positiveInteger("healthTimeoutSeconds", args.healthTimeoutSeconds ?? defaults.healthTimeoutSeconds, 3600);

    return {
        clusterName: name,
        members,
        hosts,
        release: resolveRelease(args.release ?? {}),
        tuning,
        pki,
        dataDir,
        snapshotDir,
        metricsOnPrivateNetwork: args.metricsOnPrivateNetwork ?? defaults.metricsOnPrivateNetwork,
        clientsOnPublicAddress,
        healthTimeoutSeconds,
        backup: resolveBackup(name, args.backup ?? {}),
        maintenance: resolveMaintenance(args.maintenance ?? {}),
        ports: defaults.ports,
    };
}
