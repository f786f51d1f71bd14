// A test that times out never counts as passed: `npm test`'s own node --test flags (test/run.ts), run on a
// fixture where one test exceeds its own timeout and the file exceeds --test-timeout.
// Found this way (node 22): --test-timeout also caps each test FILE (the file is a test of the
// runner), and the file's process is then killed (SIGTERM) before its after() hooks run; TAP's
// summary counts such tests as "cancelled", not "fail", but the exit status is 1 and the
// durations reporter counts them as failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { tempDir } from "./helpers.ts";
import { nodeTestArgs } from "../run.ts";

test("npm test's flags: a timed-out test and a file over --test-timeout fail the run, never pass", { timeout: 60_000 }, (t) => {
    const flags = nodeTestArgs(1, []);
    assert.ok(
        flags.some((f) => /^--test-timeout=\d+$/.test(f)),
        `npm test sets --test-timeout: ${flags.join(" ")}`,
    );
    const dir = tempDir(t, "c2m-timeout-");
    const fixture = join(dir, "fixture.test.ts");
    writeFileSync(
        fixture,
        [
            `import { after, test } from "node:test";`,
            `import { appendFileSync } from "node:fs";`,
            `const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));`,
            `after(() => appendFileSync(${JSON.stringify(join(dir, "after.log"))}, "after ran\\n"));`,
            `test("quick", () => {});`,
            `test("over its own timeout", { timeout: 200 }, async () => { await wait(800); });`,
            `test("keeps the file past --test-timeout", async () => { await wait(30_000); });`,
        ].join("\n"),
    );
    // The same flags with a short file cap, so the fixture exceeds it within seconds (8 s: a busy
    // machine took over 2 s just to start the fixture and run its first test).
    const args = flags.map((f) => (f.startsWith("--test-timeout=") ? "--test-timeout=8000" : f));
    // Without NODE_TEST_CONTEXT, or the child thinks it runs inside this test and skips its files.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(process.execPath, [...args, fixture], { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 45_000 });
    assert.notEqual(r.status, 0, `the run must fail:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^ok \d+ - quick$/m);
    assert.match(r.stdout, /^not ok \d+ - over its own timeout$/m);
    assert.match(r.stdout, /failureType: 'testTimeoutFailure'\n\s+error: 'test timed out after 200ms'/);
    assert.doesNotMatch(r.stdout, /^ok \d+ - (over its own timeout|keeps the file past --test-timeout)$/m);
    assert.match(r.stdout, /^not ok \d+ - \S*fixture\.test\.ts$/m, "the file itself timed out");
    assert.match(r.stdout, /error: 'test timed out after 8000ms'/);
    assert.match(r.stdout, /^# pass 1$/m, "only the quick test passed");
    // The durations reporter (stderr) counts the timed-out test as failed, never as passed.
    const row = /^\S*fixture\.test\.ts\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+\d+$/m.exec(r.stderr);
    assert.ok(row, r.stderr);
    assert.equal(Number(row[1]), 1, "passed");
    assert.ok(Number(row[2]) >= 1, "failed");
});
