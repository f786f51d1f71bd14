// npm test's lanes (test/run.ts): every test file runs exactly once; every file that builds a lab
// runs in the lab lane, the slowest first; files that time real processes run after the rest;
// the mocks (each sets Pulumi's global mocks) each run in a process of their own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LAB_FILE_ORDER, lanes, nodeTestArgs, SOLO_FILES } from "../run.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

const all = ["test/unit", "test/mocks", "test/e2e"].flatMap((dir) =>
    readdirSync(join(REPO_ROOT, dir)).filter((f) => f.endsWith(".test.ts")).map((f) => `${dir}/${f}`));

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
    assert.ok(nodeTestArgs(1, unit, true).includes("--experimental-test-isolation=none"));
    for (const f of unit) assert.doesNotMatch(readFileSync(join(REPO_ROOT, f), "utf8"), /\bsetMocks\(/, `${f} sets Pulumi's global mocks: it belongs in test/mocks`);
    assert.ok(mocks.every((f) => f.startsWith("test/mocks/")));
    assert.ok(!nodeTestArgs(1, mocks).includes("--experimental-test-isolation=none"));
});
