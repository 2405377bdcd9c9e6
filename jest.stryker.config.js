// The unit project alone, for Stryker (npm run mutate): it must never start the integration or e2e suites.
const { projects, ...shared } = require("./jest.config.js");
const { displayName, ...unit } = projects.find((p) => p.displayName === "unit");
module.exports = { ...shared, ...unit };
