// The unit project alone, for Stryker (npm run mutate): it must never start the integration or e2e suites.
const { projects, ...shared } = require("./jest.config.js");
const { displayName, ...unit } = projects.find((p) => p.displayName === "unit");
// No stack frames at all: nobody reads a mutant's failure, and Pulumi's per-promise stack traces are the
// largest cost of the component's tests (tests/helpers/stack-trace-limit.ts).
process.env.JEST_STACK_TRACE_LIMIT ??= "0";
module.exports = { ...shared, ...unit };
