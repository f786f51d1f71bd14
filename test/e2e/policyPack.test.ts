// The policy pack through the real engine: `pulumi preview --policy-pack policy/analyzer` loads the
// pack (the engine starts policy/analyzer, the cache's pulumi-analyzer-policy runs the SDK's
// run-policy-pack), passes a valid local stack and refuses one whose TTL is above the policy's
// maximum. Preview creates nothing; the generated stack and its file are removed afterwards.
// Needs the toolchain (`npm run bootstrap`); a missing tool fails the test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { ensureStack, stackExists, teardownStack } from "../../scripts/lib/pulumiStack.ts";
import { stackConfigFile, stackSettingsFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";

const STACK = `policy${process.pid}`;
const SUBNET = "198.18.61.0/24";
const stackFile = stackConfigFile(STACK); // generated: in the cache, never the checkout
const dir = mkdtempSync(join(tmpdir(), "c2m-policy-"));
/** The pack's config, as an organisation would set it: labs may live a day at most. */
const packConfig = join(dir, "policy-config.json");
const PACK_MAX_TTL_HOURS = 24;

/** The local stack's config on its own subnet, with the given TTL. */
function writeStackConfig(ttlHours: number): void {
    const local = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
    writeGeneratedStack(STACK, YAML.stringify({ config: { ...local.config, "c2m:local": { subnet: SUBNET }, "c2m:ttlHours": ttlHours } }));
}

/** Plain `pulumi preview` as an operator runs it, on the settings file the lab gives Pulumi (a fresh copy of the stack's). */
function preview(extra: string[] = []): { status: number | null; out: string } {
    const r = spawnSync(
        "pulumi",
        ["preview", "--stack", STACK, "--config-file", stackSettingsFile(STACK), "--non-interactive", "--policy-pack", "policy/analyzer", ...extra],
        { cwd: REPO_ROOT, env: labEnv(), encoding: "utf8", timeout: 5 * 60_000 },
    );
    if (r.error) throw r.error;
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
    writeFileSync(packConfig, JSON.stringify({ "lab-expiry": { maxTtlHours: PACK_MAX_TTL_HOURS } }));
    writeStackConfig(4);
    await ensureStack(STACK);
});

after(async () => {
    await teardownStack(STACK, stackFile);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(await stackExists(STACK), false, `stack ${STACK} left behind`);
});

test("the engine loads the pack and passes a local stack within the TTL", () => {
    writeStackConfig(4);
    const r = preview(["--policy-pack-config", packConfig]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /✅ c2m-lab-guardrails@v0\.1\.0 \(local: policy\/analyzer\)/);
    assert.doesNotMatch(r.out, /lab-expiry/);
});

test("the engine refuses a stack whose c2m:ttlHours is above the policy's maximum", () => {
    writeStackConfig(48);
    const r = preview(["--policy-pack-config", packConfig]);
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /❌ c2m-lab-guardrails@v0\.1\.0/);
    assert.match(r.out, /\[mandatory\]\s+lab-expiry\s+\(pulumi:pulumi:Stack: c2m-policy\d+\)/);
    assert.match(r.out, /is 48\.0 h away, above the 24 h maximum: lower c2m:ttlHours/);
});

test("without a pack config the lab's own maximum (168 h) applies", () => {
    writeStackConfig(48);
    const r = preview();
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /✅ c2m-lab-guardrails/);
});
