// The program (index.ts) exports every output of the component under the component's own name, so that a
// StackReference and a direct user of the component read the same names.
import * as fs from "fs";
import * as path from "path";

const read = (f: string) => fs.readFileSync(path.join(__dirname, "../..", f), "utf8");

describe("the program's stack outputs", () => {
    const componentOutputs = [...read("components/etcd-cluster/index.ts").matchAll(/public readonly (\w+): pulumi\.Output</g)].map((m) => m[1]);
    const exports = [...read("index.ts").matchAll(/^export const (\w+) = cluster\.(\w+);$/gm)].map((m) => ({ name: m[1], from: m[2] }));

    it("are the component's outputs, each under its own name", () => {
        expect(componentOutputs.length).toBeGreaterThan(10);
        expect(exports.filter((e) => e.name !== e.from)).toEqual([]);
        expect(exports.map((e) => e.name).sort()).toEqual([...componentOutputs].sort());
    });
});
