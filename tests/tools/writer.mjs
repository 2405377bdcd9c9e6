#!/usr/bin/env node
// A bounded continuous writer for reliability tests: sequential puts through etcdctl against every
// endpoint (as a real client would be configured), each acknowledged write recorded. Stops at --max-writes,
// after --max-seconds, or when --stop-file appears, whichever comes first; then writes its history as JSON,
// with what stopped it (a cap ends coverage early: the caller must say so). Exits 3 when no write at all was
// acknowledged: "nothing lost" out of nothing written proves nothing.
//   node writer.mjs --etcdctl BIN --endpoints URL,URL --cacert F --cert F --key F --prefix /p --out FILE
//                   [--max-writes 20000] [--max-seconds 600] [--stop-file FILE]
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
    options: {
        etcdctl: { type: "string" }, endpoints: { type: "string" }, cacert: { type: "string" }, cert: { type: "string" },
        key: { type: "string" }, prefix: { type: "string" }, out: { type: "string" },
        "max-writes": { type: "string", default: "20000" }, "max-seconds": { type: "string", default: "600" },
        "stop-file": { type: "string" },
    },
});
for (const k of ["etcdctl", "endpoints", "cacert", "cert", "key", "prefix", "out"]) {
    if (!o[k]) { console.error(`writer: --${k} is required`); process.exit(2); }
}
const maxWrites = Number(o["max-writes"]);
const deadline = Date.now() + Number(o["max-seconds"]) * 1000;
let stopRequested = false;
process.on("SIGTERM", () => { stopRequested = true; });

const history = [];
const started = Date.now();
let stoppedBy;
for (let i = 0; ; i++) {
    if (o["stop-file"] && existsSync(o["stop-file"])) { stoppedBy = "stop-file"; break; }
    if (stopRequested) { stoppedBy = "SIGTERM"; break; }
    if (i >= maxWrites) { stoppedBy = "max-writes"; break; }
    if (Date.now() >= deadline) { stoppedBy = "max-seconds"; break; }
    const key = `${o.prefix}/${String(i).padStart(6, "0")}`;
    const t0 = Date.now();
    const r = spawnSync(o.etcdctl, [`--endpoints=${o.endpoints}`, `--cacert=${o.cacert}`, `--cert=${o.cert}`, `--key=${o.key}`,
        "--dial-timeout=1s", "--command-timeout=2s", "put", key, `v${i}`], { encoding: "utf8", timeout: 10_000 });
    history.push({ i, key, ok: r.status === 0 && r.stdout.trim() === "OK", start: t0 - started, end: Date.now() - started });
}
writeFileSync(o.out, JSON.stringify({ startedAt: new Date(started).toISOString(), stoppedBy, history }));
if (!history.some((w) => w.ok)) {
    console.error(`writer: none of ${history.length} writes was acknowledged`);
    process.exit(3);
}
