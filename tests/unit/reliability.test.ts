// The continuous writer and its read-back, against a fake etcdctl: "0 lost" must not come from 0 writes, a
// cap must not end coverage silently, and a member that is merely behind is reported as lagging, not lost.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { Etcdctl } from "../../lab/rig";
import { ContinuousWriter, expectNoLoss } from "../helpers/reliability";

let dir: string;
beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "writer-"));
    process.env.REPORTS_DIR = dir;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const endpoints = ["https://10.0.0.1:2379", "https://10.0.0.2:2379"];

/**
 * A fake etcdctl over a store file: `put` appends (or fails when PUT_FAILS), `get --prefix -w json` prints
 * the store, `endpoint status -w json` reports member 1 as leader at raft index 10 and member 2 applied at
 * APPLIED_2.
 */
function fakeEtcdctl(opts: { putFails?: boolean; applied2?: number; emptyOn2?: boolean; moving?: boolean }) {
    const bin = path.join(dir, "etcdctl");
    fs.writeFileSync(bin, `#!/usr/bin/env bash
store='${dir}/store'
args=" $* "
case "$args" in
  *" put "*)
    ${opts.putFails ? 'echo "context deadline exceeded" >&2; exit 1' : ""}
    set -- "\${@: -2}"; printf '%s %s\\n' "$1" "$2" >> "$store"; echo OK ;;
  *" get "*)
    ${opts.emptyOn2 ? 'if [[ $args == *10.0.0.2* ]]; then echo "{}"; exit 0; fi' : ""}
    kvs=""
    while read -r k v; do kvs+="\${kvs:+,}{\\"key\\":\\"$(printf %s "$k" | base64 -w0)\\",\\"value\\":\\"$(printf %s "$v" | base64 -w0)\\"}"; done < <(cat "$store" 2>/dev/null)
    echo "{\\"kvs\\":[$kvs]}" ;;
  *" endpoint status "*)
    [[ $args =~ 10\\.0\\.0\\.([0-9]) ]]; n=\${BASH_REMATCH[1]}
    applied=10; if [ "$n" = 2 ]; then applied=${opts.applied2 ?? 10}; fi
    raft=10
    ${opts.moving ? `# Traffic goes on (a recorder still writing): each read sees the index further on, and member 2, read
    # after the leader, always a little behind the leader's index of that same round.
    calls=$(( $(cat '${dir}/calls' 2>/dev/null || echo 0) + 1 )); echo "$calls" > '${dir}/calls'
    raft=$((10 + calls)); applied=$raft; if [ "$n" = 2 ]; then applied=$((raft - 2)); fi` : ""}
    # 64-bit ids that JSON numbers cannot hold exactly: they must be compared as text.
    echo "[{\\"Endpoint\\":\\"x\\",\\"Status\\":{\\"header\\":{\\"member_id\\":1844674407370955160$n},\\"leader\\":18446744073709551601,\\"raftIndex\\":$raft,\\"raftAppliedIndex\\":$applied}}]" ;;
esac
`, { mode: 0o755 });
    return { bin, admin: new Etcdctl(bin, { ca: "ca", cert: "c", key: "k" }) };
}

const creds = { ca: "ca", cert: "c", key: "k" };
/**
 * A writer over the fake etcdctl, returned once the fake holds its first write: on a loaded machine the
 * writer's process may take longer to start than the tail given to finish().
 */
async function writer(bin: string, limits = { maxWrites: 20_000, maxSeconds: 900 }): Promise<ContinuousWriter> {
    const w = new ContinuousWriter("unit", "/u", bin, endpoints, creds, dir, limits);
    const store = path.join(dir, "store");
    for (const deadline = Date.now() + 60_000; !(fs.existsSync(store) && fs.statSync(store).size > 0);) {
        if (Date.now() > deadline) throw new Error("the writer wrote nothing to the fake etcdctl in 60 s");
        await new Promise((r) => setTimeout(r, 50));
    }
    return w;
}

describe("the continuous writer", () => {
    it("counts acknowledged writes and finds them on every member", async () => {
        const { bin, admin } = fakeEtcdctl({});
        const report = await (await writer(bin)).finish(admin, endpoints, 2, 500);
        expectNoLoss(report);
        expect(report.failed).toBe(0);
        expect(report.attempted).toBe(report.acknowledged);
    });

    it("finds a write missing on a caught-up member as lost", async () => {
        const { bin, admin } = fakeEtcdctl({ emptyOn2: true });
        const report = await (await writer(bin)).finish(admin, endpoints, 2, 500);
        expect(report.acknowledged).toBeGreaterThan(0);
        expect(report.lost).toBe(report.acknowledged);
        expect(report.lagging).toEqual([]);
    });

    it("stopped before an operation, is checked after it: a write gone since the first check is lost", async () => {
        const { bin, admin } = fakeEtcdctl({});
        const w = await writer(bin);
        await w.stop(500);
        expectNoLoss(await w.check(admin, endpoints, 2, 30_000, "before"));
        const store = fs.readFileSync(path.join(dir, "store"), "utf8").split("\n");
        fs.writeFileSync(path.join(dir, "store"), store.slice(1).join("\n")); // the first acknowledged write is gone
        const after = await w.check(admin, endpoints, 2, 30_000, "after");
        expect(after.operation).toBe("after");
        expect(after.lost).toBe(1);
        const unstopped = await writer(bin);
        await expect(unstopped.check(admin, endpoints, 2)).rejects.toThrow("check() before stop()");
        await unstopped.stop(0);
    });

    it("fails when no write was acknowledged: 0 lost out of 0 proves nothing", async () => {
        const { bin, admin } = fakeEtcdctl({ putFails: true });
        await expect(new ContinuousWriter("unit", "/u", bin, endpoints, creds, dir).finish(admin, endpoints, 2, 500)).rejects.toThrow(/unit: none of \d+ writes was acknowledged/);
    });

    it("fails when a cap ended the writing before the operation did", async () => {
        const { bin, admin } = fakeEtcdctl({});
        await expect((await writer(bin, { maxWrites: 3, maxSeconds: 900 })).finish(admin, endpoints, 2, 1000))
            .rejects.toThrow("the writer stopped at its cap (max-writes) before the operation ended");
    });

    it("does not chase a leader whose index moves on after the writer stopped (a recorder still writing)", async () => {
        const { bin, admin } = fakeEtcdctl({ moving: true });
        const report = await (await writer(bin)).finish(admin, endpoints, 2, 300, 3000);
        expect(report.lagging).toEqual([]);
        expectNoLoss(report);
    });

    it("waits for a member behind the leader's commit index, and reports it as lagging, not lost", async () => {
        const { bin, admin } = fakeEtcdctl({ applied2: 7 });
        await expect((await writer(bin)).finish(admin, endpoints, 2, 300, 1000))
            .rejects.toThrow("https://10.0.0.2:2379 had not applied the leader's commit index after 1 s (lagging, not counted as lost)");
    });
});
