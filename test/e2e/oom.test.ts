// bench:oom for real, small: an LB host limited to 48 MiB, plain connections ramped at 1500/s,
// OOM-killed within seconds. Asserted: the kill is detected (cgroup count and kernel log), the
// run is recorded with it (run.json `oom`, ledger row), the lab is torn down, nothing is left.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { benchOom } from "../../bench/oom.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { stackConfigFile } from "../../scripts/lib/stackSettings.ts";
import { localResidue } from "../../components/platform/local/residue.ts";
import { residueCount } from "../../components/platform/platform.ts";
import { readRecord } from "../../components/records/io.ts";
import { RunRecordSchema } from "../../components/records/runRecord.ts";

const STACK = "e2eoom86";

describe("bench:oom", () => {
    test("48 MiB plain: HAProxy OOM-killed, detected, recorded, torn down, no residue", { timeout: 240_000 }, async (t) => {
        const runs = mkdtempSync(join(tmpdir(), "c2m-oom-runs-"));
        const before = process.env.C2M_RUNS_DIR;
        process.env.C2M_RUNS_DIR = runs;
        t.after(() => {
            if (before === undefined) delete process.env.C2M_RUNS_DIR;
            else process.env.C2M_RUNS_DIR = before;
            rmSync(runs, { recursive: true, force: true });
        });
        const r = await benchOom({ mode: "plain", memoryMib: 48, stack: STACK, subnet: "198.18.86.0/24", plateauS: 10, ceiling: 3, clients: 1, report: false });
        assert.equal(r.oom_killed, true, JSON.stringify(r));
        assert.equal(r.by, "oom_kill");
        // Counted by HAProxy at its last reading before the kill, the peak apart and at least as high.
        assert.ok(r.held_at_oom !== null && r.held_at_oom > 500, `held ${r.held_at_oom} before the kill`);
        assert.ok(r.held_peak !== null && r.held_peak >= r.held_at_oom, `peak ${r.held_peak}`);
        assert.ok(r.predicted > 0);
        assert.ok(
            (r.killed_processes as string[]).some((p) => p.startsWith("haproxy:")),
            "the kernel log names HAProxy",
        );

        const run = readRecord(join(runs, String(r.run), "run.json"), RunRecordSchema);
        assert.equal(run.oom?.killed, true);
        assert.equal(run.oom?.by, "oom_kill");
        assert.equal(run.oom?.memoryMiB, 48);
        assert.ok((run.oom?.oomKills ?? 0) >= 1 && (run.oom?.kernelLog.length ?? 0) >= 1);
        const ledger = readFileSync(join(runs, "ledger.jsonl"), "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        const row = ledger.find((x) => x.id === r.run);
        assert.equal(row?.verdict, "fail");
        assert.match(row?.why ?? "", /^OOM-killed \(oom_kill\) at \d+ connections in 48 MiB/);

        assert.equal(residueCount(await localResidue(STACK)), 0);
        assert.equal(existsSync(stackConfigFile(STACK)), false, "the generated stack file is gone");
        assert.equal(existsSync(join(REPO_ROOT, `Pulumi.${STACK}.yaml`)), false, "none in the checkout either");
        assert.doesNotMatch(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout, new RegExp(STACK));
    });
});
