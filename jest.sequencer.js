// The order the end-to-end files start in, slowest first, so that the two workers end together: a clean clone
// (CI, a new machine) has no timings in jest's cache, and jest's fallback (largest file first) started the
// 10-minute day-2 file last, alone on one worker at the end. Slowest first, from the CI runs (seconds, 2 workers):
// day2 620, replace 530, backup 420, scale 310, security 155-240, cluster 240, faults 200, hcloud 170,
// kube-apiserver 140, adopt 120, locations 130. Files not listed (unit, integration) keep jest's order, first.
// tests/unit/test-order.test.ts checks that every end-to-end file is listed.
const path = require("path");
const Sequencer = require("@jest/test-sequencer").default;

const E2E_SLOWEST_FIRST = [
    "day2", "replace", "backup", "scale", "security", "cluster", "faults", "hcloud", "kube-apiserver", "locations", "adopt",
];

class SlowestFirst extends Sequencer {
    async sort(tests) {
        const ordered = await super.sort(tests);
        const rank = (t) => E2E_SLOWEST_FIRST.indexOf(path.basename(t.path, ".test.ts"));
        // Array.prototype.sort is stable: the unlisted files (rank -1) stay first, in jest's order.
        return [...ordered].sort((a, b) => rank(a) - rank(b));
    }
}

module.exports = SlowestFirst;
module.exports.E2E_SLOWEST_FIRST = E2E_SLOWEST_FIRST;
