// A pulumi killed while writing can leave an empty <stack>.json.attrs in a file backend, after
// which every `pulumi stack ls` fails with "EOF" (seen when the reliability test SIGKILLs `lab up`).
// The lab repairs that before listing stacks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

test("an empty .attrs file left in the file backend does not break listing stacks", async (t) => {
    const state = mkdtempSync(join(tmpdir(), "c2m-state-"));
    t.after(() => rmSync(state, { recursive: true, force: true }));
    // Before the lab's modules read the environment: a private backend for this test only.
    process.env.PULUMI_BACKEND_URL = `file://${state}`;
    process.env.PULUMI_CONFIG_PASSPHRASE = "state-repair-test";
    const { labEnv, paths, REPO_ROOT } = await import("../../scripts/toolchain/toolchain.ts");
    const { ensureStack, listStacks } = await import("../../scripts/lib/pulumiStack.ts");
    const { writeGeneratedStack } = await import("../../scripts/lib/stackSettings.ts");
    const generated = writeGeneratedStack("attrs-repair", "config: {}\n");
    t.after(() => {
        rmSync(generated, { force: true });
        rmSync(join(paths().stackSettings, "Pulumi.attrs-repair.yaml"), { force: true }); // with the salt pulumi wrote
    });
    await ensureStack("attrs-repair");
    assert.equal(existsSync(join(REPO_ROOT, "Pulumi.attrs-repair.yaml")), false, "creating a stack writes nothing into the checkout");
    const stacksDir = join(state, ".pulumi", "stacks", "c2m");
    const attrs = readdirSync(stacksDir).filter((f) => f.endsWith(".json.attrs"));
    assert.ok(attrs.length > 0, `pulumi wrote attributes: ${readdirSync(stacksDir)}`);
    for (const f of attrs) writeFileSync(join(stacksDir, f), ""); // what a SIGKILL mid-write leaves

    const plain = spawnSync("pulumi", ["stack", "ls", "--json"], { cwd: REPO_ROOT, env: labEnv(), encoding: "utf8" });
    assert.notEqual(plain.status, 0, "pulumi itself cannot list stacks over an empty .attrs");
    assert.deepEqual(await listStacks(), ["attrs-repair"]);
    for (const f of readdirSync(stacksDir).filter((x) => x.endsWith(".attrs"))) assert.ok(statSync(join(stacksDir, f)).size > 0);
});
