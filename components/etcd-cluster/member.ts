// etcd on one host, as remote Commands: install the release (in parallel across members), then configure
// and restart behind a health gate (chained member after member by the caller). Scripts are rendered by
// pure functions; the Commands only carry them, and re-run only when the text they carry changes.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterSpec } from "./args";
import { EtcdHost } from "./hosts/types";
import { Pki } from "./pki";
import { configureScript, renderBundle } from "./render/configure-script";
import { clientUrl, etcdFlags, initialCluster, MemberAddress, peerUrl } from "./render/flags";
import { stopScript } from "./render/membership";
import { installScript, uninstallScript } from "./render/install-script";
import { releaseDir } from "./render/layout";
import { systemdUnit } from "./render/systemd-unit";

export interface MemberResources {
    install: command.remote.Command;
    configure: command.remote.Command;
}

export interface MemberInput {
    name: string;
    spec: ClusterSpec;
    index: number;
    hosts: EtcdHost[];
    addresses: pulumi.Output<MemberAddress[]>;
    clusterToken: pulumi.Output<string>;
    pki: Pki;
    /** The previous member's configure step: this member restarts only after it has succeeded. */
    previous?: pulumi.Resource;
    /** The version preflight: nothing is installed before it has passed. */
    preflight: pulumi.Resource;
    parent: pulumi.Resource;
}

export function createMember(input: MemberInput): MemberResources {
    const { spec, hosts, index, parent } = input;
    const host = hosts[index];
    const installInput = { release: spec.release, dataDir: spec.dataDir };
    const install = new command.remote.Command(`${input.name}-${host.name}-install`, {
        connection: host.connection,
        create: installScript(installInput),
        delete: uninstallScript(installInput),
    }, { parent, dependsOn: [...host.dependsOn, input.preflight] });

    const script = pulumi.all([input.addresses, input.clusterToken]).apply(([members, token]) => {
        const flags = etcdFlags({
            member: members[index],
            dataDir: spec.dataDir,
            tuning: spec.tuning,
            ports: spec.ports,
            metricsOnPrivateNetwork: spec.metricsOnPrivateNetwork,
        });
        return configureScript({
            memberName: host.name,
            version: spec.release.version,
            dataDir: spec.dataDir,
            snapshotDir: spec.snapshotDir,
            unit: systemdUnit(`${releaseDir(spec.release.version)}/etcd`, flags),
            localClientUrl: clientUrl("127.0.0.1", spec.ports.client),
            peerClientUrls: members.filter((_, i) => i !== index).map((m) => clientUrl(m.privateIp, spec.ports.client)),
            selfPeerUrl: peerUrl(members[index].privateIp, spec.ports.peer),
            initialCluster: initialCluster(members, spec.ports.peer),
            clusterToken: token,
            healthTimeoutSeconds: spec.healthTimeoutSeconds,
        });
    });

    const memberPki = input.pki.members[index];
    const bundle = pulumi.secret(pulumi.all([
        input.pki.caCertPem, memberPki.server.certPem, memberPki.server.keyPem, memberPki.peer.certPem, memberPki.peer.keyPem,
        input.pki.clients.healthcheck.certPem, input.pki.clients.healthcheck.keyPem,
    ]).apply(([ca, serverCert, serverKey, peerCert, peerKey, healthcheckCert, healthcheckKey]) =>
        renderBundle({ ca, serverCert, serverKey, peerCert, peerKey, healthcheckCert, healthcheckKey })));

    const configure = new command.remote.Command(`${input.name}-${host.name}-configure`, {
        connection: host.connection,
        create: script,
        stdin: bundle,
        delete: stopScript(host.name),
    }, {
        parent,
        dependsOn: [install, ...(input.previous ? [input.previous] : [])],
        // Should an input ever force a replacement: stop, then start, never the other way round.
        deleteBeforeReplace: true,
    });
    return { install, configure };
}
