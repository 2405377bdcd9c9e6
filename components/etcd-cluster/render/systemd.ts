// systemd unit files as typed values, and the one serializer for all of them (etcd.service and the
// maintenance units). Values are checked here, once: nothing that systemd would reinterpret gets through.

/** A command line: its words are joined with line continuations, one word per line. */
export interface CommandLine {
    readonly command: readonly string[];
}
export type UnitValue = string | number | boolean | CommandLine;
/** `[key, value]`, or `[key, value, comment]` for a comment line above it. Repeat a key to repeat a setting. */
export type UnitEntry = readonly [key: string, value: UnitValue, comment?: string];
export interface UnitSection {
    readonly name: "Unit" | "Service" | "Timer" | "Install";
    readonly entries: readonly UnitEntry[];
}
export type UnitFile = readonly UnitSection[];

const UNIT_HEADER = "# Managed by the EtcdCluster Pulumi component; local edits are overwritten on the next `pulumi up`.\n";
/** Line breaks and continuations, specifiers (%), variable expansion ($) and quotes. */
const REINTERPRETED = /[\n\\$%"']/;
/** The same, and whitespace, which would split a command word. */
const REINTERPRETED_IN_WORD = /[\s\\$%"']/;

function value(key: string, v: UnitValue): string {
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") return String(v);
    if (typeof v === "string") {
        if (REINTERPRETED.test(v)) throw new Error(`${key}=${JSON.stringify(v)} contains a character systemd would reinterpret`);
        return v;
    }
    for (const word of v.command) {
        if (REINTERPRETED_IN_WORD.test(word) || word === "") {
            throw new Error(`${key} word ${JSON.stringify(word)} contains a character systemd would reinterpret`);
        }
    }
    return v.command.join(" \\\n  ");
}

export function serializeUnit(unit: UnitFile): string {
    return UNIT_HEADER + unit.map((section) => `[${section.name}]\n` + section.entries.map(([key, v, comment]) =>
        `${comment ? `# ${comment}\n` : ""}${key}=${value(key, v)}\n`).join("")).join("\n");
}
