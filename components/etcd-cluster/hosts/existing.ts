// Hosts layer for machines that already exist: bring-your-own servers and the local test hosts.
import * as pulumi from "@pulumi/pulumi";
import { ExistingHostsPlan } from "../plan";
import { HostsResult, sshConnection } from "./types";

export function existingHosts(plan: ExistingHostsPlan): HostsResult {
    const hosts = plan.hosts.map((h) => ({
        name: h.name,
        privateIp: pulumi.output(h.privateIp),
        publicIp: pulumi.output(h.publicIp),
        connection: sshConnection(h.sshHost, h.sshPort, h.sshUser, plan.sshPrivateKey),
        dependsOn: [],
    }));
    const probeTargets = plan.hosts.map((h) => ({ name: h.name, host: h.sshHost, port: h.sshPort }));
    return { hosts, probeTargets: pulumi.output(probeTargets) };
}
