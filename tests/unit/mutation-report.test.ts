import { markdown, merge, original, tally } from "../../lab/mutation-report";

const source = "export function f(a: number) {\n    return a > 1 ? \"big\" : \"small\";\n}\n";
const at = (line: number, start: number, end: number) => ({ start: { line, column: start }, end: { line, column: end } });
const mutant = (status: string, mutatorName: string, replacement: string, location = at(2, 12, 17)) =>
    ({ status, mutatorName, replacement, location }) as never;

describe("the mutation report summary", () => {
    it("scores like Stryker: killed and timed out are detected; ignored and compile errors are not counted", () => {
        const t = tally([mutant("Killed", "a", ""), mutant("Timeout", "a", ""), mutant("Survived", "a", ""), mutant("NoCoverage", "a", ""),
            mutant("Ignored", "a", ""), mutant("CompileError", "a", "")]);
        expect(t).toEqual({ detected: 2, undetected: 2, ignored: 1, errors: 1, score: 50 });
    });

    it("quotes the mutated code from the source, on one line and over several", () => {
        expect(original(source, mutant("Survived", "EqualityOperator", "a >= 1"))).toBe("a > 1");
        expect(original(source, mutant("Survived", "BlockStatement", "{}", { start: { line: 1, column: 30 }, end: { line: 3, column: 2 } })))
            .toBe("{\n    return a > 1 ? \"big\" : \"small\";\n}");
    });

    it("lists every undetected mutant with its place, and the score per file", () => {
        const text = markdown({ files: {
            "components/a.ts": { source, mutants: [mutant("Killed", "ConditionalExpression", "true"), mutant("Survived", "EqualityOperator", "a >= 1")] },
            "components/b.ts": { source, mutants: [mutant("Killed", "StringLiteral", "\"\"")] },
        } });
        expect(text).toContain("Mutation score 66.7 %: 2 detected");
        expect(text).toContain("| components/a.ts | 50.0 % | 1 | 1 | 0 | 0 |");
        expect(text).toContain("| components/b.ts | 100.0 % | 1 | 0 | 0 | 0 |");
        expect(text).toContain("Undetected mutants (1):\n\n- components/a.ts:2 EqualityOperator: `a > 1` -> `a >= 1`");
    });

    it("reads several reports as one, the last report's results for a file measured twice", () => {
        const first = { files: {
            "components/a.ts": { source, mutants: [mutant("Survived", "EqualityOperator", "a >= 1")] },
            "components/b.ts": { source, mutants: [mutant("Killed", "StringLiteral", "\"\"")] },
        } };
        const second = { files: { "components/a.ts": { source, mutants: [mutant("Killed", "EqualityOperator", "a >= 1")] } } };
        const text = markdown(merge([first, second]));
        expect(text).toContain("Mutation score 100.0 %: 2 detected");
        expect(text).toContain("| components/a.ts | 100.0 % | 1 | 0 | 0 | 0 |");
        expect(text).toContain("| components/b.ts | 100.0 % | 1 | 0 | 0 | 0 |");
    });
});
