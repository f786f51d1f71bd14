// A node:test reporter that prints, at the end of a run, how long each test file took and
// whether it passed, slowest first: a slow or hung test file is visible in CI's log.
// "wall" is the time from a file's start (the runner dequeues it; every file is enqueued at
// once, so enqueue events do not count) to its last event, so it includes hooks outside any test, e.g. building a lab in
// before(), and stays right when files run side by side.
import { relative } from "node:path";

interface FileTally { ms: number; wallMs: number; passed: number; failed: number; firstAt?: number }

type TestEvent = { type: string; data: { file?: string; nesting?: number; details?: { duration_ms?: number } } };

export function durationTable(files: Map<string, FileTally>): string {
    const rows = [...files].sort((a, b) => b[1].wallMs - a[1].wallMs);
    const sum = (pick: (t: FileTally) => number) => rows.reduce((total, [, t]) => total + pick(t), 0);
    const width = Math.max(4, ...rows.map(([f]) => f.length));
    const line = (f: string, w: string, s: string, p: string, x: string) =>
        `${f.padEnd(width)}  ${w.padStart(8)}  ${s.padStart(8)}  ${p.padStart(5)}  ${x.padStart(6)}`;
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    return [
        "", "test files by duration (slowest first)",
        line("file", "wall s", "tests s", "pass", "failed"),
        ...rows.map(([f, t]) => line(f, seconds(t.wallMs), seconds(t.ms), String(t.passed), String(t.failed))),
        line("sum", seconds(sum((t) => t.wallMs)), seconds(sum((t) => t.ms)), String(sum((t) => t.passed)), String(sum((t) => t.failed))),
        "",
    ].join("\n");
}

export default async function* durations(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
    const files = new Map<string, FileTally>();
    for await (const event of source) {
        if (event.data?.file && (event.type !== "test:enqueue" || files.has(relative(process.cwd(), event.data.file)))) {
            const file = relative(process.cwd(), event.data.file);
            const now = Date.now();
            const tally = files.get(file) ?? { ms: 0, wallMs: 0, passed: 0, failed: 0, firstAt: now };
            tally.wallMs = now - tally.firstAt!;
            files.set(file, tally);
        }
        if ((event.type !== "test:pass" && event.type !== "test:fail") || event.data.nesting !== 0 || !event.data.file) continue;
        const file = relative(process.cwd(), event.data.file);
        const tally = files.get(file)!;
        tally.ms += event.data.details?.duration_ms ?? 0;
        if (event.type === "test:pass") tally.passed++; else tally.failed++;
    }
    yield durationTable(files);
}
