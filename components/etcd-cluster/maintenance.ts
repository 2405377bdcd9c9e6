// Maintenance on every member, as one remote Command per member after that member's configure step: the
// backup timer (leader-only snapshots, verified, pruned, optionally uploaded to S3), on-demand and scheduled
// defragmentation (one member at a time), and the quota/alarm check. The Command carries the rendered text
// and re-runs only when it changes; the S3 settings travel as a secret on its stdin.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterPlan } from "./plan";
import { forGeneration } from "./host-generation";
import { EtcdHost } from "./hosts/types";
import { renderS3Env } from "./render/backup-script";
import { encryptionPassphrase, s3AccessKeyId } from "./validate";
import { hostLayout } from "./render/layout";
import { maintenanceInstallScript, maintenanceUninstallScript } from "./render/maintenance-units";

export interface MaintenanceInput {
    name: string;
    plan: ClusterPlan;
    hosts: EtcdHost[];
    /** Each member's configure step, in host order: its maintenance waits for it. */
    configures: pulumi.Resource[];
    /** Each member's host generation: the units are installed again on a new host. */
    generations: pulumi.Input<string>[];
    parent: pulumi.Resource;
}

export function createMaintenance(input: MaintenanceInput): command.remote.Command[] {
    const { plan, hosts } = input;
    const s3 = plan.backup.s3;
    const layout = hostLayout(plan);
    const s3Env = s3
        ? pulumi.secret(pulumi.all([s3.accessKeyId, s3.secretAccessKey, s3.encryptionPassphrase]).apply(([accessKeyId, secretAccessKey, passphrase]) =>
            // Secret values are only known here; resolveArgs checked plain ones already.
            renderS3Env({
                endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix: s3.prefix, accessKeyId: s3AccessKeyId(accessKeyId), secretAccessKey,
                serverSideEncryption: s3.serverSideEncryption, kmsKeyId: s3.kmsKeyId, uploadCutoffMiB: s3.uploadCutoffMiB,
                encryptionPassphrase: passphrase === undefined ? undefined : encryptionPassphrase(passphrase),
            })))
        : undefined;
    return hosts.map((host, i) => new command.remote.Command(`${input.name}-${host.name}-maintenance`, {
        connection: host.connection,
        create: forGeneration(maintenanceInstallScript({
            clusterName: input.name,
            memberName: host.name,
            layout,
            backup: { schedule: plan.backup.schedule, keep: plan.backup.keep, s3: s3 !== undefined },
            defragSchedule: plan.maintenance.defragSchedule,
            alarmCheckSchedule: plan.maintenance.alarmCheckSchedule,
            quotaBackendBytes: plan.tuning.quotaBackendBytes,
            quotaWarnPercent: plan.maintenance.quotaWarnPercent,
            certificateWarnDays: plan.maintenance.certificateWarnDays,
            healthTimeoutSeconds: plan.healthTimeoutSeconds,
        }), input.generations[i]),
        delete: maintenanceUninstallScript(),
        ...(s3Env ? { stdin: s3Env } : {}),
    }, { parent: input.parent, dependsOn: [input.configures[i]] }));
}
