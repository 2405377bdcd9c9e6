// Supported version changes: the TypeScript rule and its bash twin (run for real) agree on every case.
import { spawnSync } from "child_process";
import { versionChangeRefusal } from "../../components/etcd-cluster/upgrade";
import { hostLayout } from "../../components/etcd-cluster/render/layout";
import { preflightScript, versionCheckFunction } from "../../components/etcd-cluster/render/preflight-script";
import { hcloudSpec } from "../helpers/spec";
import { shellcheck } from "../helpers/shellcheck";

const cases: [string, string, boolean, string?][] = [
    ["3.6.14", "3.6.14", true],
    ["3.6.14", "3.6.16", true],
    ["3.6.5", "3.6.9", true],            // within a minor, below the minimum for the next one
    ["3.6.16", "3.6.14", true],          // patch downgrade within a minor
    ["3.6.14", "3.7.1", true],
    ["3.6.11", "3.7.0", true],
    ["3.6.10", "3.7.1", false, "needs 3.6.11 or newer first"],
    ["3.5.32", "3.6.14", true],
    ["3.5.31", "3.6.14", false, "needs 3.5.32 or newer first"],
    ["3.5.40", "3.7.1", false, "skips a minor version"],
    ["3.7.1", "3.6.14", false, "is a downgrade across minor versions"],
    ["3.4.30", "3.5.40", true],          // no minimum known for 3.4 -> 3.5
    ["2.3.8", "3.0.0", false, "changes the major version"],
];

describe("versions that are not x.y.z", () => {
    it("are refused, quoted", () => {
        expect(versionChangeRefusal("3.6", "3.7.1")).toBe('cannot compare etcd versions "3.6" and "3.7.1"');
        expect(versionChangeRefusal("3.6.14", "latest")).toBe('cannot compare etcd versions "3.6.14" and "latest"');
    });
});

function bashAllows(from: string, to: string): { allowed: boolean; reason: string } {
    const r = spawnSync("bash", ["-c", `set -euo pipefail\n${versionCheckFunction()}\nversion_change_allowed "$1" "$2"`, "_", from, to], { encoding: "utf8" });
    return { allowed: r.status === 0, reason: r.stdout.trim() };
}

describe.each(cases)("%s -> %s", (from, to, allowed, reason) => {
    it(`is ${allowed ? "allowed" : "refused"} by the TypeScript rule`, () => {
        const refusal = versionChangeRefusal(from, to);
        expect(refusal === undefined).toBe(allowed);
        if (reason) expect(refusal).toContain(reason);
    });
    it("and identically by the bash rule the preflight runs", () => {
        const bash = bashAllows(from, to);
        expect(bash.allowed).toBe(allowed);
        expect(bash.reason).toBe(versionChangeRefusal(from, to) ?? "");
    });
});

describe("preflight script", () => {
    let script: string; // rendered per test: Stryker gives code run in a describe body to no test
    beforeEach(() => { script = preflightScript({ layout: hostLayout(hcloudSpec()), targetVersion: "3.7.1", clientUrls: ["https://10.1.1.11:2379", "https://10.1.1.12:2379"] }); });
    it("passes shellcheck and is strict", () => {
        expect(script.startsWith("#!/usr/bin/env bash\nset -euo pipefail\n")).toBe(true);
        expect(shellcheck(script)).toBe("");
    });
    it("asks every member for its version and refuses before anything changes", () => {
        expect(script).toContain("readonly ENDPOINTS='https://10.1.1.11:2379,https://10.1.1.12:2379'");
        expect(script).toContain("endpoint status");
        expect(script).toContain("refusing the version change before touching anything");
    });
});
