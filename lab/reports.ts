// The figures the end-to-end tests record, one record per operation or fault, appended to reports/*.json on
// every run, and the README's tables of the last run generated from them (`npm run readme:figures`).
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./pulumi";

/** One operation under the continuous writer (tests/helpers/reliability.ts). */
export interface ReliabilityRecord {
    operation: string;
    members: number;
    attempted: number;
    acknowledged: number;
    failed: number;
    /** Acknowledged writes missing (or wrong) on at least one member that had caught up. Must be 0. */
    lost: number;
    /** Members that had not applied the leader's commit index when read (their missing writes are not in lost). */
    lagging: string[];
    /** What stopped the writer: "stop-file" (finish()), or a cap ("max-writes", "max-seconds") that ended coverage early. */
    stoppedBy: string;
    /** Longest time without an acknowledged write while the writer ran, in seconds. */
    longestOutageSeconds: number;
    durationSeconds: number;
}

/** One operation or fault under the linearizability recorder (tests/helpers/lincheck.ts). */
export interface LinearizabilityRecord {
    operation: string;
    /** When it was saved (ISO 8601). */
    at: string;
    verdict: "linearizable" | "not linearizable" | "undetermined";
    operations: number;
    successes: number;
    failures: number;
    unknowns: number;
    longestUnavailableSeconds: number;
    latencyMs: { p50: number; p99: number; max: number };
    durationSeconds: number;
    /** porcupine's HTML, written on a violation. */
    visualization?: string;
}

interface Records { reliability: ReliabilityRecord; linearizability: LinearizabilityRecord }
export type ReportKind = keyof Records;

/** The repository's reports/, or REPORTS_DIR (unit tests keep theirs apart). */
export function reportsDir(): string {
    return process.env.REPORTS_DIR ?? path.join(REPO_ROOT, "reports");
}

export function readReports<K extends ReportKind>(kind: K, dir = reportsDir()): Records[K][] {
    const file = path.join(dir, `${kind}.json`);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : [];
}

/**
 * Appends one record to reports/<kind>.json. The file is replaced by a rename, so a test file running beside
 * (jest runs two) never reads half of it.
 */
export function appendReport<K extends ReportKind>(kind: K, record: Records[K], dir = reportsDir()): void {
    fs.mkdirSync(dir, { recursive: true });
    const all = readReports(kind, dir);
    all.push(record);
    const file = path.join(dir, `${kind}.json`);
    fs.writeFileSync(`${file}.${process.pid}`, JSON.stringify(all, null, 2));
    fs.renameSync(`${file}.${process.pid}`, file);
}

/** The newest record of each operation, in the order the operations first appear. */
export function latestByOperation<T extends { operation: string }>(records: T[]): T[] {
    const latest = new Map<string, T>();
    for (const r of records) latest.set(r.operation, r);
    return [...latest.values()];
}

const seconds = (s: number) => `${s.toFixed(2)} s`;
const cell = (text: string) => text.replace(/\|/g, "\\|");

export function linearizabilityTable(records: LinearizabilityRecord[]): string {
    return [
        "| operation or fault (under the recorder) | operations | failed / unknown | verdict | longest unavailable | p50 / p99 |",
        "|---|---|---|---|---|---|",
        ...latestByOperation(records).map((r) => `| ${cell(r.operation)} | ${r.operations} | ${r.failures} / ${r.unknowns} | `
            + `${r.verdict === "linearizable" ? r.verdict : `**${r.verdict}**`} | ${seconds(r.longestUnavailableSeconds)} | `
            + `${r.latencyMs.p50.toFixed(1)} / ${r.latencyMs.p99.toFixed(1)} ms |`),
    ].join("\n");
}

export function reliabilityTable(records: ReliabilityRecord[]): string {
    return [
        "| operation (under the continuous writer) | members | acknowledged / attempted | lost | lagging | longest write outage | over |",
        "|---|---|---|---|---|---|---|",
        ...latestByOperation(records).map((r) => `| ${cell(r.operation)} | ${r.members} | ${r.acknowledged} / ${r.attempted} | `
            + `${r.lost === 0 ? "0" : `**${r.lost}**`} | ${r.lagging.length ? r.lagging.join(", ") : "none"} | `
            + `${seconds(r.longestOutageSeconds)} | ${r.durationSeconds.toFixed(1)} s${r.stoppedBy === "stop-file" ? "" : ` (cut by ${r.stoppedBy})`} |`),
    ].join("\n");
}

/**
 * The README with the text between `<!-- figures:KIND -->` and `<!-- /figures:KIND -->` replaced by KIND's
 * table. Throws when a marker is missing or there are no records of that kind: never a table of nothing.
 */
export function withFigures(readme: string, tables: Record<ReportKind, string | undefined>): string {
    let text = readme;
    for (const [kind, table] of Object.entries(tables)) {
        const begin = `<!-- figures:${kind} -->`;
        const end = `<!-- /figures:${kind} -->`;
        const from = text.indexOf(begin);
        const to = text.indexOf(end);
        if (from < 0 || to < from) throw new Error(`the README has no ${begin} ... ${end} section`);
        if (table === undefined) throw new Error(`reports/${kind}.json has no records: run the end-to-end tests first (npm run test:e2e)`);
        text = `${text.slice(0, from + begin.length)}\n${table}\n${text.slice(to)}`;
    }
    return text;
}

/** `npm run readme:figures [-- README]`: rewrites the README's figures (default: the repository's README.md). */
export function main(args: string[]): number {
    const readmePath = path.resolve(args[0] ?? path.join(REPO_ROOT, "README.md"));
    const table = <K extends ReportKind>(kind: K, render: (r: Records[K][]) => string) => {
        const records = readReports(kind);
        return records.length > 0 ? render(records) : undefined;
    };
    fs.writeFileSync(readmePath, withFigures(fs.readFileSync(readmePath, "utf8"), {
        linearizability: table("linearizability", linearizabilityTable),
        reliability: table("reliability", reliabilityTable),
    }));
    process.stdout.write(`${readmePath}: figures of the last run from ${reportsDir()}\n`);
    return 0;
}
