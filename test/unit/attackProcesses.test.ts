// What `lab attack` and bench/scale run their child processes with: a time limit that ends the
// whole process group (a shell's background child holds the pipes open otherwise), and a periodic
// read that never queues behind itself (the cause of attacks that did not return after vegeta).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runWithTimeout } from "../../scripts/lib/runWithTimeout.ts";
import { repeatWithoutOverlap } from "../../scripts/lib/repeat.ts";
import { tempDir } from "./helpers.ts";

describe("runWithTimeout", () => {
    test("exit code, stdout and stderr of a command that ends", async () => {
        const r = await runWithTimeout("bash", ["-c", "echo out; echo err >&2; exit 3"], { timeoutMs: 10_000 });
        assert.deepEqual(r, { code: 3, stdout: "out\n", stderr: "err\n", timedOut: false });
    });

    test("the limit ends a shell and the background child holding its output open", async () => {
        // An hour's sleep: returning at all means the limit ended it (no wall-clock bound, which another
        // file of this one-process lane could break by holding the event loop); and the child is gone.
        const r = await runWithTimeout("bash", ["-c", 'sleep 3600 & echo "started $!"; wait'], { timeoutMs: 500 });
        assert.equal(r.timedOut, true);
        assert.equal(r.code, 137);
        const m = /^started (\d+)\n$/.exec(r.stdout);
        assert.ok(m, r.stdout);
        // Killed: gone, or a zombie waiting for this container's init to reap it.
        const state = (() => {
            try {
                return readFileSync(`/proc/${m[1]}/stat`, "utf8").split(" ")[2];
            } catch {
                return "gone";
            }
        })();
        assert.ok(state === "gone" || state === "Z", `the background sleep was ended with its shell (state ${state})`);
    });

    test("stdout to a file is complete when it resolves", async (t) => {
        const dir = tempDir(t);
        const file = join(dir, "out");
        const r = await runWithTimeout("bash", ["-c", "seq 1 100000"], { stdoutFile: file, timeoutMs: 10_000 });
        assert.equal(r.code, 0);
        assert.equal(r.stdout, "");
        assert.equal(readFileSync(file, "utf8").split("\n").at(-2), "100000");
    });

    test("a command that cannot be started rejects", async () => {
        await assert.rejects(runWithTimeout("/nonexistent/c2m-command", []), /ENOENT/);
    });
});

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
