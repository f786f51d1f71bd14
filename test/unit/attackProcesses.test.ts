// `lab attack`'s periodic read that never queues behind itself (the cause of attacks that did not
// return after vegeta). Its remote calls' time limits are tested with scripts/lib/remote.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { repeatWithoutOverlap } from "../../scripts/lib/repeat.ts";

describe("repeatWithoutOverlap", () => {
    test("a task slower than the interval never runs twice at once, and nothing runs after stop", async () => {
        let running = 0;
        let most = 0;
        let runs = 0;
        const r = repeatWithoutOverlap(10, async () => {
            running++;
            runs++;
            most = Math.max(most, running);
            await new Promise((res) => setTimeout(res, 50));
            running--;
        });
        // Waits for three runs, not a fixed time: the unit files share one process, and another
        // file's work can hold its event loop for longer than a task lasts. Order and counts only.
        for (const end = Date.now() + 10_000; runs < 3 && Date.now() < end; ) await new Promise((res) => setTimeout(res, 20));
        await r.stop();
        const after = runs;
        await new Promise((res) => setTimeout(res, 150));
        assert.equal(most, 1, "two runs overlapped");
        assert.ok(runs >= 3, `ran ${runs} times in 10 s of 50 ms tasks 10 ms apart`);
        assert.equal(runs, after, "a run started after stop");
        assert.equal(running, 0, "stop waited for the run under way");
    });

    test("a failing task does not stop the repetition", async () => {
        let runs = 0;
        const r = repeatWithoutOverlap(5, async () => {
            runs++;
            throw new Error("unreadable");
        });
        // Waits for the second run rather than a fixed 100 ms: the unit files share one process, and
        // another file's work can hold its event loop longer than that.
        for (const end = Date.now() + 10_000; runs < 2 && Date.now() < end; ) await new Promise((res) => setTimeout(res, 20));
        await r.stop();
        assert.ok(runs >= 2, `ran ${runs} times in 10 s of a failing task 5 ms apart`);
    });
});
