// `npm run mutate:report [REPORT.json ...]`: the score of the last `npm run mutate` per file and in all, and every
// surviving mutant (file:line, mutator, the code and its replacement), as Markdown. It reads the mutation-testing
// report schema that Stryker writes as its incremental file (reports/stryker-incremental.json by default). Several
// reports (runs over parts of components/, e.g. `--mutate` batches) are read as one: a file measured in more than
// one takes the last report's results.
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./pulumi";

interface Position { line: number; column: number }
interface MutantResult {
    mutatorName: string;
    replacement?: string;
    location: { start: Position; end: Position };
    status: "Killed" | "Survived" | "NoCoverage" | "Timeout" | "CompileError" | "RuntimeError" | "Ignored" | "Pending";
    statusReason?: string;
}
interface Report { files: Record<string, { source: string; mutants: MutantResult[] }> }

/** Counts by the schema's statuses; the score as Stryker computes it (ignored and errors are not valid mutants). */
export function tally(mutants: MutantResult[]): { detected: number; undetected: number; ignored: number; errors: number; score: number } {
    const count = (...s: MutantResult["status"][]) => mutants.filter((m) => s.includes(m.status)).length;
    const detected = count("Killed", "Timeout");
    const undetected = count("Survived", "NoCoverage");
    return {
        detected, undetected, ignored: count("Ignored"), errors: count("CompileError", "RuntimeError"),
        score: detected + undetected === 0 ? NaN : (100 * detected) / (detected + undetected),
    };
}

/** The mutated code: the source between the mutant's start and end (lines 1-based, columns 1-based). */
export function original(source: string, m: MutantResult): string {
    const lines = source.split("\n");
    const { start, end } = m.location;
    const text = start.line === end.line
        ? lines[start.line - 1].slice(start.column - 1, end.column - 1)
        : [lines[start.line - 1].slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1].slice(0, end.column - 1)].join("\n");
    return text;
}

const short = (s: string) => {
    const one = s.replace(/\s+/g, " ").trim();
    return one.length > 90 ? `${one.slice(0, 87)}...` : one;
};

export function markdown(report: Report): string {
    const files = Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b));
    const all = tally(files.flatMap(([, f]) => f.mutants));
    const pct = (x: number) => (Number.isNaN(x) ? "–" : `${x.toFixed(1)} %`);
    const rows = files.map(([name, f]) => {
        const t = tally(f.mutants);
        return `| ${name} | ${pct(t.score)} | ${t.detected} | ${t.undetected} | ${t.ignored} | ${t.errors} |`;
    });
    const survivors = files.flatMap(([name, f]) => f.mutants
        .filter((m) => m.status === "Survived" || m.status === "NoCoverage")
        .sort((a, b) => a.location.start.line - b.location.start.line)
        .map((m) => `- ${name}:${m.location.start.line} ${m.mutatorName}${m.status === "NoCoverage" ? " (no test covers it)" : ""}: ` +
            `\`${short(original(f.source, m)).replace(/`/g, "'")}\` -> \`${short(m.replacement ?? "").replace(/`/g, "'")}\``));
    return [
        `Mutation score ${pct(all.score)}: ${all.detected} detected (killed or timed out), ${all.undetected} undetected ` +
            `(survived or not covered); ${all.ignored} ignored, ${all.errors} that did not compile.`,
        "",
        "| file | score | detected | undetected | ignored | compile errors |",
        "|---|---:|---:|---:|---:|---:|",
        ...rows,
        "",
        `Undetected mutants (${survivors.length}):`,
        "",
        ...survivors,
        "",
    ].join("\n");
}

/** Several reports as one: per source file, the results of the last report that has it. */
export function merge(reports: Report[]): Report {
    return { files: Object.assign({}, ...reports.map((r) => r.files)) };
}

export function main(args: string[]): number {
    const files = (args.length ? args : ["reports/stryker-incremental.json"]).map((a) => path.resolve(REPO_ROOT, a));
    const missing = files.filter((f) => !fs.existsSync(f));
    if (missing.length) {
        console.error(`no mutation report at ${missing.join(", ")}: run npm run mutate first`);
        return 1;
    }
    process.stdout.write(markdown(merge(files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as Report))));
    return 0;
}
