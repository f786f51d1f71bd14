// The tipping-point search on synthetic backends whose knee is known: it must land within
// ±10 % of the capacity in at most 8 measured steps.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    DEFAULT_TIPPING,
    bracketUncertainty,
    nextStep,
    searchTippingPoint,
    validateTippingOptions,
    type StepMeasure,
    type TippingOptions,
} from "../../scripts/analysis/tippingSearch.ts";
import { describeP99Rule, judgeStep, p99Limit } from "../../scripts/analysis/tippingJudge.ts";
import { formatTippingTable } from "../../scripts/analysis/tippingTable.ts";
import { seededRandom } from "./helpers.ts";

/**
 * A queue in front of a server of capacity C measured for D seconds: below C the p99 stays near
 * the service time (a little queueing as ρ → 1); above it the backlog grows for the whole
 * step, so the last requests wait (ρ − 1)·D. Requests that would wait past the timeout fail.
 */
function queueModel(capacity: number, o: { serviceMs?: number; durationS?: number; timeoutS?: number; noise?: number; seed?: number } = {}) {
    const serviceMs = o.serviceMs ?? 200;
    const durationS = o.durationS ?? 10;
    const timeoutS = o.timeoutS ?? 30;
    const random = seededRandom(o.seed ?? 1);
    return async (rate: number): Promise<StepMeasure> => {
        const rho = rate / capacity;
        const jitter = 1 + (o.noise ?? 0) * (2 * random() - 1);
        const backlogMs = rho > 1 ? (rho - 1) * durationS * 1000 : 0;
        const p99Ms = (serviceMs * (1 + 0.3 * Math.min(rho, 1) ** 8) + 0.99 * backlogMs) * jitter;
        const late = rho > 1 ? Math.max(0, ((rho - 1) * durationS - timeoutS) / ((rho - 1) * durationS)) : 0;
        return { rate, p50Ms: serviceMs * jitter + backlogMs / 2, p99Ms, errorRatio: late, requests: Math.round(rate * durationS) };
    };
}

/** A backend that sheds load instead of queueing (HAProxy maxqueue → 503): flat latency, errors above C. */
function sheddingModel(capacity: number) {
    return async (rate: number): Promise<StepMeasure> => ({
        rate,
        p50Ms: 5,
        p99Ms: 9,
        requests: Math.round(rate * 10),
        errorRatio: rate > capacity ? (rate - capacity) / rate : 0,
    });
}

const options = (startRate: number, extra: Partial<TippingOptions> = {}): TippingOptions => ({ ...DEFAULT_TIPPING, startRate, ...extra });

const within = (knee: number | undefined, capacity: number) => knee !== undefined && Math.abs(knee - capacity) / capacity <= 0.1;

