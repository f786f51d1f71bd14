// The tipping search against a real backend of known capacity, without a lab: one pong
// process on 127.0.0.1 with --max-concurrent 3 --service-time-ms 20 (capacity 150 requests/s),
// each step measured by vegeta. The knee must be within ±10 % of 150/s in at most 8 steps.
//
// Why 20 ms and 1.5 s steps (were 50 ms and 3 s, 34 s in all): above capacity the queue, and so
// the latency, grows by (rate - capacity) / capacity seconds per second whatever the capacity, and
// a step is judged bad once p99 passes twice the baseline's (about the service time): a shorter
// service time sees the same overload in a shorter step. 1.5 s at 3 % over capacity adds ~45 ms
// to the last requests, over twice the 20 ms baseline. The search's p99 floor (100 ms by default,
// for a real network's jitter) is set to 0 here: twice the loopback baseline is the bar under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { labEnv } from "../../scripts/toolchain/toolchain.ts";
import { DEFAULT_TIPPING, searchTippingPoint, type StepMeasure } from "../../scripts/analysis/tippingSearch.ts";
import { formatTippingTable } from "../../scripts/analysis/tippingTable.ts";
import { freeLoopbackPort, tempDir } from "./helpers.ts";

const PONG = fileURLToPath(new URL("../../backend/pong.ts", import.meta.url));
const MAX_CONCURRENT = 3;
const SERVICE_TIME_MS = 20;
const STEP = "1.5s";
const CAPACITY = (MAX_CONCURRENT * 1000) / SERVICE_TIME_MS;

function run(file: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { env: labEnv(), stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d) => {
            stdout += d;
        });
        child.stderr!.on("data", (d) => {
            stderr += d;
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        if (input !== undefined) {
            // A child that exits before reading its input (its exit code and stderr say why) must not end the test with EPIPE.
            child.stdin!.on("error", (err: NodeJS.ErrnoException) => {
                if (err.code !== "EPIPE") reject(err);
            });
            child.stdin!.end(input);
        }
    });
}

test(`a pong of capacity ${CAPACITY}/s: knee within ±10 % in ≤ 8 steps, measured with vegeta`, { timeout: 180_000 }, async (t) => {
    if (spawnSync("vegeta", ["-version"], { env: labEnv() }).status !== 0) {
        t.skip("vegeta not installed (npm run bootstrap)");
        return;
    }
    const dir = tempDir(t);
    const port = await freeLoopbackPort();
    const pong = spawn(
        process.execPath,
        [PONG, String(port), "--host", "127.0.0.1", "--max-concurrent", String(MAX_CONCURRENT), "--service-time-ms", String(SERVICE_TIME_MS)],
        {
            stdio: ["ignore", "pipe", "inherit"],
        },
    );
    t.after(() => pong.kill("SIGKILL"));
    await new Promise<void>((resolve, reject) => {
        pong.stdout.once("data", () => resolve());
        pong.once("exit", (c) => reject(new Error(`pong exited ${c}`)));
    });

    const measure = async (rate: number, step: { index: number }): Promise<StepMeasure> => {
        const offered = Math.round(rate);
        const bin = join(dir, `step-${step.index}.bin`);
        const attack = await run(
            "vegeta",
            ["attack", `-rate=${offered}/s`, `-duration=${STEP}`, "-timeout=20s", `-output=${bin}`],
            `GET http://127.0.0.1:${port}/ping\n`,
        );
        assert.equal(attack.code, 0, attack.stderr);
        const report = await run("vegeta", ["report", "-type=json", bin]);
        const s = JSON.parse(report.stdout) as { requests: number; success: number; latencies: Record<string, number> };
        return { rate: offered, p50Ms: s.latencies["50th"] / 1e6, p99Ms: s.latencies["99th"] / 1e6, errorRatio: 1 - s.success, requests: s.requests };
    };
    const r = await searchTippingPoint(measure, { ...DEFAULT_TIPPING, startRate: CAPACITY / 6, p99FloorMs: 0 });
    const errorPct = r.knee === undefined ? Infinity : (Math.abs(r.knee - CAPACITY) / CAPACITY) * 100;
    process.stderr.write(
        `${formatTippingTable(r)}\ncapacity ${CAPACITY}/s, knee ${r.knee?.toFixed(1)}/s, error ${errorPct.toFixed(1)} %, ${r.steps.length} steps\n`,
    );
    assert.ok(r.steps.length <= 8, `${r.steps.length} steps`);
    assert.ok(errorPct <= 10, `knee ${r.knee} is ${errorPct.toFixed(1)} % from ${CAPACITY}`);
});
