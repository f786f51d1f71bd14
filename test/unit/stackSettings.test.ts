// Where Pulumi reads and writes a stack's settings (scripts/lib/pulumiStack.ts): never a file of the checkout.
// A committed stack's settings reach Pulumi as a byte-for-byte copy in the cache, beside a copy of
// Pulumi.yaml; a generated stack (bench, test) is written in the cache, and a committed one never.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { committedStackSettings, stackConfigFile, stackSettingsFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { tempDir } from "./helpers.ts";

/** Runs `fn` with the lab's cache in a temporary directory. */
function withCache(t: import("node:test").TestContext, fn: (cache: string) => void): void {
    const cache = tempDir(t, "c2m-settings-");
    const saved = process.env.C2M_CACHE;
    process.env.C2M_CACHE = cache;
    try {
        fn(cache);
    } finally {
        if (saved === undefined) delete process.env.C2M_CACHE;
        else process.env.C2M_CACHE = saved;
    }
}

const topLevel = () =>
    readdirSync(REPO_ROOT)
        .filter((f) => f.startsWith("Pulumi."))
        .sort();

test("a committed stack reaches Pulumi as a byte-for-byte copy beside a copy of Pulumi.yaml; the checkout is not written", (t) => {
    const before = topLevel();
    const committed = readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"));
    withCache(t, (cache) => {
        assert.equal(stackConfigFile("local"), join(REPO_ROOT, "Pulumi.local.yaml"));
        const copy = stackSettingsFile("local");
        assert.equal(copy, join(cache, "stack-settings", "Pulumi.local.yaml"));
        assert.deepEqual(readFileSync(copy), committed);
        assert.deepEqual(readFileSync(join(cache, "stack-settings", "Pulumi.yaml")), readFileSync(join(REPO_ROOT, "Pulumi.yaml")));
        // Pulumi wrote its salt into the copy; the next operation starts again from the committed file.
        writeFileSync(copy, `${committed}encryptionsalt: v1:x\n`);
        assert.deepEqual(readFileSync(stackSettingsFile("local")), committed);
        assert.ok(committedStackSettings().includes(copy), "lab env's copies include it");
    });
    assert.deepEqual(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml")), committed);
    assert.deepEqual(topLevel(), before);
});

test("a generated stack lives in the cache; a committed stack's name is refused; a sweep cell's settings replace the copy only", (t) => {
    const before = topLevel();
    withCache(t, (cache) => {
        assert.throws(() => writeGeneratedStack("local", "config: {}\n"), /stack local is committed \(Pulumi\.local\.yaml\): lab never writes its file/);
        const file = writeGeneratedStack("gen1", "config:\n  c2m:ttlHours: 1\n");
        assert.equal(file, join(cache, "generated-stacks", "Pulumi.gen1.yaml"));
        assert.equal(stackConfigFile("gen1"), file);
        assert.equal(readFileSync(stackSettingsFile("gen1"), "utf8"), "config:\n  c2m:ttlHours: 1\n");
        const cell = "config:\n  c2m:ttlHours: 2\n";
        assert.equal(readFileSync(stackSettingsFile("gen1", cell), "utf8"), cell);
        assert.equal(readFileSync(file, "utf8"), "config:\n  c2m:ttlHours: 1\n", "the stack's own settings are untouched");
        assert.equal(existsSync(join(REPO_ROOT, "Pulumi.gen1.yaml")), false);
    });
    assert.deepEqual(topLevel(), before);
});
