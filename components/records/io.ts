// Reading and writing a record through its schema: validated on write and on read. A bad, old
// or truncated file gives one error that names the file and every failing field, never a
// crash further in and never a silent default.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import type { z } from "zod";

/** At most this many failing fields are listed in one error. */
const MAX_ISSUES = 5;

/** What a field expects, in words: "array", or "array or \"unknown\"" for a union. */
function expectedOf(issue: z.core.$ZodIssue): string | undefined {
    if (issue.code === "invalid_type") return issue.expected;
    if (issue.code === "invalid_value") return issue.values.map((v) => JSON.stringify(v)).join(" or ");
    if (issue.code === "invalid_union") {
        const each = issue.errors.map((branch) => (branch[0] ? expectedOf(branch[0]) : undefined));
        return each.every((x) => x !== undefined) ? each.join(" or ") : undefined;
    }
    return undefined;
}

/** One line per failing field: "field processes.0.ratePerSecond: expected number, received string". */
function describeIssues(issues: readonly z.core.$ZodIssue[], value: unknown): string {
    const at = (path: readonly PropertyKey[]) =>
        path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), value);
    const lines = issues.slice(0, MAX_ISSUES).map((issue) => {
        const where = issue.path.length ? `field ${issue.path.map(String).join(".")}` : "record";
        if (issue.code === "invalid_type" && /received undefined$/.test(issue.message)) return `${where}: missing (expected ${issue.expected})`;
        // A union (a value or "unknown") names what it takes when the field is missing.
        if (issue.code === "invalid_union" && at(issue.path) === undefined && expectedOf(issue)) return `${where}: missing (expected ${expectedOf(issue)})`;
        return `${where}: ${issue.message.replace(/^Invalid input: /, "")}`;
    });
    if (issues.length > MAX_ISSUES) lines.push(`(and ${issues.length - MAX_ISSUES} more)`);
    return lines.join("; ");
}

/** JSON text to a value; `source` (a file, a command) names what was read in the error. */
export function parseJson(text: string, source: string): unknown {
    if (text.trim() === "") throw new Error(`${source}: empty, expected a JSON record`);
    try {
        return JSON.parse(text);
    } catch (err) {
        throw new Error(`${source}: not valid JSON: ${(err as Error).message}`);
    }
}

/** A decoded value checked against its schema. */
export function checkRecord<S extends z.ZodType>(value: unknown, schema: S, source: string): z.output<S> {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new Error(`${source}: ${describeIssues(parsed.error.issues, value)}`);
    return parsed.data;
}

export function parseRecord<S extends z.ZodType>(text: string, schema: S, source: string): z.output<S> {
    return checkRecord(parseJson(text, source), schema, source);
}

/** The record's text as written: checked first, so an invalid record never reaches a file. */
function formatRecord<S extends z.ZodType>(value: z.input<S>, schema: S, target: string, indent?: number): string {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new Error(`${target}: refusing to write an invalid record: ${describeIssues(parsed.error.issues, value)}`);
    return JSON.stringify(parsed.data, null, indent);
}

export function readRecord<S extends z.ZodType>(file: string, schema: S): z.output<S> {
    if (!existsSync(file)) throw new Error(`${file}: no such file`);
    return parseRecord(readFileSync(file, "utf8"), schema, file);
}

export function writeRecord<S extends z.ZodType>(file: string, schema: S, value: z.input<S>): void {
    writeFileSync(file, `${formatRecord(value, schema, file, 2)}\n`);
}

/** Appends the record as one line of a JSON-lines file (the run ledger). */
export function appendRecordLine<S extends z.ZodType>(file: string, schema: S, value: z.input<S>): void {
    appendFileSync(file, `${formatRecord(value, schema, file)}\n`);
}
