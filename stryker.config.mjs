// Mutation testing of the component with the unit suite: `npm run mutate` (slow: every mutant is
// type-checked and runs the unit tests that cover it; not part of `npm test`). On this 2-core machine run
// it on one file at a time: `npm run mutate -- --mutate components/etcd-cluster/net.ts`.
export default {
    packageManager: "npm",
    testRunner: "jest",
    // The unit project only (jest.stryker.config.js): integration and e2e tests must never run under Stryker.
    jest: { projectType: "custom", configFile: "jest.stryker.config.js", enableFindRelatedTests: false },
    checkers: ["typescript"],
    tsconfigFile: "tsconfig.json",
    coverageAnalysis: "perTest",
    mutate: ["components/**/*.ts"],
    concurrency: 1,
    reporters: ["clear-text", "progress", "html"],
    htmlReporter: { fileName: "reports/mutation/index.html" },
    tempDirName: ".stryker-tmp",
};
