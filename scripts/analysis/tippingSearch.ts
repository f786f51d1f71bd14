// The tipping-point search (the seed's "graphique tout-puissant", done by hand there): raise
// the load step by step until latency or errors break a threshold, then bisect between the
// last good and the first bad step until the knee is known within a tolerance. Pure: the
// measurement is injected, so the same code runs on a synthetic model and on a lab.
import type { Phase, StepMeasure, StepTry, StepVerdict, TippingArgs, TippingOptions, TippingResult } from "../../components/records/tippingRecord.ts";
import { decideStep, judgeTry, stepDone } from "./tippingJudge.ts";
import { TIPPING_STEP_SETTINGS } from "../../components/render/attack.ts";
import { fmtRate, triesCount } from "./tippingTable.ts";

// The search's types are those of its record (tipping.json).
export type {
    Attribution,
    ClientSend,
    HostCpu,
    Phase,
    StepMeasure,
    StepTry,
    StepVerdict,
    TippingOptions,
    TippingResult,
} from "../../components/records/tippingRecord.ts";

/**
 * A step's p99 must pass this many ms (as well as p99Factor × the baseline) to make it bad. On a
 * shared 2-core machine the tail of an unloaded lab wanders by tens of ms from step to step
 * (baselines of 13-21 ms, steps at 32-36 ms with every host below 90 % busy), which doubled a
 * low baseline without any queue. A real overload queues for the whole step: at 10 % over
 * capacity a 4 s step's last requests wait ~400 ms, so 100 ms still marks it, within the first
 * second of a queue, and it is well above the 20 ms period a local host's CPU quota is enforced
 * over (a host that used its quota waits for the next period).
 */
export const DEFAULT_P99_FLOOR_MS = 100;

/**
 * Defaults: doubling, then three geometric bisections of the (last good, first bad] octave put
 * the knee within ±4.4 % of where the rules trip; the threshold itself sits a little above the
 * true capacity (a queue needs some overload before p99 doubles), so the answer stays within
 * ±10 % of capacity. From a start rate 1/16 of the knee or more, that is at most 8 steps.
 *
 * Steps are rates; tries are measurements. A bad try is believed only when a second try of the
 * same rate is bad too (confirmTries 2: one good try of two makes the step good), and a machine
 * stall (machineStall) is retried without counting, up to 4 tries a step (room for two stalls
 * around a confirmation). So ≤ 8 steps still holds, in 8 + (bad steps) + (stalls) tries at most,
 * never more than 4 × 8: on a steady lab one extra try per bad step (3-4 of 8 in a search).
 */
export const DEFAULT_TIPPING: Omit<TippingOptions, "startRate"> = {
    factor: 2,
    tolerance: 0.05,
    maxSteps: 8,
    p99Factor: 2,
    p99FloorMs: DEFAULT_P99_FLOOR_MS,
    maxErrorRatio: 0.001,
    confirmTries: 2,
    maxTries: 4,
};

/** `lab tipping`'s defaults: the search's, its frontend, and the load of each step (components/render/attack.ts). */
export const TIPPING_DEFAULTS = {
    ...DEFAULT_TIPPING,
    frontend: "plain",
    ...TIPPING_STEP_SETTINGS,
} satisfies Omit<TippingArgs, "stack" | "startRate">;

