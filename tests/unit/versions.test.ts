// Every version is pinned once in versions.json; package.json must agree with it.
import * as versions from "../../versions.json";
import * as pkg from "../../package.json";

describe("pinned versions", () => {
    it("npm packages match the plugin and CLI versions the toolchain installs", () => {
        expect(pkg.dependencies).toMatchObject({
            "@pulumi/pulumi": versions.pulumi,
            "@pulumi/command": versions.plugins.command,
            "@pulumi/random": versions.plugins.random,
            "@pulumi/tls": versions.plugins.tls,
            "@pulumi/hcloud": versions.plugins.hcloud,
        });
    });
    it("the engine requirement admits the pinned Node", () => {
        expect(pkg.engines.node).toBe(">=22");
        expect(Number(versions.node.split(".")[0])).toBeGreaterThanOrEqual(22);
    });
});
