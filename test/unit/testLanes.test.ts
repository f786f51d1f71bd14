// npm test's lanes (test/run.ts): every test file runs exactly once; every file that builds a lab
// runs in the lab lane, the slowest first; files that time real processes run after the rest;
// the mocks (each sets Pulumi's global mocks) each run in a process of their own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LAB_FILE_ORDER, lanes, nodeTestArgs, run, SOLO_FILES, unitLaneCommand } from "../run.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { tempDir } from "./helpers.ts";

const all = ["test/unit", "test/mocks", "test/e2e"].flatMap((dir) =>
    readdirSync(join(REPO_ROOT, dir))
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => `${dir}/${f}`),
);

test("every test file is in exactly one lane", () => {
    const { labs, unit, mocks, solo } = lanes();
    const listed = [...labs, ...unit, ...mocks, ...solo];
    assert.deepEqual([...listed].sort(), [...all].sort());
    assert.equal(new Set(listed).size, listed.length);
    assert.deepEqual(solo, SOLO_FILES);
});

test("every e2e file is in the lab lane, the named slow ones first in their order", () => {
    const { labs, unit, mocks } = lanes();
    const quick = [...unit, ...mocks];
    for (const f of all.filter((f) => f.startsWith("test/e2e/"))) assert.ok(labs.includes(f), f);
    const named = LAB_FILE_ORDER.filter((f) => all.includes(f));
    assert.deepEqual(labs.slice(0, named.length), named);
    // A quick file never brings a stack up.
    for (const f of quick) assert.doesNotMatch(readFileSync(join(REPO_ROOT, f), "utf8"), /\bawait up\(/, f);
});

test("the unit lane shares one process; the mocks and lab files each get their own", () => {
    const { unit, mocks } = lanes();
    assert.ok(unitLaneCommand(unit, "log").args.includes("--experimental-test-isolation=none"));
    assert.deepEqual(JSON.parse(unitLaneCommand(unit, "log").env.C2M_UNIT_FILES), unit);
    for (const f of unit)
        assert.doesNotMatch(readFileSync(join(REPO_ROOT, f), "utf8"), /\bsetMocks\(/, `${f} sets Pulumi's global mocks: it belongs in test/mocks`);
    assert.ok(mocks.every((f) => f.startsWith("test/mocks/")));
    assert.ok(!nodeTestArgs(1, mocks).includes("--experimental-test-isolation=none"));
});

// The unit lane's own behaviour, on fixtures (test/fixtures/unitLane, never run by npm test): node's
// one-process mode alone passes a file that throws at import (exit 0, its tests lost).
const fixture = (name: string) => `test/fixtures/unitLane/${name}.test.ts`;

test("the unit lane fails a file that throws at import, and counts a skipped test as skipped, with its reason", { timeout: 60_000 }, async (t) => {
    const log = join(tempDir(t, "c2m-lane-"), "in-flight.log");
    const lane = unitLaneCommand([fixture("passesAndSkips"), fixture("throwsAtImport")], log);
    const d = await run("fixture lane", lane.args, { env: lane.env, inFlightLog: log });
    assert.notEqual(d.code, 0, `a file that threw at import must fail the lane:\n${d.stdout}`);
    assert.match(d.stdout, /^not ok \d+ - test\/fixtures\/unitLane\/throwsAtImport\.test\.ts loads$/m);
    assert.match(d.stdout, /error: 'fixture: thrown at import'/);
    const row = (name: string) => new RegExp(`^${fixture(name).replaceAll(".", "\\.")}\\s+\\S+\\s+\\S+\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, "m").exec(d.stderr);
    assert.deepEqual(row("throwsAtImport")?.slice(2, 3), ["1"], `its failed load is filed under the file itself:\n${d.stderr}`);
    assert.deepEqual(row("passesAndSkips")?.slice(1), ["2", "0", "1"], `pass 2 (a suite is no test), failed 0, skipped 1:\n${d.stderr}`);
    assert.match(d.stderr, /^skipped: test\/fixtures\/unitLane\/passesAndSkips\.test\.ts: is skipped \(the fixture's reason\)$/m);
});

test("the unit lane fails a file whose import hangs, and ends a lane over its limit naming the test still running", { timeout: 90_000 }, async (t) => {
    const log = join(tempDir(t, "c2m-lane-"), "in-flight.log");
    const lane = unitLaneCommand([fixture("passesAndSkips"), fixture("hangsAtImport"), fixture("hangsInTest")], log);
    const d = await run("fixture lane", lane.args, { env: { ...lane.env, C2M_IMPORT_LIMIT_MS: "2000" }, limitS: 12, inFlightLog: log });
    assert.notEqual(d.code, 0);
    assert.match(d.stdout, /^not ok \d+ - test\/fixtures\/unitLane\/hangsAtImport\.test\.ts loads$/m);
    assert.match(d.stdout, /did not settle within 2 s/);
    assert.match(d.stderr, /fixture lane: ended after its limit of 12 s; still running: test\/fixtures\/unitLane\/hangsInTest\.test\.ts: never ends$/m);
});
