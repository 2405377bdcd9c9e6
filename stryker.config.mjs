// Mutation testing of the component with the unit suite: `npm run mutate`, then `npm run mutate:report` for the
// score per file and the undetected mutants (not part of `npm test`). Every mutant is type-checked and runs
// the unit tests that cover it. All of components/ is 2471 mutants, about 5 s each on 2 cores (see `jest`
// below), so plan on hours, or run batches that each finish (a stopped run writes no report):
// `npm run mutate -- --mutate FILE,FILE --incrementalFile reports/stryker-NAME.json`, then
// `npm run mutate:report reports/stryker-*.json` reads them as one.
//
// Static mutants are left out (ignoreStatic): they sit in module-level constants, the script bodies of
// render/*.ts, which run when a module loads, so no test can be attributed to them and each would run the
// whole unit suite (80 s here; about 8 hours for the 355 of them). The scripts' text is judged where it runs:
// the unit tests that execute the rendered scripts, shellcheck, and the end-to-end tests. To test them too:
// `STRYKER_STATIC=1 npm run mutate -- --mutate components/etcd-cluster/render/alarm-script.ts`.
export default {
    packageManager: "npm",
    testRunner: "jest",
    // The unit project only (jest.stryker.config.js): integration and e2e tests must never run under Stryker.
    // Each mutant runs in a fresh jest run (`runCLI`) that loads the test files related to the mutated file
    // (--findRelatedTests) and runs the tests that cover the mutant (perTest, by name), with no bail: about 5 s
    // per mutant here, mostly loading test files.
    jest: { projectType: "custom", configFile: "jest.stryker.config.js", enableFindRelatedTests: true },
    checkers: ["typescript"],
    tsconfigFile: "tsconfig.json",
    coverageAnalysis: "perTest",
    ignoreStatic: process.env.STRYKER_STATIC !== "1",
    mutate: ["components/**/*.ts"],
    // Stryker gives a third to the type checkers: one test runner and two checkers kept 2 cores busy.
    concurrency: 3,
    // reports/stryker-incremental.json: a later run retests only what changed, and npm run mutate:report reads it.
    incremental: true,
    reporters: ["clear-text", "progress", "html"],
    htmlReporter: { fileName: "reports/mutation/index.html" },
    tempDirName: ".stryker-tmp",
};
