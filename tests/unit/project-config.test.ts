// Pulumi.yaml declares the program's settings that have a default (Pulumi checks their types before the program
// runs); their defaults must be the component's, and the program must read each one.
import * as fs from "fs";
import * as path from "path";
import { load } from "js-yaml";
import { defaults } from "../../components/etcd-cluster/defaults";

const ROOT = path.resolve(__dirname, "../..");
const project = load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { type: string; description: string; default: unknown }>;
};
const program = fs.readFileSync(path.join(ROOT, "index.ts"), "utf8");

describe("Pulumi.yaml's configuration", () => {
    it("declares each setting with a type, a description and the component's default", () => {
        expect(project.config).toEqual({
            clusterName: expect.objectContaining({ type: "string", default: "etcd" }),
            dataDir: expect.objectContaining({ type: "string", default: defaults.dataDir }),
            snapshotDir: expect.objectContaining({ type: "string", default: defaults.snapshotDir }),
            healthTimeoutSeconds: expect.objectContaining({ type: "integer", default: defaults.healthTimeoutSeconds }),
            metricsOnPrivateNetwork: expect.objectContaining({ type: "boolean", default: defaults.metricsOnPrivateNetwork }),
        });
        for (const [key, declared] of Object.entries(project.config)) expect({ key, description: declared.description.length > 20 }).toEqual({ key, description: true });
    });

    it("is what the program reads, each declared key with a require (the default always applies)", () => {
        const read = (method: string, key: string) => program.includes(`config.${method}("${key}")`);
        const method: Record<string, string> = { string: "require", integer: "requireNumber", boolean: "requireBoolean" };
        for (const [key, declared] of Object.entries(project.config)) {
            expect({ key, read: read(method[declared.type], key) }).toEqual({ key, read: true });
        }
    });
});
