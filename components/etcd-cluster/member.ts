// etcd on one host, as remote Commands: install the release and start a member that has no data yet (both
// in parallel across members), then configure and restart behind a health gate (chained member after member
// by the caller). Scripts are rendered by pure functions; the Commands only carry them, and re-run only when
// the text they carry changes.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterPlan } from "./plan";
import { forGeneration, HostGeneration } from "./host-generation";
import { EtcdHost } from "./hosts/types";
import { Pki } from "./pki";
import { EtcdMemberInfo } from "./plan";
import { configureScript, renderBundle } from "./render/configure-script";
import { etcdFlags, etcdUnit, initialCluster } from "./render/flags";
import { installScript, uninstallScript } from "./render/install-script";
import { hostLayout } from "./render/layout";
import { serializeUnit } from "./render/systemd";

export interface MemberResources {
    install: command.remote.Command;
    /** First start of a member without data (new cluster or join); runs once, in parallel across members. */
    start: command.remote.Command;
    /** Every later change, one member after another; its creation does nothing (no SSH session). */
    configure: command.remote.Command;
}

export interface MemberInput {
    name: string;
    plan: ClusterPlan;
    index: number;
    hosts: EtcdHost[];
    addresses: pulumi.Output<EtcdMemberInfo[]>;
    clusterToken: pulumi.Output<string>;
    pki: Pki;
    /** The previous member's configure step: this member restarts only after it has succeeded. */
    previous?: pulumi.Resource;
    /** The version preflight: nothing is installed before it has passed. */
    preflight: pulumi.Resource;
    /** The host's generation: install and configure run again when it changes (a new or rebuilt host). */
    generation: HostGeneration;
    parent: pulumi.Resource;
}

export function createMember(input: MemberInput): MemberResources {
    const { plan, hosts, index, parent } = input;
    const host = hosts[index];
    const layout = hostLayout(plan);
    const installInput = { release: plan.release, layout, owner: `${input.name}/${host.name}` };
    const install = new command.remote.Command(`${input.name}-${host.name}-install`, {
        connection: host.connection,
        create: forGeneration(installScript(installInput), input.generation.value),
        delete: uninstallScript(installInput),
    }, { parent, dependsOn: [...host.dependsOn, input.generation.step, input.preflight] });

    const render = (firstStartOnly: boolean) => pulumi.all([input.addresses, input.clusterToken]).apply(([members, token]) => {
        const flags = etcdFlags({ member: members[index], layout, tuning: plan.tuning, metricsOnPrivateNetwork: plan.metricsOnPrivateNetwork,
            clientsOnPublicAddress: plan.clientsOnPublicAddress, peerCertificatesOnly: plan.pki.peerCertificatesOnly,
            clientCrl: plan.pki.clientCrlPem !== undefined });
        return configureScript({
            memberName: host.name,
            layout,
            unit: serializeUnit(etcdUnit(layout, flags)),
            peerClientUrls: members.filter((_, i) => i !== index).map((m) => layout.clientUrl(m.privateIp)),
            selfPeerUrl: layout.peerUrl(members[index].privateIp),
            initialCluster: initialCluster(members, layout),
            clusterToken: token,
            healthTimeoutSeconds: plan.healthTimeoutSeconds,
            firstStartOnly,
        });
    });

    const memberPki = input.pki.members[index];
    const bundle = pulumi.secret(pulumi.all([
        input.pki.caCertPem, memberPki.server.certPem, memberPki.server.keyPem, memberPki.peer.certPem, memberPki.peer.keyPem,
        input.pki.clients.healthcheck.certPem, input.pki.clients.healthcheck.keyPem, pulumi.output(plan.pki.clientCrlPem),
    ]).apply(([ca, serverCert, serverKey, peerCert, peerKey, healthcheckCert, healthcheckKey, clientCrlPem]) =>
        renderBundle({ ca, serverCert, serverKey, peerCert, peerKey, healthcheckCert, healthcheckKey }, clientCrlPem)));

    // Two steps, because the engine orders creates and updates alike and only restarts need an order. The
    // start step runs when the member first appears in the stack, for all members at once: a member without
    // data starts (a new cluster forms from all of them; a new member joins as a learner, one at a time);
    // one that already runs is left alone. It never runs again (its inputs are ignored after creation).
    const start = new command.remote.Command(`${input.name}-${host.name}-start`, {
        connection: host.connection,
        create: render(true),
        stdin: bundle,
    }, { parent, dependsOn: [install], ignoreChanges: ["connection", "create", "stdin"] });
    // The configure step is chained after the previous member's: it carries the configuration as its update,
    // so a change rolls one member at a time behind the health gates; creating it runs nothing. On a new host
    // (a new generation) it is what re-joins the member: its data is gone, so the old member is removed and
    // the new one added as a learner and promoted. Stopping etcd when the member goes is the install's delete.
    const configure = new command.remote.Command(`${input.name}-${host.name}-configure`, {
        connection: host.connection,
        update: forGeneration(render(false), input.generation.value),
        stdin: bundle,
    }, { parent, dependsOn: [install, start, ...(input.previous ? [input.previous] : [])] });
    return { install, start, configure };
}
