// The cluster check runs again when what the members run or the certificates they hold change: its trigger is
// a digest of every member's configure script, the CA bundle and each member's server and peer certificate.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

import { inputsOfOne, recordingMocks, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster } from "../../components/etcd-cluster";

const one = (type: string, name: string) => inputsOfOne(created, type, name);
/** The certificate the mocks give a tls resource: its name inside PEM armour. */
const pem = (name: string) => `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`;

describe("the cluster check's trigger", () => {
    // The cluster is built inside the test, not in beforeAll: Stryker's per-test coverage gives code that runs
    // in a hook to no test, and would never run this one against the mutants of check.ts.
    it("is the sha256 of the members' configure scripts, the CA bundle and their server and peer certificates, in order", async () => {
        const cluster = new EtcdCluster("t", {
            existingHosts: [{ privateIp: "10.9.0.11" }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }],
            sshPrivateKey: pulumi.secret("key"),
        });
        await new Promise((resolve) => cluster.clusterCheck.apply(resolve));
        await settled();
        const members = ["t-1", "t-2", "t-3"];
        for (const m of members) expect(created.map((r) => r.name)).toContain(`t-${m}-server-cert`);
        const parts = [
            ...members.map((m) => one("command:remote:Command", `t-${m}-configure`).update),
            pem("t-ca"),
            ...members.flatMap((m) => [pem(`t-${m}-server-cert`), pem(`t-${m}-peer-cert`)]),
        ];
        expect(parts.every((p) => typeof p === "string" && p.length > 0)).toBe(true);
        const digest = createHash("sha256").update(parts.join("\0")).digest("hex");
        expect(one("command:remote:Command", "t-cluster-check").triggers).toEqual([digest]);
    });
});
