// lab reproduce for real, small: the 16-core/64 GB tier at 1/1024 (64 MiB, 0.0156 CPU, 1,025
// connections ramped in 5 s, held 2 s), through the CLI as an operator runs it. Asserted: the last
// line is the JSON object with the issue's fields, its figures are the run's own (run.json memory,
// the ledger's verdict), the comparison page and the run's page are written, the generated stack is
// gone (no file in the cache nor the checkout, committed tier files untouched), nothing is left.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { localResidue } from "../../components/platform/local/residue.ts";
import { residueCount } from "../../components/platform/platform.ts";
import { readRecord } from "../../components/records/io.ts";
import { RunRecordSchema } from "../../components/records/runRecord.ts";
import { TIER_JSON_FIELDS } from "../../scripts/lib/reproduceRun.ts";
import { stackConfigFile } from "../../scripts/lib/stackSettings.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { startLab } from "./labCli.ts";

const TIER_FILES = ["Pulumi.local-4c30g.yaml", "Pulumi.local-16c30g.yaml", "Pulumi.local-16c64g.yaml"];

describe("lab reproduce", () => {
    test("one tier at 1/1024: JSON line, pages, the run's own figures, nothing left", { timeout: 300_000 }, async (t) => {
        const runs = mkdtempSync(join(tmpdir(), "c2m-reproduce-runs-"));
        t.after(() => rmSync(runs, { recursive: true, force: true }));
        const committed = TIER_FILES.map((f) => readFileSync(join(REPO_ROOT, f), "utf8"));
        const lab = startLab(["reproduce", "--tiers", "local-16c64g", "--scale", "1/1024", "--hold", "2", "--ramp", "5"], runs);
        const code = await lab.done;
        const out = lab.output();
        assert.equal(code, 0, out);
        const lines = out.trim().split("\n");
        const json = JSON.parse(lines[lines.length - 1]);
        assert.equal(json.tiers.length, 1);
        const tier = json.tiers[0];
        for (const k of TIER_JSON_FIELDS) {
            assert.ok(k in tier, `${k} in ${JSON.stringify(tier)}`);
        }
        assert.equal(tier.stack, "local-16c64g");
        assert.equal(tier.scale, "1/1024");
        assert.equal(tier.target, Math.round(1_050_000 / 1024));
        assert.equal(tier.lb_limit_mib, 64, "the LB's cgroup limit is 64 GB / 1024");
        assert.match(tier.verdict, /^16 cores \/ 64 GB: seed: held 2\.38M/);
        assert.match(out, /planned against|planner: (holds|dies)/);
        assert.match(out, /attack (ramp|hold|release): \d+s elapsed, ~\d+s left in (ramp|hold|release)/, "the progress line names the phase");

        // The JSON's figures are the run's own.
        const run = readRecord(join(runs, tier.run, "run.json"), RunRecordSchema);
        assert.ok(run.memory, "run.json has the LB's memory verdict");
        assert.equal(tier.oom_killed, (run.memory!.oomKills as number) > 0);
        assert.equal(tier.held, run.memory!.heldPeak);
        assert.equal(tier.lb_peak_mib, Math.round((run.memory!.peakBytes! / 2 ** 20) * 10) / 10);
        assert.ok(run.memory!.peakBytes! > run.memory!.idleBytes!, "the LB's memory rose under load");
        const row = readFileSync(join(runs, "ledger.jsonl"), "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l))
            .find((r) => r.id === tier.run);
        assert.equal(row.verdict, tier.run_verdict);
        assert.equal(row.verdict === "fail", tier.oom_killed || tier.error_pct > 0.1, "an OOM kill or errors fail the run, nothing else");
        assert.equal(row.lbLimitMiB, 64);
        assert.match(row.why, /LB peak [\d.]+ of 64\.0 MiB/);

        const page = /→ (\S+reproduce\.html)/.exec(out)?.[1];
        assert.ok(page && existsSync(page), "the comparison page");
        assert.match(readFileSync(page, "utf8"), new RegExp(tier.run));
        assert.ok(existsSync(join(runs, tier.run, "report.html")), "the run's own page");

        assert.equal(residueCount(await localResidue("repro-16c64g")), 0);
        assert.equal(existsSync(stackConfigFile("repro-16c64g")), false, "the generated stack file is gone");
        assert.equal(existsSync(join(REPO_ROOT, "Pulumi.repro-16c64g.yaml")), false, "none in the checkout");
        assert.deepEqual(
            TIER_FILES.map((f) => readFileSync(join(REPO_ROOT, f), "utf8")),
            committed,
            "committed tier files untouched",
        );
    });
});
