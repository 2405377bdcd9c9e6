// jest.sequencer.js starts the end-to-end files slowest first: every one of them must be in its list.
import * as fs from "fs";
import * as path from "path";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { E2E_SLOWEST_FIRST } = require("../../jest.sequencer.js") as { E2E_SLOWEST_FIRST: string[] };

describe("the end-to-end order", () => {
    it("lists every end-to-end file, once, and nothing else", () => {
        const files = fs.readdirSync(path.resolve(__dirname, "../e2e")).filter((f) => f.endsWith(".test.ts")).map((f) => f.replace(/\.test\.ts$/, ""));
        expect([...E2E_SLOWEST_FIRST].sort()).toEqual(files.sort());
    });
});
