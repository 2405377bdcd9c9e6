// Renames never uninstall live members, and a moved dataDir never starts a member over: the install's
// ownership check and the uninstall's guard, run as real bash against a scratch directory standing in for
// /etc/etcd and the data directories (systemctl stubbed).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { OWNERSHIP_CHECK, uninstallScript } from "../../components/etcd-cluster/render/install-script";
import { hostLayout } from "../../components/etcd-cluster/render/layout";
import { header } from "../../components/etcd-cluster/render/shell";
import { shellcheck } from "../helpers/shellcheck";

interface Host { dir: string; owner: string; unit: string; data: (name: string) => string }

function host(): Host {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "owner-"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin/systemctl"), "#!/usr/bin/env bash\necho \"systemctl $*\" >> \"$(dirname \"$0\")/../calls\"\n", { mode: 0o755 });
    return { dir, owner: path.join(dir, "etc/owner"), unit: path.join(dir, "etcd.service"), data: (name) => path.join(dir, name) };
}
const withMember = (dataDir: string) => fs.mkdirSync(path.join(dataDir, "member"), { recursive: true });
const env = (h: Host) => ({ ...process.env, PATH: `${h.dir}/bin:${process.env.PATH}` });

function check(h: Host, owner: string, dataDir: string) {
    const script = header("ownership", { OWNER: owner, OWNER_FILE: h.owner, UNIT_PATH: h.unit, DATA_DIR: dataDir }) + OWNERSHIP_CHECK;
    return { script, r: spawnSync("bash", ["-c", script], { encoding: "utf8", env: env(h) }) };
}

describe("the install's ownership check", () => {
    it("marks a new host as the member's, and passes shellcheck", () => {
        const h = host();
        const { script, r } = check(h, "etcd/etcd-1", h.data("data"));
        expect(r.status).toBe(0);
        expect(fs.readFileSync(h.owner, "utf8")).toBe(`etcd/etcd-1 ${h.data("data")}\n`);
        expect(shellcheck(script)).toBe("");
        expect(check(h, "etcd/etcd-1", h.data("data")).r.status).toBe(0); // idempotent
    });

    it("refuses a renamed cluster or member on a host whose member has data: nothing changed", () => {
        const h = host();
        withMember(h.data("data"));
        check(h, "etcd/etcd-1", h.data("data"));
        const { r } = check(h, "prod/prod-1", h.data("data"));
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("refusing to install prod/prod-1 here: this host runs etcd member etcd/etcd-1");
        expect(r.stderr).toContain("Nothing was changed.");
        expect(fs.readFileSync(h.owner, "utf8")).toBe(`etcd/etcd-1 ${h.data("data")}\n`);
    });

    it("refuses a dataDir change while the old one holds data, also on a host from before the marker (the unit says)", () => {
        const h = host();
        withMember(h.data("old"));
        fs.writeFileSync(h.unit, `[Service]\nExecStart=/usr/local/lib/etcd/v3.6.14/etcd --name=etcd-1 --data-dir=${h.data("old")} --listen-client-urls=x\n`);
        const { r } = check(h, "etcd/etcd-1", h.data("new"));
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`refusing dataDir ${h.data("new")} for etcd/etcd-1: its data is in ${h.data("old")}`);
        expect(r.stderr).toContain("a single member would bootstrap a new, empty cluster");
        expect(fs.existsSync(h.owner)).toBe(false);
        // Once the data has been moved, the new directory is accepted.
        fs.renameSync(h.data("old"), h.data("new"));
        expect(check(h, "etcd/etcd-1", h.data("new")).r.status).toBe(0);
    });
});

describe("the uninstall's guard", () => {
    const layout = (dataDir: string) => hostLayout({ dataDir, snapshotDir: "/var/backups/etcd", ports: { client: 2379, peer: 2380, metrics: 2381 }, release: { version: "3.6.14" } });
    const uninstall = (h: Host, owner: string) => {
        const script = uninstallScript({ release: { version: "3.6.14", sha256: "0".repeat(64), url: "http://x" }, layout: layout(h.data("data")), owner })
            .replace(/readonly OWNER_FILE='[^']*'/, `readonly OWNER_FILE='${h.owner}'`)
            .replace(/readonly UNIT_PATH='[^']*'/, `readonly UNIT_PATH='${h.unit}'`)
            .replace(/readonly PKI_DIR='[^']*'/, `readonly PKI_DIR='${h.dir}/pki'`)
            .replace(/readonly DEST='[^']*'/, `readonly DEST='${h.dir}/release'`)
            .replace(/readonly LINKS=\([^)]*\)/, `readonly LINKS=('${h.dir}/link')`);
        return spawnSync("bash", ["-c", script], { encoding: "utf8", env: env(h) });
    };

    it("leaves a host alone that belongs to another member now (a rename, a replacement)", () => {
        const h = host();
        withMember(h.data("data"));
        check(h, "prod/prod-1", h.data("data"));
        const r = uninstall(h, "etcd/etcd-1");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("this host now belongs to etcd member prod/prod-1, not etcd/etcd-1: left alone");
        expect(fs.existsSync(path.join(h.data("data"), "member"))).toBe(true);
        expect(fs.existsSync(path.join(h.dir, "calls"))).toBe(false); // etcd was not stopped
    });

    it("removes its own member: etcd stopped, data kept aside, the mark gone", () => {
        const h = host();
        withMember(h.data("data"));
        check(h, "etcd/etcd-1", h.data("data"));
        const r = uninstall(h, "etcd/etcd-1");
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/etcd stopped and removed; its data is kept in .*data\.removed-\d{8}T\d{6}/);
        expect(fs.readFileSync(path.join(h.dir, "calls"), "utf8")).toContain("systemctl disable --now etcd.service");
        expect(fs.existsSync(h.owner)).toBe(false);
    });
});
