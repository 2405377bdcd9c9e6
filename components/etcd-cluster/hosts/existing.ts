// Hosts layer for machines that already exist: bring-your-own servers and the local test hosts.
import * as pulumi from "@pulumi/pulumi";
import { ExistingHostsPlan } from "../plan";
import { HostsResult, sshConnection } from "./types";

export function existingHosts(plan: ExistingHostsPlan): HostsResult {
    const hosts = plan.hosts.map((h) => ({
        name: h.name,
        privateIp: pulumi.output(h.privateIp),
        publicIp: pulumi.output(h.publicIp),
        connection: sshConnection(h.sshHost, h.sshPort, h.sshUser, plan.sshPrivateKey, h.sshHostKey),
        dependsOn: [],
    }));
    const unverified = plan.hosts.filter((h) => h.sshHostKey === undefined).map((h) => h.name);
    if (unverified.length > 0) {
        pulumi.log.warn(`existingHosts ${unverified.join(", ")}: no sshHostKey, so these hosts' SSH identity is not verified and `
            + "whoever answers on their address receives the cluster's keys. Set existingHosts[].sshHostKey to the host's "
            + "/etc/ssh/ssh_host_ed25519_key.pub (read it on the host's console, or compare `ssh-keyscan -t ed25519` with it).");
    }
    const probeTargets = plan.hosts.map((h) => ({ name: h.name, host: h.sshHost, port: h.sshPort, hostKey: h.sshHostKey }));
    return { hosts, probeTargets: pulumi.output(probeTargets) };
}