describe("tipping-point search on a queueing backend of known capacity", () => {
    test("finds a 240/s knee from 20/s within ±10 % in ≤ 8 steps", async () => {
        const r = await searchTippingPoint(queueModel(240), options(20));
        assert.ok(r.converged, r.stopReason);
        assert.ok(within(r.knee, 240), `knee ${r.knee}`);
        assert.ok(r.steps.length <= 8, `${r.steps.length} steps`);
        assert.deepEqual(
            r.steps.map((s) => s.phase),
            ["baseline", "ramp", "ramp", "ramp", "ramp", "bisect", "bisect", "bisect"],
        );
        assert.ok(r.lastGood! < 240 && r.firstBad! > 240, `bracket (${r.lastGood}, ${r.firstBad}]`);
    });

    test("every capacity from 1.5× to 15.5× the start rate: within ±10 % in ≤ 8 steps", async () => {
        // (A knee just under 16× the start trips only above 320/s: one more octave, 9 steps.)
        const failures: string[] = [];
        for (let capacity = 30; capacity <= 310; capacity += 1) {
            const r = await searchTippingPoint(queueModel(capacity), options(20));
            if (!within(r.knee, capacity) || r.steps.length > 8) {
                failures.push(`capacity ${capacity}: knee ${r.knee?.toFixed(1)}, ${r.steps.length} steps (${r.stopReason})`);
            }
        }
        assert.deepEqual(failures, []);
    });

    test("±5 % measurement noise on latency still lands within ±10 %", async () => {
        const failures: string[] = [];
        for (let seed = 1; seed <= 50; seed++) {
            const capacity = 100 + seed * 4;
            const r = await searchTippingPoint(queueModel(capacity, { noise: 0.05, seed }), options(20));
            if (!within(r.knee, capacity) || r.steps.length > 8)
                failures.push(`seed ${seed} capacity ${capacity}: knee ${r.knee?.toFixed(1)} in ${r.steps.length}`);
        }
        assert.deepEqual(failures, []);
    });

    test("a backend that sheds load is caught by the error rule alone", async () => {
        const r = await searchTippingPoint(sheddingModel(1000), options(100));
        assert.ok(within(r.knee, 1000), `knee ${r.knee}`);
        assert.ok(r.steps.length <= 8);
        assert.ok(r.steps.filter((s) => !s.good).every((s) => /errors/.test(s.reason)));
    });

    test("the step budget caps the search and says so", async () => {
        const r = await searchTippingPoint(queueModel(5000), options(20));
        assert.equal(r.steps.length, 8);
        assert.equal(r.knee, undefined);
        assert.match(r.stopReason, /no bad step within 8 steps; the knee is above 2560/);
    });

    test("a start rate that already fails stops at once", async () => {
        const r = await searchTippingPoint(sheddingModel(10), options(100));
        assert.equal(r.steps.length, 1);
        assert.match(r.stopReason, /start rate 100\/s already fails .*start lower/);
    });

    test("max rate stops the ramp", async () => {
        const r = await searchTippingPoint(queueModel(1000), options(100, { maxRate: 300 }));
        assert.deepEqual(
            r.steps.map((s) => s.rate),
            [100, 200, 300],
        );
        assert.match(r.stopReason, /no knee up to the max rate 300/);
    });

    test("a looser tolerance saves a bisection and widens the bracket", async () => {
        const tight = await searchTippingPoint(queueModel(240), options(20));
        const loose = await searchTippingPoint(queueModel(240), options(20, { tolerance: 0.1 }));
        assert.deepEqual([tight.steps.length, loose.steps.length], [8, 7]);
        assert.ok(tight.uncertainty! <= 0.05 && loose.uncertainty! <= 0.1 && loose.uncertainty! > 0.05);
    });

    test("rates offered per client host in whole requests/s: still within ±10 % in ≤ 8 steps", async () => {
        const failures: string[] = [];
        for (const clients of [2, 3, 5]) {
            for (let capacity = 40; capacity <= 300; capacity += 13) {
                const seen: number[] = [];
                const model = queueModel(capacity);
                const r = await searchTippingPoint(
                    async (rate, at) => {
                        if (at.try === 1) seen.push(rate);
                        return model(rate);
                    },
                    options(20, { quantum: clients }),
                );
                if (!within(r.knee, capacity) || r.steps.length > 8)
                    failures.push(`${clients} clients, capacity ${capacity}: knee ${r.knee?.toFixed(1)} in ${r.steps.length}`);
                // Each step a new rate (its further tries are of the same one).
                if (seen.some((x) => x % clients !== 0) || new Set(seen).size !== seen.length) failures.push(`${clients} clients: rates ${seen.join(", ")}`);
            }
        }
        assert.deepEqual(failures, []);
    });

    test("a bracket with no offerable rate inside stops the search early", async () => {
        const r = await searchTippingPoint(queueModel(41), options(10, { quantum: 10, tolerance: 0.01 }));
        assert.deepEqual(
            r.steps.map((s) => s.rate),
            [10, 20, 40, 80, 60, 50],
        );
        assert.ok(r.converged);
    });

    test("a bigger factor reaches a far knee sooner", async () => {
        const r = await searchTippingPoint(queueModel(2000), options(20, { factor: 4, tolerance: 0.1 }));
        assert.ok(within(r.knee, 2000) && r.steps.length <= 8, `knee ${r.knee} in ${r.steps.length}`);
    });
});

