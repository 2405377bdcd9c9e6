// node lab/run-ts.cjs FILE.ts [ARGS...]: runs FILE's exported `main(args)` with the project's TypeScript,
// transpiled in memory (no ts-node, nothing written), and exits with the number it resolves to. Type-check
// first where it matters (`npm run bench` runs tsc -p bench/tsconfig.json).
const fs = require("fs");
const path = require("path");
const ts = require("typescript");

require.extensions[".ts"] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
    });
    module._compile(outputText, filename);
};

const [file, ...args] = process.argv.slice(2);
if (!file) {
    console.error("usage: node lab/run-ts.cjs FILE.ts [ARGS...]");
    process.exit(2);
}
new Promise((resolve) => resolve(require(path.resolve(file)).main(args))).then(
    (code) => process.exit(code ?? 0),
    (err) => { console.error(err instanceof Error ? err.message : err); process.exit(1); },
);
