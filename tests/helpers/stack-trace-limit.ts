// Jest setup for the unit suite: how many frames an Error records (JEST_STACK_TRACE_LIMIT, default 10).
// @pulumi/pulumi formats a stack trace for every promise it makes (`new Error().stack` in debuggablePromise),
// and under jest each frame goes through source-map lookup: with jest's 100 frames that was most of the time
// of a component test under mocks (component, server-plan and reachability tests: 42 s at 100, 31 s at 10,
// 16 s at 0). Ten frames still show where an assertion failed; Stryker (jest.stryker.config.js) keeps none.
Error.stackTraceLimit = Number(process.env.JEST_STACK_TRACE_LIMIT ?? 10);
