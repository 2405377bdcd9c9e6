// How the end-to-end tests read one run of a oneshot unit from the journal (lab/rig.ts, startUnit).
import { lastRunLines } from "../../lab/rig";

const line = (message: string, run?: string) => ({ MESSAGE: message, ...(run ? { _SYSTEMD_INVOCATION_ID: run } : {}) });
const systemd = (message: string, run: string) => ({ MESSAGE: message, INVOCATION_ID: run });

describe("the last run of a unit in the journal", () => {
    it("leaves out the end of a run that had begun before, and keeps a last line journald could not attribute", () => {
        // A timer's run was under way when the test took its cursor; then the test's own run, whose last
        // line's process had exited before journald read it (no invocation id).
        const entries = [
            line("FAILED: alarm active in the cluster", "timer"), systemd("etcd-alarm-check.service: Failed with result 'exit-code'.", "timer"),
            line("first line of ours", "ours"), line("ok: no alarm"), systemd("etcd-alarm-check.service: Deactivated successfully.", "ours"),
            systemd("Finished etcd-alarm-check.service.", "ours"),
        ];
        expect(lastRunLines(entries)).toBe("first line of ours\nok: no alarm\netcd-alarm-check.service: Deactivated successfully.\nFinished etcd-alarm-check.service.\n");
    });

    it("reads a message journald stored as bytes, and keeps everything when no entry has an id", () => {
        const bytes = [...Buffer.from("ok: caf\u00e9")];
        expect(lastRunLines([{ MESSAGE: bytes }, { MESSAGE: "second" }])).toBe("ok: caf\u00e9\nsecond\n");
    });
});
