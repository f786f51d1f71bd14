// A node:test reporter for the unit lane: one line when a top-level test begins (`test:dequeue`;
// node emits `test:start` only once the test has ended) and one when it ends, so the runner can name
// the tests still running when it ends a lane that passed its time limit (test/run.ts).
import { relative } from "node:path";

type TestEvent = { type: string; data?: { file?: string; name?: string; nesting?: number } };

export default async function* inFlight(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
    for await (const { type, data } of source) {
        if (data?.nesting !== 0 || !data.file) continue;
        const what = `${relative(process.cwd(), data.file)}: ${data.name}`;
        if (type === "test:dequeue") yield `begins ${what}\n`;
        else if (type === "test:pass" || type === "test:fail") yield `ends ${what}\n`;
    }
}
