// What the component hands each resource, under Pulumi mocks: the parent of every child, the key algorithm,
// the certificate subjects, each member's configure script (its peers, the CRL flag), the install's owner,
// the client outputs and the warning for an open peer port. Each case came from a mutant Stryker found alive
// (npm run mutate) and fails with it in place. Every cluster is built inside its test: Stryker gives code run
// in beforeAll to no test.
import * as pulumi from "@pulumi/pulumi";

import { inputsOfOne, OptionsCapture, promiseOf, recordingMocks, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster, EtcdClusterArgs } from "../../components/etcd-cluster";

const hosts = [{ privateIp: "10.9.0.11" }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }];
const CRL = "-----BEGIN X509 CRL-----\nMIIBCz\nAA==\n-----END X509 CRL-----\n";

async function build(args: Partial<EtcdClusterArgs> = {}, opts: pulumi.ComponentResourceOptions = {}): Promise<EtcdCluster> {
    const cluster = new EtcdCluster("t", { existingHosts: hosts, sshPrivateKey: pulumi.secret("key"), ...args }, opts);
    await promiseOf(cluster.clusterCheck);
    await settled();
    return cluster;
}
const one = (type: string, name: string) => inputsOfOne(created, type, name);
const command = (name: string) => one("command:remote:Command", name);

beforeEach(() => { created.length = 0; });

describe("the resources of a 3-member cluster on existing hosts", () => {
    it("are all children of the cluster", async () => {
        const capture = new OptionsCapture();
        const cluster = await build({}, { transformations: [capture.transformation] });
        const children = [...capture.options].filter(([name]) => name !== "t"); // the transformation sees the cluster too
        expect(children.length).toBe(created.filter((r) => r.type !== "etcd-cluster:index:EtcdCluster").length);
        for (const [name, opts] of children) expect({ name, parent: opts.parent === cluster }).toEqual({ name, parent: true });
    });

    it("every key is ECDSA P-256: the CA, the members, the clients", async () => {
        await build();
        const keys = created.filter((r) => r.type === "tls:index/privateKey:PrivateKey");
        expect(keys.length).toBe(1 + 2 * 3 + 3); // CA, server + peer per member, three clients
        for (const k of keys) expect({ name: k.name, ...k.inputs }).toEqual({ name: k.name, algorithm: "ECDSA", ecdsaCurve: "P256" });
    });

    it("certificate subjects name the CA (with its slot after the first), the member and the role", async () => {
        await build({ pki: { activeCa: "b", trustedCas: ["a", "b"] } });
        expect(one("tls:index/selfSignedCert:SelfSignedCert", "t-ca").subject).toEqual({ commonName: "t-etcd-ca", organization: "etcd" });
        expect(one("tls:index/selfSignedCert:SelfSignedCert", "t-ca-b").subject).toEqual({ commonName: "t-etcd-ca-b", organization: "etcd" });
        expect(one("tls:index/certRequest:CertRequest", "t-t-2-server-csr").subject).toEqual({ commonName: "t-2", organization: "etcd-server" });
    });

    it("each member's configure script lists the other members' client URLs, not its own", async () => {
        await build();
        for (const [i, ip] of hosts.map((h) => h.privateIp).entries()) {
            const others = hosts.map((h) => h.privateIp).filter((o) => o !== ip).map((o) => `'https://${o}:2379'`).join(" ");
            expect(command(`t-t-${i + 1}-configure`).update).toContain(`readonly PEERS=(${others})\n`);
        }
    });

    it("etcd checks client certificates against the CRL exactly when pki.clientCrlPem is given", async () => {
        await build();
        expect(command("t-t-1-configure").update).not.toContain("--client-crl-file");
        created.length = 0;
        await build({ pki: { clientCrlPem: CRL } });
        expect(command("t-t-1-configure").update).toContain("--client-crl-file=");
    });

    it("the install step marks the data directory as this cluster's member", async () => {
        await build();
        expect(command("t-t-3-install").create).toContain("readonly OWNER='t/t-3'\n");
    });

    it("outputs the etcdctl environment for the admin certificate, and no public client endpoints unless asked", async () => {
        const cluster = await build();
        expect(await promiseOf(cluster.etcdctlEnvironment)).toBe([
            "export ETCDCTL_API=3",
            "export ETCDCTL_ENDPOINTS=https://10.9.0.11:2379,https://10.9.0.12:2379,https://10.9.0.13:2379",
            "export ETCDCTL_CACERT=$PWD/etcd-ca.crt",
            "export ETCDCTL_CERT=$PWD/etcd-admin.crt",
            "export ETCDCTL_KEY=$PWD/etcd-admin.key",
        ].join("\n"));
        expect(await promiseOf(cluster.publicClientEndpoints)).toEqual([]);
    });
});

describe("existing hosts without a pinned SSH host key", () => {
    it("are named in a warning that says what it risks and where the key is; with every key pinned, no warning", async () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxHbZk0aL8cMzRbt4VwJzPq2Xn0t8nQe2q4mP6a8Y1c";
        const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        try {
            await build({ existingHosts: [{ ...hosts[0] }, { ...hosts[1], sshHostKey: key }, { ...hosts[2] }] });
            expect(warn.mock.calls).toEqual([["existingHosts t-1, t-3: no sshHostKey, so these hosts' SSH identity is not verified and "
                + "whoever answers on their address receives the cluster's keys. Set existingHosts[].sshHostKey to the host's "
                + "/etc/ssh/ssh_host_ed25519_key.pub (read it on the host's console, or compare `ssh-keyscan -t ed25519` with it)."]]);
            warn.mockClear();
            await build({ existingHosts: hosts.map((h) => ({ ...h, sshHostKey: key })) });
            expect(warn).not.toHaveBeenCalled();
        } finally {
            warn.mockRestore();
        }
    });
});

describe("pki.peerCertificatesOnly: false", () => {
    it("warns that the peer port accepts every certificate of the CA, and only then", async () => {
        const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        try {
            const peerWarnings = () => warn.mock.calls.filter(([message]) => message.startsWith("pki.peerCertificatesOnly"));
            await build();
            expect(peerWarnings()).toEqual([]);
            await build({ pki: { peerCertificatesOnly: false } });
            expect(peerWarnings()).toHaveLength(1);
            expect(warn).toHaveBeenCalledWith("pki.peerCertificatesOnly is false: the peer port accepts every certificate of the cluster CA, the client "
                + "certificates handed out included. Set it back (remove it) in the next `pulumi up`, once this one has rolled out.");
        } finally {
            warn.mockRestore();
        }
    });
});
