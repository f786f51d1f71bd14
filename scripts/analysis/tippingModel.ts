// A model lab for the tipping search: a FIFO queue in front of a known capacity, with the noise a
// shared machine adds, so the search's rules can be scored where the answer is known (unit tests,
// bench/tippingBias.ts). Pure: a seeded generator, no clock, no I/O.
import { searchTippingPoint, type StepMeasure, type TippingOptions } from "./tippingSearch.ts";

/** A seeded generator in [0, 1) (mulberry32): the same seed, the same noise. */
export function seeded(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

export interface QueueNoise {
    /** Each try's p99 multiplied by 1 ± this (uniform): the tail's wander from try to try. */
    p99?: number;
    /** Each try's capacity multiplied by 1 ± this (uniform): a shared machine gives the lab more or less CPU from try to try. */
    capacity?: number;
}

/**
 * A FIFO queue in front of `capacity` requests/s, served in `serviceMs`, for 10 s steps: p99 flat
 * (up to +30 % as it fills) below the capacity, a backlog growing for the whole step above it;
 * requests waiting past 30 s fail. Each try draws its own noise, from the seed, its rate and its
 * try number only: two searches with the same seed see the same noise at the same rate and try,
 * however many tries each made before.
 */
export function queueModel(capacity: number, serviceMs: number, noise: QueueNoise = {}, seed = 1) {
    return async (rate: number, at?: { try: number }): Promise<StepMeasure> => {
        const random = seeded(Math.imul(seed, 0x9e3779b1) ^ Math.imul(Math.round(rate * 100), 0x85ebca6b) ^ Math.imul(at?.try ?? 1, 0xc2b2ae35));
        random();
        const spread = (x: number | undefined) => 1 + (x ?? 0) * (2 * random() - 1);
        const c = capacity * spread(noise.capacity);
        const jitter = spread(noise.p99);
        const rho = rate / c;
        const backlogMs = rho > 1 ? (rho - 1) * 10_000 : 0;
        const p99Ms = (serviceMs * (1 + 0.3 * Math.min(rho, 1) ** 8) + 0.99 * backlogMs) * jitter;
        const late = rho > 1 ? Math.max(0, ((rho - 1) * 10 - 30) / ((rho - 1) * 10)) : 0;
        return { rate, p50Ms: serviceMs * jitter + backlogMs / 2, p99Ms, errorRatio: late, requests: Math.round(rate * 10) };
    };
}

/** One search on the model: the knee's signed error against the capacity (%), steps and tries. */
export interface ModelSearch {
    capacity: number;
    knee: number | undefined;
    errorPct: number | undefined;
    steps: number;
    tries: number;
}

/** Searches `capacities` (one seed each) on the queue model with `o`; `serviceMs` 200 as bench:tipping's backends. */
export async function searchModel(capacities: number[], o: TippingOptions, noise: QueueNoise, seed0 = 1): Promise<ModelSearch[]> {
    const out: ModelSearch[] = [];
    for (const [i, capacity] of capacities.entries()) {
        const r = await searchTippingPoint(queueModel(capacity, 200, noise, seed0 + i), o);
        out.push({
            capacity,
            knee: r.knee,
            errorPct: r.knee === undefined ? undefined : ((r.knee - capacity) / capacity) * 100,
            steps: r.steps.length,
            tries: r.tries ?? r.steps.length,
        });
    }
    return out;
}

/** Mean signed error, mean and worst absolute error (%), and knees not found, of a set of searches. */
export function errorSummary(runs: ModelSearch[]): { meanPct: number; meanAbsPct: number; worstPct: number; missing: number; meanTries: number } {
    const found = runs.filter((r) => r.errorPct !== undefined).map((r) => r.errorPct!);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : NaN);
    const worst = found.reduce((w, x) => (Math.abs(x) > Math.abs(w) ? x : w), 0);
    return {
        meanPct: mean(found),
        meanAbsPct: mean(found.map(Math.abs)),
        worstPct: worst,
        missing: runs.length - found.length,
        meanTries: mean(runs.map((r) => r.tries)),
    };
}

/** `n` capacities spread evenly on a log scale over [lo, hi], each jittered by its seed: no grid shared with the search's. */
export function seededCapacities(n: number, lo: number, hi: number, seed = 7): number[] {
    const random = seeded(seed);
    return Array.from({ length: n }, () => Math.round(lo * (hi / lo) ** random() * 10) / 10);
}
