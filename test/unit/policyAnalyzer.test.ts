// The policy pack launcher bootstrap writes (pulumi-analyzer-policy) and the pack's entry for the
// engine (policy/analyzer). test/e2e/policyPack.test.ts runs both under the real engine.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANALYZER, analyzerLauncherProblem, analyzerLauncherScript } from "../../scripts/toolchain/policyAnalyzer.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { PINS } from "../../components/pins.ts";

describe("policy pack launcher", () => {
    test("is a POSIX sh script that names its pins", () => {
        const script = analyzerLauncherScript();
        const r = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(script.startsWith(`#!/bin/sh\n# ${ANALYZER} ${PINS.policyAnalyzer} `));
        assert.match(script, new RegExp(`@pulumi/pulumi ${PINS.pulumiSdk.replaceAll(".", "\\.")}`));
        assert.match(script, /require\.resolve\("@pulumi\/pulumi\/cmd\/run-policy-pack"\)/);
    });

    test("doctor's check: missing, or not this checkout's text, is a problem", () => {
        const dir = mkdtempSync(join(tmpdir(), "c2m-analyzer-"));
        try {
            const file = join(dir, ANALYZER);
            assert.equal(analyzerLauncherProblem(file), "not found");
            writeFileSync(file, '#!/bin/sh\nexec node run-policy-pack "$@"\n');
            assert.match(analyzerLauncherProblem(file) ?? "", /not the launcher of this checkout's pins/);
            writeFileSync(file, analyzerLauncherScript());
            assert.equal(analyzerLauncherProblem(file), undefined);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a pack without @pulumi/pulumi fails with the message the engine turns into 'run npm install'", () => {
        const dir = mkdtempSync(join(tmpdir(), "c2m-analyzer-"));
        try {
            const launcher = join(dir, ANALYZER);
            writeFileSync(launcher, analyzerLauncherScript(), { mode: 0o755 });
            const pack = mkdtempSync(join(dir, "pack-"));
            // Node from the checkout (the launcher looks for node_modules/.bin/node above the pack, else PATH).
            const env = { ...process.env, PATH: `${join(REPO_ROOT, "node_modules", ".bin")}:/usr/bin:/bin` };
            const r = spawnSync(launcher, ["127.0.0.1:1", pack], { encoding: "utf8", env, timeout: 60_000 });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /Cannot find module '@pulumi\/pulumi\/cmd\/run-policy-pack'/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    test("policy/analyzer is executable and hands the engine's address and its own directory to the launcher", () => {
        const entry = join(REPO_ROOT, "policy", "analyzer");
        accessSync(entry, constants.X_OK);
        const dir = mkdtempSync(join(tmpdir(), "c2m-analyzer-"));
        try {
            // A stand-in launcher that prints what it was given.
            writeFileSync(join(dir, ANALYZER), '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
            const r = spawnSync(entry, ["127.0.0.1:12345"], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` }, cwd: tmpdir() });
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout.trim(), `127.0.0.1:12345 ${join(REPO_ROOT, "policy")}`);
            const missing = spawnSync(entry, ["127.0.0.1:12345"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
            assert.notEqual(missing.status, 0);
            assert.match(missing.stderr, /pulumi-analyzer-policy is not on PATH: run `npm run bootstrap`/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
