// A node:test reporter that prints, at the end of a run, how long each test file took and
// whether it passed, slowest first: a slow or hung test file is visible in CI's log.
// "wall" is the time from a file's start (the runner dequeues it; every file is enqueued at
// once, so enqueue events do not count) to its last event, so it includes hooks outside any test, e.g. building a lab in
// before(), and stays right when files run side by side.
// Counts are of tests at any depth (suites are not counted); a test is filed under the file that
// declared it (a shared helper such as test/mocks/awsTier.ts gets the row of the tests it declares).
// A skipped test is counted as skipped, never as passed, and listed under the table with its reason.
// A unit file that failed to load (test/unitLane.ts's `<file> loads` test) is counted under that file.
import { relative } from "node:path";

export interface FileTally {
    ms: number;
    wallMs: number;
    passed: number;
    failed: number;
    skipped: number;
    firstAt?: number;
}

/** A skipped (or todo) test and the reason it gave. */
export interface Skip {
    file: string;
    name: string;
    reason: string;
}

type TestEvent = {
    type: string;
    data: {
        file?: string;
        name?: string;
        nesting?: number;
        skip?: string | boolean;
        todo?: string | boolean;
        details?: { duration_ms?: number; type?: "test" | "suite" };
    };
};

/** The file a test belongs to: its own, or the unit file named by a failed-load test. */
function fileOf(data: TestEvent["data"]): string {
    const loads = /^(test\/\S+\.test\.ts) loads$/.exec(data.name ?? "");
    return loads ? loads[1] : relative(process.cwd(), data.file!);
}

export function durationTable(files: Map<string, FileTally>, skips: Skip[] = []): string {
    const rows = [...files].sort((a, b) => b[1].wallMs - a[1].wallMs);
    const sum = (pick: (t: FileTally) => number) => rows.reduce((total, [, t]) => total + pick(t), 0);
    const width = Math.max(4, ...rows.map(([f]) => f.length));
    const line = (f: string, w: string, s: string, p: string, x: string, k: string) =>
        `${f.padEnd(width)}  ${w.padStart(8)}  ${s.padStart(8)}  ${p.padStart(5)}  ${x.padStart(6)}  ${k.padStart(7)}`;
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    return [
        "",
        "test files by duration (slowest first)",
        line("file", "wall s", "tests s", "pass", "failed", "skipped"),
        ...rows.map(([f, t]) => line(f, seconds(t.wallMs), seconds(t.ms), String(t.passed), String(t.failed), String(t.skipped))),
        line(
            "sum",
            seconds(sum((t) => t.wallMs)),
            seconds(sum((t) => t.ms)),
            String(sum((t) => t.passed)),
            String(sum((t) => t.failed)),
            String(sum((t) => t.skipped)),
        ),
        ...(skips.length ? ["", "skipped tests", ...skips.map((k) => `skipped: ${k.file}: ${k.name} (${k.reason})`)] : []),
        "",
    ].join("\n");
}

export default async function* durations(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
    const files = new Map<string, FileTally>();
    const skips: Skip[] = [];
    const lastNesting = new Map<string, number>();
    for await (const event of source) {
        if (event.data?.file && (event.type !== "test:enqueue" || files.has(fileOf(event.data)))) {
            const file = fileOf(event.data);
            const now = Date.now();
            const tally = files.get(file) ?? { ms: 0, wallMs: 0, passed: 0, failed: 0, skipped: 0, firstAt: now };
            tally.wallMs = now - tally.firstAt!;
            files.set(file, tally);
        }
        if (event.data?.file && event.type === "test:pass" && (event.data.skip !== undefined || event.data.todo !== undefined)) {
            const reason = event.data.skip ?? event.data.todo;
            skips.push({ file: fileOf(event.data), name: event.data.name ?? "?", reason: typeof reason === "string" ? reason : "no reason given" });
        }
        if ((event.type !== "test:pass" && event.type !== "test:fail") || !event.data.file) continue;
        // Leaf tests only: a suite (describe) or a test with subtests ends right after its last
        // child, which is one level deeper; its children are the tests counted.
        const file = fileOf(event.data);
        const nesting = event.data.nesting ?? 0;
        const hadChildren = lastNesting.get(file) === nesting + 1;
        lastNesting.set(file, nesting);
        if (hadChildren || (event.data.details?.type === "suite" && event.type === "test:pass")) continue;
        const tally = files.get(file)!;
        tally.ms += event.data.details?.duration_ms ?? 0;
        if (event.type === "test:fail") tally.failed++;
        else if (event.data.skip !== undefined || event.data.todo !== undefined) tally.skipped++;
        else tally.passed++;
    }
    yield durationTable(files, skips);
}
