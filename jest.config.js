// Three suites, selected by `--selectProjects`: unit (pure + mocks, seconds), integration (real Pulumi
// engine and providers, local backend), e2e (real engine + real Linux hosts + real etcd).
// ts-jest transpiles each file on its own (tsconfig.jest.json: isolatedModules), without type-checking it again:
// `npm test` type-checks everything once first (`npx tsc -p tsconfig.json --noEmit`).
const base = {
  preset: "ts-jest",
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.jest.json" }] },
  // Stryker's sandboxes (npm run mutate) are copies of the tree: never tests or modules of this run.
  modulePathIgnorePatterns: ["<rootDir>/.stryker-tmp/"],
};
module.exports = {
  // A cluster under mocks takes seconds to build on a busy 2-core machine: jest's default 5 s is too tight.
  // (Integration and e2e tests give their own, longer timeouts.)
  testTimeout: 60_000,
  projects: [
    {
      ...base,
      displayName: "unit",
      testMatch: ["<rootDir>/tests/unit/**/*.test.ts"],
      setupFiles: ["<rootDir>/tests/helpers/stack-trace-limit.ts"],
    },
    { ...base, displayName: "integration", testMatch: ["<rootDir>/tests/integration/**/*.test.ts"] },
    { ...base, displayName: "e2e", testMatch: ["<rootDir>/tests/e2e/**/*.test.ts"] },
  ],
};
