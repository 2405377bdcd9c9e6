// The cluster's PKI as @pulumi/tls resources: a CA, per member a server and a peer certificate whose SANs
// come from the hosts' IP outputs, and client certificates for consumers. Private keys are Pulumi secrets.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CaSlot } from "./args";
import { ClusterPlan } from "./plan";
import { EtcdHost } from "./hosts/types";

/**
 * Key usages per certificate role (RFC 5280 extended key usages as the tls provider names them). The server
 * certificate also carries client_auth, as kubeadm's does: etcd's gRPC gateway dials its own client port
 * with it, and without client_auth every such dial is refused ("certificate specifies an incompatible key usage").
 */
export const CERT_USAGES = {
    ca: ["cert_signing", "crl_signing", "digital_signature"],
    server: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
    peer: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
    client: ["digital_signature", "key_encipherment", "client_auth"],
};

/**
 * Client certificates every cluster gets: one for kube-apiserver, one for the checks that run on the members
 * (its key sits on every member), and one for operators (the admin output; no host holds its key).
 */
export const CLIENT_CERTS = {
    kubeApiserver: { commonName: "kube-apiserver-etcd-client", organization: "system:masters" },
    healthcheck: { commonName: "etcd-healthcheck-client", organization: "etcd-admin" },
    operator: { commonName: "etcd-operator-client", organization: "etcd-admin" },
} as const;
export type ClientCertName = keyof typeof CLIENT_CERTS;

/**
 * Common name of every member's peer certificate. The peer port accepts this name only
 * (`--peer-cert-allowed-cn`): the client certificates and the members' server certificates come from the same
 * CA, and without the check any of them could join raft traffic. The member's name is the peer subject's OU.
 */
export const PEER_CERT_CN = "etcd-peer";

export interface KeyPair {
    certPem: pulumi.Output<string>;
    /** Secret. */
    keyPem: pulumi.Output<string>;
}

export interface MemberPki {
    server: KeyPair;
    peer: KeyPair;
}

export interface Pki {
    /** The trusted CA certificates, concatenated: what members and clients trust. */
    caCertPem: pulumi.Output<string>;
    members: MemberPki[];
    clients: Record<ClientCertName, KeyPair>;
}

const IP_ADDRESS = /^[0-9.]+$|:/;

/** SANs of a member certificate: its name, localhost, loopback, private and public IP, and the extras. */
export function memberSans(name: string, privateIp: string, publicIp: string, extraSans: string[]):
    { dnsNames: string[]; ipAddresses: string[] } {
    const all = [name, "localhost", "127.0.0.1", "::1", privateIp, publicIp, ...extraSans];
    const uniq = [...new Set(all)];
    return {
        dnsNames: uniq.filter((s) => !IP_ADDRESS.test(s)),
        ipAddresses: uniq.filter((s) => IP_ADDRESS.test(s)),
    };
}

export interface PkiInput {
    name: string;
    plan: ClusterPlan;
    /** The members' hosts, in member order: their names and addresses go into the SANs. */
    hosts: EtcdHost[];
    parent: pulumi.Resource;
}

export function createPki({ name, plan, hosts, parent }: PkiInput): Pki {
    if (!plan.pki.peerCertificatesOnly) {
        pulumi.log.warn("pki.peerCertificatesOnly is false: the peer port accepts every certificate of the cluster CA, the client "
            + "certificates handed out included. Set it back (remove it) in the next `pulumi up`, once this one has rolled out.");
    }
    const opts = { parent };
    const newKey = (resourceName: string) => new tls.PrivateKey(resourceName, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);

    // Slot "a" keeps the plain resource names, so clusters that never rotated see no change.
    const cas = new Map<CaSlot, { key: tls.PrivateKey; cert: tls.SelfSignedCert }>();
    for (const slot of new Set<CaSlot>([plan.pki.activeCa, ...plan.pki.trustedCas])) {
        const base = slot === "a" ? `${name}-ca` : `${name}-ca-${slot}`;
        const key = newKey(`${base}-key`);
        cas.set(slot, {
            key,
            cert: new tls.SelfSignedCert(base, {
                privateKeyPem: key.privateKeyPem,
                isCaCertificate: true,
                subject: { commonName: `${name}-etcd-ca${slot === "a" ? "" : `-${slot}`}`, organization: "etcd" },
                validityPeriodHours: plan.pki.caValidityHours,
                // The CA is rotated deliberately (a bundle roll), never silently: no early renewal.
                earlyRenewalHours: 0,
                allowedUses: CERT_USAGES.ca,
            }, opts),
        });
    }
    const active = cas.get(plan.pki.activeCa)!;
    const caKey = active.key;
    const ca = active.cert;
    const bundle = pulumi.all(plan.pki.trustedCas.map((slot) => cas.get(slot)!.cert.certPem))
        .apply((pems) => pems.map((p) => p.trimEnd() + "\n").join(""));

    const sign = (resourceName: string, key: tls.PrivateKey, request: Omit<tls.CertRequestArgs, "privateKeyPem">,
        usages: string[]): KeyPair => {
        const csr = new tls.CertRequest(`${resourceName}-csr`, { ...request, privateKeyPem: key.privateKeyPem }, opts);
        const cert = new tls.LocallySignedCert(`${resourceName}-cert`, {
            certRequestPem: csr.certRequestPem,
            caPrivateKeyPem: caKey.privateKeyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: plan.pki.certValidityHours,
            earlyRenewalHours: plan.pki.earlyRenewalHours,
            allowedUses: usages,
        }, opts);
        return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    };

    const members = hosts.map((host) => {
        const sans = pulumi.all([host.privateIp, host.publicIp])
            .apply(([priv, pub]) => memberSans(host.name, priv, pub, plan.pki.extraSans));
        const request = (subject: tls.types.input.CertRequestSubject) => ({ subject, dnsNames: sans.dnsNames, ipAddresses: sans.ipAddresses });
        return {
            server: sign(`${name}-${host.name}-server`, newKey(`${name}-${host.name}-server-key`),
                request({ commonName: host.name, organization: "etcd-server" }), CERT_USAGES.server),
            peer: sign(`${name}-${host.name}-peer`, newKey(`${name}-${host.name}-peer-key`),
                request({ commonName: PEER_CERT_CN, organization: "etcd-peer", organizationalUnit: host.name }), CERT_USAGES.peer),
        };
    });

    const client = (certName: ClientCertName) => {
        const subject = CLIENT_CERTS[certName];
        const resourceName = `${name}-${subject.commonName}`;
        return sign(resourceName, newKey(`${resourceName}-key`), { subject }, CERT_USAGES.client);
    };
    return {
        caCertPem: bundle,
        members,
        clients: { kubeApiserver: client("kubeApiserver"), healthcheck: client("healthcheck"), operator: client("operator") },
    };
}
