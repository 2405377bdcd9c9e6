// A member's host generation: one remote Command per member whose output is a fresh random value each time
// it is created. It is replaced when the machine is a new one (the Hetzner server's id changed: a server
// deleted outside Pulumi and recreated by `pulumi up --refresh`, or replaced by a server change), or by hand
// for a rebuilt existing host (`pulumi up --replace <its URN>`). The member's install, configure and
// maintenance steps carry the value in their text, so they run again on the new machine: the member is
// installed, the old member removed and the new one added as a learner and promoted, with no other member
// touched. Replaced, not updated, because the value must change only when the host does.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { EtcdHost } from "./hosts/types";
import { header } from "./render/shell";

export interface HostGeneration {
    step: command.remote.Command;
    /** e.g. "host generation 0f3c…"; changes only when `step` is replaced. */
    value: pulumi.Output<string>;
}

export function hostGenerationScript(memberName: string): string {
    return header(`Host generation of etcd member ${memberName}`, { MEMBER: memberName }) + GENERATION_BODY;
}

// A new value whenever this step is replaced, so that the member's steps run again on a new or rebuilt host.
const GENERATION_BODY = `echo "host generation $(cat /proc/sys/kernel/random/uuid) ($MEMBER)"
`;

export function createHostGeneration(name: string, host: EtcdHost, after: pulumi.Resource[], parent: pulumi.Resource): HostGeneration {
    const step = new command.remote.Command(`${name}-${host.name}-host`, {
        connection: host.connection,
        create: hostGenerationScript(host.name),
        ...(host.identity ? { triggers: [host.identity] } : {}),
    }, { parent, dependsOn: [...host.dependsOn, ...after] });
    return { step, value: step.stdout.apply((s) => s.trim()) };
}

/** The script with the host generation appended as a comment: it changes (and so runs again) with the host. */
export function forGeneration(script: pulumi.Input<string>, generation: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([script, generation]).apply(([text, g]) => `${text}# ${g}\n`);
}
