// Every version is pinned once in versions.json. package.json asks for ranges that start at those pins (so
// other stacks can bring their own versions), and the lock file installs exactly the pins here.
import * as versions from "../../versions.json";
import * as pkg from "../../package.json";
import * as fs from "fs";
import * as path from "path";

// Read, not imported: the type checker need not infer a type for the whole lock file.
const lock = JSON.parse(fs.readFileSync(path.join(__dirname, "../../package-lock.json"), "utf8"));

const pinned: Record<string, string> = {
    "@pulumi/pulumi": versions.pulumi,
    "@pulumi/command": versions.plugins.command,
    "@pulumi/random": versions.plugins.random,
    "@pulumi/tls": versions.plugins.tls,
    "@pulumi/hcloud": versions.plugins.hcloud,
};

describe("pinned versions", () => {
    it("package.json asks for each Pulumi package from its pinned version up, within the major", () => {
        expect(pkg.dependencies).toEqual(Object.fromEntries(Object.entries(pinned).map(([name, v]) => [name, `^${v}`])));
    });
    it("the lock file installs the plugin and CLI versions the toolchain installs", () => {
        const packages = lock.packages as Record<string, { version?: string }>;
        for (const [name, v] of Object.entries(pinned)) expect([name, packages[`node_modules/${name}`]?.version]).toEqual([name, v]);
    });
    it("the multi-language package pins the providers it downloads plugins for at the tested versions", () => {
        const plugin = JSON.parse(fs.readFileSync(path.join(__dirname, "../../examples/multi-language/etcd-cluster-plugin/package.json"), "utf8"));
        expect(plugin.dependencies).toMatchObject(pinned);
    });
    it("the engine requirement admits the pinned Node", () => {
        expect(pkg.engines.node).toBe(">=22");
        expect(Number(versions.node.split(".")[0])).toBeGreaterThanOrEqual(22);
    });
});