export function validateTippingOptions(o: TippingOptions): string[] {
    const problems: string[] = [];
    if (!(o.startRate > 0)) problems.push(`start rate must be > 0, got ${o.startRate}`);
    if (!(o.factor > 1)) problems.push(`factor must be > 1, got ${o.factor}`);
    if (!(o.tolerance > 0 && o.tolerance < 1)) problems.push(`tolerance must be in (0, 1), got ${o.tolerance}`);
    if (!(Number.isInteger(o.maxSteps) && o.maxSteps >= 2)) problems.push(`max steps must be a whole number ≥ 2, got ${o.maxSteps}`);
    if (!(o.p99Factor > 1)) problems.push(`p99 factor must be > 1, got ${o.p99Factor}`);
    if (o.p99FloorMs !== undefined && !(o.p99FloorMs >= 0 && Number.isFinite(o.p99FloorMs))) problems.push(`p99 floor must be ≥ 0 ms, got ${o.p99FloorMs}`);
    if (!(o.maxErrorRatio >= 0 && o.maxErrorRatio < 1)) problems.push(`error threshold must be in [0, 1), got ${o.maxErrorRatio}`);
    if (o.maxRate !== undefined && !(o.maxRate >= o.startRate)) problems.push(`max rate ${o.maxRate} is below the start rate ${o.startRate}`);
    if (o.quantum !== undefined && !(o.quantum > 0 && o.quantum <= o.startRate)) problems.push(`rate quantum must be in (0, start rate], got ${o.quantum}`);
    if (o.confirmTries !== undefined && !(Number.isInteger(o.confirmTries) && o.confirmTries >= 1))
        problems.push(`confirm tries must be a whole number ≥ 1, got ${o.confirmTries}`);
    if (o.maxTries !== undefined && !(Number.isInteger(o.maxTries) && o.maxTries >= (o.confirmTries ?? 1))) {
        problems.push(`max tries must be a whole number ≥ the confirm tries (${o.confirmTries ?? 1}), got ${o.maxTries}`);
    }
    return problems;
}

/** The p99 above which a step is bad: p99Factor × the baseline, or the floor when that is higher. */
/** Relative half-width of the geometric bracket (lo, hi]: how far its middle can be from the knee. */
export function bracketUncertainty(lo: number, hi: number): number {
    return Math.sqrt(hi / lo) - 1;
}

/**
 * The search as a state machine: given the steps so far, the next rate to measure (with its
 * phase), or undefined when the search is over. Ramp ×factor from the start rate while steps
 * are good; then bisect geometrically between the last good and the first bad rate.
 */
/** A rate as it can be offered: a whole multiple of the quantum (at least one). */
function quantize(rate: number, o: Pick<TippingOptions, "quantum">): number {
    return o.quantum ? Math.max(o.quantum, Math.round(rate / o.quantum) * o.quantum) : rate;
}

/** True when no rate worth measuring is left between lo and hi (tolerance reached, or nothing offerable between them). */
function narrowEnough(lo: number, hi: number, o: TippingOptions): boolean {
    const mid = quantize(Math.sqrt(lo * hi), o);
    return bracketUncertainty(lo, hi) <= o.tolerance || hi - lo <= 1 || mid <= lo || mid >= hi;
}

export function nextStep(steps: StepVerdict[], o: TippingOptions): { rate: number; phase: Phase } | undefined {
    if (steps.length === 0) return { rate: quantize(o.startRate, o), phase: "baseline" };
    if (steps.length >= o.maxSteps) return undefined;
    if (!steps[0].good) return undefined;
    const { lo, hi } = bracket(steps);
    if (hi === undefined) {
        if (o.maxRate !== undefined && lo >= o.maxRate) return undefined;
        const rate = o.maxRate === undefined ? lo * o.factor : Math.min(lo * o.factor, o.maxRate);
        return { rate: Math.max(quantize(rate, o), lo + (o.quantum ?? 0)), phase: "ramp" };
    }
    if (narrowEnough(lo, hi, o)) return undefined;
    return { rate: quantize(Math.sqrt(lo * hi), o), phase: "bisect" };
}

/** Highest good rate below the lowest bad one (bad steps above a good one cap the bracket). */
function bracket(steps: StepVerdict[]): { lo: number; hi?: number } {
    const bad = steps.filter((s) => !s.good).map((s) => s.rate);
    const hi = bad.length ? Math.min(...bad) : undefined;
    const goodBelow = steps.filter((s) => s.good && (hi === undefined || s.rate < hi)).map((s) => s.rate);
    return { lo: Math.max(...goodBelow), hi };
}

