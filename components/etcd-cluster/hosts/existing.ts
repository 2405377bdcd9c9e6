// Hosts layer for machines that already exist: bring-your-own servers and the local test hosts.
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec } from "../args";
import { HostsResult, sshConnection } from "./types";

export function existingHosts(spec: ClusterSpec, sshPrivateKey: pulumi.Input<string>): HostsResult {
    const hosts = (spec.existingHosts ?? []).map((h) => ({
        name: h.name,
        privateIp: pulumi.output(h.privateIp),
        publicIp: pulumi.output(h.publicIp),
        connection: sshConnection(h.sshHost, h.sshPort, h.sshUser, sshPrivateKey),
        dependsOn: [],
    }));
    return { hosts };
}
