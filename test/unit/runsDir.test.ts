// Every lab command that reads runs finds them in $C2M_RUNS_DIR when it is set, as attack,
// tipping and sweep write them there: lab runs (and --backfill), lab compare and lab report.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, runsRoot } from "../../scripts/toolchain/toolchain.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";
import type { RunRecord } from "../../components/records/runRecord.ts";
import { runLab, tempDir } from "./helpers.ts";

/** A finished run directory (run.json + the lab config it ran with), not yet in any ledger. */
function writeRun(runs: string, id: string, p99Ns: number): void {
    const dir = join(runs, id);
    mkdirSync(dir, { recursive: true });
    const run: RunRecord = {
        runId: id,
        stack: "local",
        startedAt: "2026-11-25T12:00:00.000Z",
        finishedAt: "2026-11-25T12:00:06.500Z",
        interrupted: false,
        settings: { ...PRESET_SETTINGS.smoke },
        processes: [{ client: "client-0", frontend: "plain", laddr: "198.18.0.10", ratePerSecond: 100, connections: 500 }],
        versions: { pulumi: "3.270.0", node: "22.23.3", vegeta: "v12", haproxy: "2.6.12" },
        summary: {
            requests: 600,
            success: 1,
            rate: 100,
            throughput: 100,
            status_codes: { 200: 600 },
            errors: [],
            latencies: { mean: p99Ns / 2, "50th": p99Ns / 2, "90th": p99Ns, "95th": p99Ns, "99th": p99Ns, max: p99Ns },
        },
        perFrontend: {},
        haproxy: {},
        serversDown: [],
        failedProcesses: [],
    };
    writeFileSync(join(dir, "run.json"), JSON.stringify(run));
    writeFileSync(join(dir, "config.yaml"), "labConfig:\n  platform: local\n  attack:\n    preset: smoke\n");
}

test("runsRoot is $C2M_RUNS_DIR when set, runs/ otherwise", () => {
    const before = process.env.C2M_RUNS_DIR;
    try {
        process.env.C2M_RUNS_DIR = "/tmp/somewhere-else";
        assert.equal(runsRoot(), "/tmp/somewhere-else");
        delete process.env.C2M_RUNS_DIR;
        assert.equal(runsRoot(), join(REPO_ROOT, "runs"));
    } finally {
        if (before === undefined) delete process.env.C2M_RUNS_DIR;
        else process.env.C2M_RUNS_DIR = before;
    }
});

test("lab runs --backfill, lab compare and lab report find runs in $C2M_RUNS_DIR", { timeout: 60_000 }, async (t) => {
    const runs = tempDir(t);
    // Ids no real run has: found only if the commands look in $C2M_RUNS_DIR.
    const [a, b] = ["20990101-000001-runsdir", "20990101-000002-runsdir"];
    writeRun(runs, a, 10e6);
    writeRun(runs, b, 20e6);

    const listed = await runLab(["runs", "--backfill"], { runsDir: runs, timeoutMs: 20_000 });
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /ledger: 2 runs added/);
    assert.match(listed.out, new RegExp(a));
    assert.match(listed.out, new RegExp(b));
    assert.ok(existsSync(join(runs, "ledger.jsonl")), "the ledger is written beside the runs it lists");

    const again = await runLab(["runs", "--last", "1"], { runsDir: runs, timeoutMs: 20_000 });
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, new RegExp(b));
    assert.doesNotMatch(again.out, new RegExp(a));

    const compared = await runLab(["compare", "000001-runsdir", "000002-runsdir"], { runsDir: runs, timeoutMs: 20_000 });
    assert.equal(compared.code, 0, compared.out);
    assert.match(compared.out, new RegExp(a));
    assert.match(compared.out, new RegExp(b));

    const reported = await runLab(["report", "000002-runsdir"], { runsDir: runs, timeoutMs: 40_000 });
    assert.equal(reported.code, 0, reported.out);
    assert.ok(existsSync(join(runs, b, "report.html")), reported.out);
    assert.ok(!existsSync(join(REPO_ROOT, "runs", b)), "nothing is written under the repository's runs/");
});