export function summarise(steps: StepVerdict[], o: TippingOptions): TippingResult {
    if (steps.length === 0) return { converged: false, stopReason: "no step was measured", steps };
    const counts = triesCount(steps);
    const r = summariseSteps(steps, o);
    const first = steps.find((s) => s.rate === r.firstBad && !s.good);
    return {
        ...r,
        ...counts,
        ...(first?.unconfirmed
            ? { stopReason: `${r.stopReason}; the first bad step (${fmtRate(first.rate)}) is unconfirmed: its tries ran out on machine stalls` }
            : {}),
    };
}

function summariseSteps(steps: StepVerdict[], o: TippingOptions): TippingResult {
    const baselineP99Ms = steps[0].p99Ms;
    if (!steps[0].good) {
        return {
            converged: false,
            baselineP99Ms,
            firstBad: steps[0].rate,
            steps,
            stopReason: `the start rate ${fmtRate(steps[0].rate)} already fails (${steps[0].reason}); start lower`,
        };
    }
    const { lo, hi } = bracket(steps);
    if (hi === undefined) {
        return {
            converged: false,
            baselineP99Ms,
            lastGood: lo,
            steps,
            stopReason:
                o.maxRate !== undefined && lo >= o.maxRate
                    ? `no knee up to the max rate ${fmtRate(o.maxRate)}`
                    : `no bad step within ${o.maxSteps} steps; the knee is above ${fmtRate(lo)}`,
        };
    }
    const uncertainty = bracketUncertainty(lo, hi);
    const converged = narrowEnough(lo, hi, o);
    return {
        knee: Math.sqrt(lo * hi),
        uncertainty,
        lastGood: lo,
        firstBad: hi,
        baselineP99Ms,
        converged,
        steps,
        stopReason: !converged
            ? `step budget (${o.maxSteps}) spent before the bracket narrowed to ±${(o.tolerance * 100).toFixed(0)} %`
            : uncertainty <= o.tolerance
              ? `bracket (${fmtRate(lo)}, ${fmtRate(hi)}] within ±${(o.tolerance * 100).toFixed(0)} %`
              : // Rates move in whole quanta: the bracket can stop wider than the tolerance; say how wide.
                `bracket (${fmtRate(lo)}, ${fmtRate(hi)}] has no offerable rate inside (±${(uncertainty * 100).toFixed(1)} %)`,
    };
}

export type Measure = (rate: number, step: { index: number; phase: Phase; try: number }) => Promise<StepMeasure>;

/**
 * Runs the search against `measure` (a lab attack, or a model in tests). Each step is tried until
 * stepDone; `onTry` sees every try, `onStep` every step's verdict.
 */
export async function searchTippingPoint(
    measure: Measure,
    o: TippingOptions,
    onStep?: (s: StepVerdict) => void,
    onTry?: (t: StepTry, step: { index: number; phase: Phase }) => void,
): Promise<TippingResult> {
    const problems = validateTippingOptions(o);
    if (problems.length) throw new Error(`invalid tipping search: ${problems.join("; ")}`);
    const steps: StepVerdict[] = [];
    for (let next = nextStep(steps, o); next; next = nextStep(steps, o)) {
        const at = { index: steps.length + 1, phase: next.phase };
        const tries: StepTry[] = [];
        do {
            const m = await measure(next.rate, { ...at, try: tries.length + 1 });
            const t = judgeTry(m, tries.length + 1, steps.length === 0 ? undefined : steps[0].p99Ms, o);
            tries.push(t);
            onTry?.(t, at);
        } while (!stepDone(tries, o));
        const verdict = decideStep(tries, at.index, at.phase, o);
        steps.push(verdict);
        onStep?.(verdict);
    }
    return summarise(steps, o);
}
