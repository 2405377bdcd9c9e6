// Security renderers: the SSH host key user data of Hetzner servers, the on-host certificate expiry check,
// and the etcd unit's sandbox.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CERTIFICATE_ENDS, CERTIFICATE_EXPIRY_METRICS, EXPIRING_CERTIFICATES } from "../../components/etcd-cluster/render/cert-expiry";
import { WRITE_TEXTFILE } from "../../components/etcd-cluster/render/textfile-metrics";
import { promtool } from "../helpers/promtool";
import { etcdUnit } from "../../components/etcd-cluster/render/flags";
import { hostKeyUserData } from "../../components/etcd-cluster/render/host-key-user-data";
import { hostLayout } from "../../components/etcd-cluster/render/layout";
import { serializeUnit } from "../../components/etcd-cluster/render/systemd";
import { hcloudSpec } from "../helpers/spec";
import { shellcheck } from "../helpers/shellcheck";

describe("host key user data", () => {
    const privateKeyOpenssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n";
    let script: string; // rendered per test: Stryker gives code run in a describe body to no test
    beforeEach(() => { script = hostKeyUserData({ privateKeyOpenssh, publicKeyOpenssh: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey\n" }); });
    it("installs the key pair 0600/0644 and restarts sshd, and passes shellcheck", () => {
        expect(script).toMatch(/^#!\/bin\/bash\n/);
        expect(script).toContain(`<<'KEY'\n${privateKeyOpenssh}KEY\n`);
        expect(script).toContain("printf '%s\\n' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey' >\"$key.pub.new\"");
        expect(script).toContain("systemctl restart ssh.service");
        expect(shellcheck(script)).toBe("");
    });
    it("refuses a key that could end the here-document or the quoting", () => {
        expect(() => hostKeyUserData({ privateKeyOpenssh: "-----BEGIN OPENSSH PRIVATE KEY-----\nKEY\n-----END OPENSSH PRIVATE KEY-----", publicKeyOpenssh: "ssh-ed25519 AAAA" })).toThrow();
        expect(() => hostKeyUserData({ privateKeyOpenssh, publicKeyOpenssh: "ssh-ed25519 AAAA'x" })).toThrow();
    });
    it("refuses what is not an OpenSSH private key and an ssh-ed25519 public key, saying which", () => {
        const notPrivate = "hostKeyUserData: the private key is not an OpenSSH private key";
        for (const bad of ["-----BEGIN PRIVATE KEY-----\nMC4CAQA=\n-----END PRIVATE KEY-----\n", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n",
            "b3Bl\n-----END OPENSSH PRIVATE KEY-----\n"]) {
            expect(() => hostKeyUserData({ privateKeyOpenssh: bad, publicKeyOpenssh: "ssh-ed25519 AAAA" })).toThrow(notPrivate);
        }
        for (const bad of ["ssh-rsa AAAAB3Nza", "x ssh-ed25519 AAAA", "ssh-ed25519 AAAA root@host"]) {
            expect(() => hostKeyUserData({ privateKeyOpenssh, publicKeyOpenssh: bad })).toThrow("hostKeyUserData: the public key is not an ssh-ed25519 key");
        }
    });
});

describe("expiring certificates in bash", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cert-expiry-"));
    const cert = (name: string, days: number) => {
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", String(days),
            "-subj", `/CN=${name}`, "-keyout", path.join(dir, `${name}.key`), "-out", path.join(dir, `${name}.pem`)], { stdio: "ignore" });
        return fs.readFileSync(path.join(dir, `${name}.pem`), "utf8");
    };
    beforeAll(() => {
        fs.writeFileSync(path.join(dir, "server.crt"), cert("server", 365));
        fs.writeFileSync(path.join(dir, "ca.crt"), cert("old-ca", 3650) + cert("new-ca", 20)); // the second of a bundle
    });
    const check = (days: number) => spawnSync("bash", ["-c", `set -euo pipefail\n${CERTIFICATE_ENDS}${EXPIRING_CERTIFICATES}\ncertificate_ends "$1" | expiring_certificates "$2"`, "_", dir, String(days)],
        { encoding: "utf8" });

    it("passes while every certificate outlives the window", () => {
        expect(check(10)).toMatchObject({ status: 0, stdout: "" });
    });
    it("names each certificate that expires inside it, also the second of a bundle", () => {
        const r = check(30);
        expect(r.status).toBe(1);
        expect(r.stdout).toMatch(new RegExp(`^${dir}/ca.crt \\(certificate 2, CN = new-ca\\) expires .+ GMT, within 30 days\\n$`));
        expect(check(400).stdout.split("\n").filter(Boolean).map((l) => l.split(" ")[0])).toEqual([`${dir}/ca.crt`, `${dir}/server.crt`]);
    });
    it("passes shellcheck", () => expect(shellcheck(`#!/usr/bin/env bash\n${CERTIFICATE_ENDS}${EXPIRING_CERTIFICATES}${CERTIFICATE_EXPIRY_METRICS}${WRITE_TEXTFILE}`)).toBe(""));

    it("writes every certificate's notAfter as a metric file that promtool accepts, with openssl's dates", () => {
        const metricsDir = fs.mkdtempSync(path.join(os.tmpdir(), "cert-metrics-"));
        const r = spawnSync("bash", ["-c", `set -euo pipefail\nCLUSTER=prod MEMBER=etcd-1 METRICS_DIR="$2"\n${CERTIFICATE_ENDS}${CERTIFICATE_EXPIRY_METRICS}${WRITE_TEXTFILE}`
            + `certificate_ends "$1" | certificate_expiry_metrics | write_textfile etcd-certificates.prom`, "_", dir, metricsDir], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(fs.readdirSync(metricsDir)).toEqual(["etcd-certificates.prom"]); // no temporary file left
        const text = fs.readFileSync(path.join(metricsDir, "etcd-certificates.prom"), "utf8");
        const lint = promtool(["check", "metrics"], text);
        expect({ status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ status: 0, out: "" });
        const notAfter = (pem: string) => Math.round(new Date(execFileSync("openssl", ["x509", "-noout", "-enddate"], { input: pem, encoding: "utf8" })
            .trim().replace("notAfter=", "")).getTime() / 1000);
        const bundle = fs.readFileSync(path.join(dir, "ca.crt"), "utf8").split(/(?<=-----END CERTIFICATE-----\n)/);
        const series = text.split("\n").filter((l) => l && !l.startsWith("#"));
        expect(series).toEqual([
            `etcd_certificate_expiry_timestamp_seconds{etcd_cluster="prod",etcd_member="etcd-1",file="${dir}/ca.crt",certificate="1"} ${notAfter(bundle[0])}`,
            `etcd_certificate_expiry_timestamp_seconds{etcd_cluster="prod",etcd_member="etcd-1",file="${dir}/ca.crt",certificate="2"} ${notAfter(bundle[1])}`,
            `etcd_certificate_expiry_timestamp_seconds{etcd_cluster="prod",etcd_member="etcd-1",file="${dir}/server.crt",certificate="1"} ${notAfter(fs.readFileSync(path.join(dir, "server.crt"), "utf8"))}`,
        ]);
        fs.rmSync(metricsDir, { recursive: true, force: true });
    });
});

describe("the etcd unit's sandbox", () => {
    const layout = hostLayout(hcloudSpec({ dataDir: "/srv/etcd-data", snapshotDir: "/srv/etcd-snapshots" }));
    let unit: string; // rendered per test: Stryker gives code run in a describe body to no test
    beforeEach(() => { unit = serializeUnit(etcdUnit(layout, ["--name=etcd-1"])); });
    it("drops privileges and capabilities, and writes only the data and snapshot directories", () => {
        for (const line of ["NoNewPrivileges=yes", "CapabilityBoundingSet=", "AmbientCapabilities=", "ProtectSystem=strict",
            "ReadWritePaths=/srv/etcd-data", "ReadWritePaths=-/srv/etcd-snapshots", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "SystemCallFilter=~@privileged"]) {
            expect(unit.split("\n")).toContain(line);
        }
        expect(unit).not.toMatch(/ReadWritePaths=-?\/var\/lib\/etcd/);
    });
});
