// The PKI for real: the real engine with the real tls provider creates it in a local stack; openssl checks
// chain, SANs, key usages and validity; a second `up` changes nothing; `destroy` empties the stack.
import * as fs from "fs";
import * as path from "path";
import { mustRun } from "../../lab/run";
import { TestStack } from "../../lab/pulumi";

const addresses = [
    { privateIp: "10.1.1.11", publicIp: "203.0.113.11" },
    { privateIp: "10.1.1.12", publicIp: "203.0.113.12" },
    { privateIp: "10.1.1.13", publicIp: "203.0.113.13" },
];

let stack: TestStack;
let files: string;
const openssl = (...args: string[]) => mustRun("openssl", args).stdout;
const write = (name: string, text: string) => { const p = path.join(files, name); fs.writeFileSync(p, text, { mode: 0o600 }); return p; };
const text = (pem: string) => openssl("x509", "-noout", "-text", "-in", write("tmp.pem", pem));

beforeAll(() => {
    stack = new TestStack({
        projectDir: "tests/integration/pki-program",
        stack: "pki",
        config: { addresses, pki: { certValidityHours: 2000, earlyRenewalHours: 100 } },
    });
    files = fs.mkdtempSync(path.join(stack.dir, "pem-"));
}, 60_000);
afterAll(() => stack?.dispose());

describe("PKI with the real engine and tls provider", () => {
    let out: Record<string, any>;

    it("pulumi up creates it", () => {
        stack.up("pki: pulumi up");
        out = stack.outputs(true);
        expect(out.members).toHaveLength(3);
    }, 300_000);

    it("every certificate chains to the CA", () => {
        const ca = write("ca.pem", out.ca);
        for (const m of out.members) {
            for (const cert of [m.serverCert, m.peerCert]) {
                expect(openssl("verify", "-CAfile", ca, write("leaf.pem", cert)).trim()).toMatch(/: OK$/);
            }
        }
        expect(openssl("verify", "-CAfile", ca, write("client.pem", out.kubeApiserverCert)).trim()).toMatch(/: OK$/);
        expect(text(out.ca)).toContain("CA:TRUE");
    });

    it("member certificates carry name, localhost, loopback and both IPs", () => {
        out.members.forEach((m: any, i: number) => {
            for (const cert of [m.serverCert, m.peerCert]) {
                const t = text(cert);
                const san = t.split("X509v3 Subject Alternative Name:")[1].split("\n")[1].trim();
                expect(san.split(", ").sort()).toEqual([
                    `DNS:${m.name}`, "DNS:localhost", "IP Address:0:0:0:0:0:0:0:1", "IP Address:127.0.0.1",
                    `IP Address:${addresses[i].privateIp}`, `IP Address:${addresses[i].publicIp}`,
                ].sort());
                expect(t).toContain(`Subject: O = etcd-`);
            }
            // The server certificate names the member; the peer certificate carries the one CN the peer port
            // accepts (--peer-cert-allowed-cn) and the member's name beside it.
            expect(text(m.serverCert)).toContain(`CN = ${m.name}`);
            expect(text(m.peerCert)).toContain(`OU = ${m.name}, CN = etcd-peer`);
        });
    });

    it("key usages fit each role", () => {
        const eku = (pem: string) => text(pem).split("X509v3 Extended Key Usage:")[1].split("\n")[1].trim();
        // Server certificates are also clients: etcd's gRPC gateway dials the member's own client port with them.
        expect(eku(out.members[0].serverCert).split(", ").sort()).toEqual(["TLS Web Client Authentication", "TLS Web Server Authentication"]);
        expect(eku(out.members[0].peerCert).split(", ").sort()).toEqual(["TLS Web Client Authentication", "TLS Web Server Authentication"]);
        expect(eku(out.kubeApiserverCert)).toBe("TLS Web Client Authentication");
        expect(eku(out.healthcheckCert)).toBe("TLS Web Client Authentication");
        expect(text(out.kubeApiserverCert)).toContain("CN = kube-apiserver-etcd-client");
    });

    it("validity follows the configuration (2000 h leaves, 10 y CA)", () => {
        const days = (pem: string) => {
            const t = text(pem);
            const start = Date.parse(/Not Before: (.*)/.exec(t)![1]);
            const end = Date.parse(/Not After : (.*)/.exec(t)![1]);
            return (end - start) / 3600_000;
        };
        expect(days(out.members[1].serverCert)).toBeCloseTo(2000, 0);
        expect(days(out.ca)).toBeCloseTo(87600, 0);
    });

    it("private keys are secrets in the state and the keys match their certificates", () => {
        const state = stack.exportState();
        expect(state).not.toContain("PRIVATE KEY");
        const certPub = openssl("x509", "-noout", "-pubkey", "-in", write("c.pem", out.members[0].serverCert));
        const keyPub = openssl("pkey", "-pubout", "-in", write("k.pem", out.members[0].serverKey));
        expect(keyPub).toBe(certPub);
    });

    it("a second up changes nothing", () => {
        const steps = stack.previewSteps();
        expect(steps.filter((s) => s.op !== "same")).toEqual([]);
        stack.up("pki: pulumi up (no-op)", ["--expect-no-changes"]);
    }, 300_000);

    it("destroy empties the stack", () => {
        stack.destroy();
        const resources = JSON.parse(stack.exportState()).deployment.resources ?? [];
        expect(resources).toEqual([]);
    }, 300_000);
});