describe("threshold rules and bookkeeping", () => {
    const m = (p99Ms: number, errorRatio: number): StepMeasure => ({ rate: 1, p50Ms: 1, p99Ms, errorRatio, requests: 1000 });

    test("defaults: bad above 2× the baseline p99 (when that is above the floor) or above 0.1 % errors", () => {
        const rules = DEFAULT_TIPPING;
        assert.equal(judgeStep(m(200, 0), 100, rules).good, true);
        assert.equal(judgeStep(m(200.1, 0), 100, rules).good, false);
        assert.match(judgeStep(m(200.1, 0), 100, rules).reason, /p99 200\.1 ms > 2× baseline \(200\.0 ms\)/);
        assert.equal(judgeStep(m(10, 0.001), 10, rules).good, true);
        assert.match(judgeStep(m(10, 0.0011), 10, rules).reason, /errors 0\.11 % > 0\.10 %/);
        assert.match(judgeStep({ ...m(1, 0), requests: 0 }, 10, rules).reason, /no requests completed/);
    });

    test("a few ms of tail on a low baseline is not a knee: p99 must also pass the floor", () => {
        const rules = { ...DEFAULT_TIPPING, p99FloorMs: 100 };
        // Measured on this machine: baselines of 13-21 ms, steps at 32-36 ms with no host saturated.
        for (const [baseline, p99] of [
            [14, 31.8],
            [19, 35.9],
            [13.5, 99.9],
        ])
            assert.equal(judgeStep(m(p99, 0), baseline, rules).good, true, `${p99} vs ${baseline}`);
        assert.match(judgeStep(m(100.1, 0), 14, rules).reason, /^p99 100\.1 ms > the 100 ms floor$/);
        assert.deepEqual(p99Limit(14, rules), { ms: 100, byFloor: true });
        assert.deepEqual(p99Limit(80, rules), { ms: 160, byFloor: false });
        // Errors still make a step bad below the floor.
        assert.equal(judgeStep(m(20, 0.01), 14, rules).good, false);
        // No floor (0, or a search recorded before it existed): the relative rule alone.
        for (const none of [
            { ...rules, p99FloorMs: 0 },
            { p99Factor: 2, maxErrorRatio: 0.001 },
        ]) {
            assert.equal(judgeStep(m(31.8, 0), 14, none).good, false);
        }
        assert.equal(describeP99Rule(rules), "p99 > max(2× baseline, 100 ms)");
        assert.equal(describeP99Rule({ p99Factor: 3 }), "p99 > 3× baseline");
        assert.deepEqual(validateTippingOptions(options(10, { p99FloorMs: -1 })), ["p99 floor must be ≥ 0 ms, got -1"]);
    });

    test("a search on a noisy low-latency lab does not stop at tail noise; it finds the queue", async () => {
        // A 14 ms baseline, then 14-36 ms of tail at any rate below 400/s (as measured here), a queue above it (4 s steps).
        const random = seededRandom(7);
        const lab = async (rate: number): Promise<StepMeasure> => {
            const p99Ms = (rate <= 50 ? 14 : 14 + 22 * random()) + (rate > 400 ? (rate / 400 - 1) * 4000 : 0);
            return { rate, p50Ms: 5, p99Ms, errorRatio: 0, requests: rate * 4 };
        };
        // One try a step: the floor alone (a confirming try would also see through some of this noise).
        const withFloor = await searchTippingPoint(lab, options(50, { confirmTries: 1, maxTries: 1 }));
        assert.ok(within(withFloor.knee, 400), `knee ${withFloor.knee}: ${withFloor.stopReason}`);
        const withoutFloor = await searchTippingPoint(lab, options(50, { p99FloorMs: 0, confirmTries: 1, maxTries: 1 }));
        assert.ok(!within(withoutFloor.knee, 400), `without a floor the tail noise stops it early: ${withoutFloor.knee}`);
    });

    test("the first step is the baseline; the bracket is geometric", () => {
        assert.deepEqual(nextStep([], options(50)), { rate: 50, phase: "baseline" });
        assert.ok(Math.abs(bracketUncertainty(100, 200) - 0.4142) < 1e-3);
        assert.ok(bracketUncertainty(160, 160 * 2 ** 0.25) < 0.1);
    });

    test("options are checked before anything is measured", async () => {
        assert.deepEqual(validateTippingOptions(options(20)), []);
        assert.equal(validateTippingOptions(options(0, { factor: 1, tolerance: 2, maxSteps: 1, p99Factor: 0.5, maxErrorRatio: -1 })).length, 6);
        await assert.rejects(
            searchTippingPoint(
                async () => {
                    throw new Error("must not run");
                },
                options(20, { factor: 1 }),
            ),
            /factor must be > 1/,
        );
    });

    test("the evidence table lists every step and the knee", async () => {
        const r = await searchTippingPoint(queueModel(240), options(20));
        const table = formatTippingTable(r);
        assert.equal(table.split("\n").filter((l) => /^\d+ /.test(l)).length, r.steps.length);
        assert.match(table, /^step\s+phase\s+rate\/s\s+tries\s+p50 ms\s+p99 ms\s+p99\/base\s+errors\s+verdict\s+why/);
        assert.match(table, /knee ≈ 2\d\d\/s \(±\d\.\d %: last good 2\d\d\/s, first bad 2\d\d\/s\) after 8 steps \(11 tries\)/);
        // One try a step: no tries column, as before tries existed.
        const once = formatTippingTable(await searchTippingPoint(queueModel(240), options(20, { confirmTries: 1, maxTries: 1 })));
        assert.match(once, /^step\s+phase\s+rate\/s\s+p50 ms/);
        assert.match(once, /after 8 steps — /);
    });
});
