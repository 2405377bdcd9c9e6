// Runs bench/bench.ts with the project's TypeScript (transpiled in memory, no ts-node, nothing written).
// `npm run bench` type-checks first (tsc -p bench/tsconfig.json). Options: node bench/run.cjs --help
const fs = require("fs");
const ts = require("typescript");

require.extensions[".ts"] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
    });
    module._compile(outputText, filename);
};

require("./bench.ts").main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => { console.error(err); process.exit(1); },
);
