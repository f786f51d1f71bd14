// The tipping-point search (the seed's "graphique tout-puissant", done by hand there): raise
// the load step by step until latency or errors break a threshold, then bisect between the
// last good and the first bad step until the knee is known within a tolerance. Pure: the
// measurement is injected, so the same code runs on a synthetic model and on a lab.
import { MIN_CPU_QUOTA } from "../../components/platform/local/cgroups.ts";
import type {
    Attribution,
    ClientSend,
    HostCpu,
    Phase,
    StepMeasure,
    StepTry,
    StepVerdict,
    TippingArgs,
    TippingOptions,
    TippingResult,
} from "../../components/records/tippingRecord.ts";

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

/** `lab tipping`'s defaults: the search's, plus the load of each step. */
export const TIPPING_DEFAULTS: Omit<TippingArgs, "stack" | "startRate"> = {
    ...DEFAULT_TIPPING,
    durationS: 10,
    frontend: "plain",
    sleepMs: 0,
    times: 0,
    timeoutS: 30,
};

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
export function p99Limit(baselineP99Ms: number, o: Pick<TippingOptions, "p99Factor" | "p99FloorMs">): { ms: number; byFloor: boolean } {
    const relative = o.p99Factor * baselineP99Ms;
    const floor = o.p99FloorMs ?? 0;
    return relative >= floor ? { ms: relative, byFloor: false } : { ms: floor, byFloor: true };
}

/** The rule as words: "p99 > max(2× baseline, 100 ms)". */
export function describeP99Rule(o: Pick<TippingOptions, "p99Factor" | "p99FloorMs">): string {
    return o.p99FloorMs ? `p99 > max(${o.p99Factor}× baseline, ${o.p99FloorMs} ms)` : `p99 > ${o.p99Factor}× baseline`;
}

/** Applies the threshold rules to one step; the baseline p99 comes from the first step. */
export function judgeStep(
    m: StepMeasure,
    baselineP99Ms: number,
    o: Pick<TippingOptions, "p99Factor" | "p99FloorMs" | "maxErrorRatio">,
): { good: boolean; reason: string } {
    const reasons: string[] = [];
    if (m.requests === 0) reasons.push("no requests completed");
    if (m.errorRatio > o.maxErrorRatio) reasons.push(`errors ${pct(m.errorRatio)} > ${pct(o.maxErrorRatio)}`);
    const limit = p99Limit(baselineP99Ms, o);
    if (m.p99Ms > limit.ms) {
        reasons.push(`p99 ${m.p99Ms.toFixed(1)} ms > ${limit.byFloor ? `the ${limit.ms} ms floor` : `${o.p99Factor}× baseline (${limit.ms.toFixed(1)} ms)`}`);
    }
    if (reasons.length > 0) return { good: false, reason: reasons.join("; ") };
    return { good: true, reason: `p99 ${(m.p99Ms / baselineP99Ms).toFixed(2)}× baseline, errors ${pct(m.errorRatio)}` };
}

function pct(ratio: number): string {
    return `${(ratio * 100).toFixed(ratio < 0.01 ? 2 : 1)} %`;
}

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

/** Measurements in all and machine stalls among them (a step without tries recorded was measured once). */
export function triesCount(steps: StepVerdict[]): { tries: number; stalls: number } {
    return {
        tries: steps.reduce((n, s) => n + (s.tries?.length ?? 1), 0),
        stalls: steps.reduce((n, s) => n + (s.tries?.filter((t) => t.stall).length ?? 0), 0),
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

/** Tries a step needs bad (stalls not counted) to be bad, and its most tries: 1 and 1 for options recorded before tries existed. */
export function triesOf(o: Pick<TippingOptions, "confirmTries" | "maxTries">): { confirm: number; max: number } {
    const confirm = o.confirmTries ?? 1;
    return { confirm, max: Math.max(confirm, o.maxTries ?? confirm) };
}

/**
 * Why a bad try is the machine's, not the lab's: the search was set up for the LB's knee (its
 * host has a CPU quota), yet at this try the LB used less than 90 % of its quota, on average and in
 * every reading interval of about 1 s (at its real knee it is at its quota: HAProxy runs out of CPU
 * time before anything else; a TLS step's handshakes hit the quota in its first second and queue
 * there, which the average over the step hides) while no other host was
 * CPU-saturated or behind its plan to send, and every host's CPU is known. Something outside the
 * lab held it back: another user of this shared machine, a stall of its scheduler. undefined when
 * it is not such a stall (or its evidence is missing: no quota, or a host's CPU unknown).
 */
export function machineStall(m: Pick<StepMeasure, "cpu" | "send">): string | undefined {
    const cpu = m.cpu ?? [];
    const lbs = cpu.filter((h) => h.role === "haproxy" && h.quotaCores !== undefined);
    if (lbs.length === 0) return undefined;
    if (cpu.some((h) => h.cores === null && h.busyCores === undefined)) return undefined;
    if (lbs.some((h) => h.cores === null || h.cores >= SATURATION * h.quotaCores! || (h.peakCores ?? 0) >= SATURATION * h.quotaCores!)) return undefined;
    if (limitedHosts(m).some((h) => h.role !== "haproxy")) return undefined;
    return `${lbs.map((h) => `${h.host} used ${formatCores(h.cores)} of its ${h.quotaCores}-core quota${h.peakCores !== undefined ? ` (${formatCores(h.peakCores)} at most)` : ""}`).join(", ")}, no other host saturated or behind its plan`;
}

/** What judgeTry appends to a stalled try's reason, before the stall's evidence. */
const STALL_NOTE = "; machine stall: ";

/**
 * One try judged: a later step against the baseline p99; the baseline step good when requests
 * completed with few errors. A bad try that machineStall explains is a stall: never good, never
 * counted as bad. A baseline whose p99 would lift the limit above the floor (p99Factor × its p99 >
 * the floor) is checked for a stall too: it would raise every later step's limit (a 77 ms baseline
 * on a lab of 4-6 ms made the limit 154 ms).
 */
export function judgeTry(m: StepMeasure, tryNo: number, baselineP99Ms: number | undefined, o: TippingOptions): StepTry {
    let verdict: { good: boolean; reason: string };
    let suspect: boolean;
    if (baselineP99Ms === undefined) {
        const ok = m.requests > 0 && m.errorRatio <= o.maxErrorRatio;
        // Against its own p99 only the error and no-request rules can trip.
        verdict = ok ? { good: true, reason: `baseline p99 ${m.p99Ms.toFixed(1)} ms, errors ${pct(m.errorRatio)}` } : judgeStep(m, m.p99Ms, o);
        suspect = !ok || (o.p99FloorMs !== undefined && o.p99FloorMs > 0 && o.p99Factor * m.p99Ms > o.p99FloorMs);
    } else {
        verdict = judgeStep(m, baselineP99Ms, o);
        suspect = !verdict.good;
    }
    const stall = suspect ? machineStall(m) : undefined;
    return {
        ...m,
        try: tryNo,
        good: verdict.good && !stall,
        reason: stall ? `${verdict.reason}${STALL_NOTE}${stall}` : verdict.reason,
        ...(stall ? { stall } : {}),
    };
}

/** Tries of one step so far: done when one is good, when `confirm` are bad (stalls not counted), or after `max`. */
export function stepDone(tries: StepTry[], o: Pick<TippingOptions, "confirmTries" | "maxTries">): boolean {
    const { confirm, max } = triesOf(o);
    return tries.some((t) => t.good) || tries.filter((t) => !t.good && !t.stall).length >= confirm || tries.length >= max;
}

/**
 * A step from its tries: good with its good try; else bad with its least bad counted try (fewest
 * errors, then lowest p99), unconfirmed when fewer than `confirm` were bad (the rest were stalls).
 * A baseline whose tries were all stalls of the p99 alone keeps the lowest p99 and stays good.
 */
export function decideStep(tries: StepTry[], step: number, phase: Phase, o: Pick<TippingOptions, "confirmTries" | "maxTries" | "maxErrorRatio">): StepVerdict {
    if (tries.length === 0) throw new Error(`step ${step}: no try`);
    const { confirm } = triesOf(o);
    const measureOf = ({ try: _t, good: _g, reason: _r, stall: _s, ...m }: StepTry): StepMeasure => m;
    const stalls = tries.filter((t) => t.stall).length;
    const many = tries.length > 1;
    const good = tries.find((t) => t.good);
    if (good) {
        return {
            ...measureOf(good),
            step,
            phase,
            good: true,
            tries,
            reason: good.reason + (many ? ` (try ${good.try} of ${tries.length}; ${describeEarlier(tries.filter((t) => t !== good))})` : ""),
        };
    }
    const byBetter = (a: StepTry, b: StepTry) => a.errorRatio - b.errorRatio || a.p99Ms - b.p99Ms;
    if (phase === "baseline" && stalls === tries.length) {
        const usable = tries.filter((t) => t.requests > 0 && t.errorRatio <= o.maxErrorRatio).sort(byBetter);
        if (usable.length) {
            return {
                ...measureOf(usable[0]),
                step,
                phase,
                good: true,
                tries,
                reason: `baseline p99 ${usable[0].p99Ms.toFixed(1)} ms, errors ${pct(usable[0].errorRatio)} (the lowest of ${tries.length} tries, all machine stalls)`,
            };
        }
    }
    const counted = tries.filter((t) => !t.stall);
    const pick = [...(counted.length ? counted : tries)].sort(byBetter)[0];
    const unconfirmed = counted.length < confirm;
    const note =
        many || unconfirmed
            ? ` (${counted.length} of ${tries.length} tries bad${stalls ? `, ${stalls} machine stall${stalls > 1 ? "s" : ""}` : ""}${unconfirmed && confirm > 1 ? `; unconfirmed: ${confirm} bad tries needed` : ""})`
            : "";
    // The deciding try's own stall note stays in its try, not in the step's reason.
    const reason = judgedReason(pick) + note;
    return { ...measureOf(pick), step, phase, good: false, tries, reason, ...(unconfirmed && confirm > 1 ? { unconfirmed: true } : {}) };
}

function describeEarlier(tries: StepTry[]): string {
    return tries.map((t) => `try ${t.try} ${t.stall ? "a machine stall" : "bad"}: ${judgedReason(t)}`).join("; ");
}

/** A try's reason without the machine-stall note judgeTry appends (that note stays in the try). */
function judgedReason(t: StepTry): string {
    return t.stall ? t.reason.slice(0, t.reason.indexOf(STALL_NOTE)) : t.reason;
}

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

export function fmtRate(r: number): string {
    return `${r >= 100 ? r.toFixed(0) : r.toFixed(1)}/s`;
}

/** A step's clients as the evidence table shows them: p99 lag to send (ms), the share sent when short, ! when behind its plan. */
export function formatSend(send: ClientSend[] | undefined): string {
    if (!send?.length) return "-";
    return send
        .map(
            (c) =>
                `${c.host} ${c.lagP99Ms.toFixed(1)}` +
                (c.planned > 0 && c.sent < c.planned ? `/${((c.sent / c.planned) * 100).toFixed(0)}%` : "") +
                (c.behind ? "!" : ""),
        )
        .join(" ");
}

/** The evidence table printed with the knee. */
export function formatTippingTable(r: TippingResult): string {
    // With CPU measured: each host's cores used (an asterisk when saturated), before the reason;
    // with the clients' sending recorded: each client's p99 lag to send (! when behind its plan).
    const withCpu = r.steps.some((s) => s.cpu?.length);
    const withSend = r.steps.some((s) => s.send?.length);
    const withTries = r.steps.some((s) => (s.tries?.length ?? 1) > 1);
    const header = [
        "step",
        "phase",
        "rate/s",
        ...(withTries ? ["tries"] : []),
        "p50 ms",
        "p99 ms",
        "p99/base",
        "errors",
        "verdict",
        ...(withCpu ? ["cpu (cores, * saturated)"] : []),
        ...(withSend ? ["send lag p99 ms (! behind plan)"] : []),
        "why",
    ];
    const rows = r.steps.map((s) => [
        String(s.step),
        s.phase,
        s.rate.toFixed(1),
        ...(withTries ? [formatTries(s)] : []),
        s.p50Ms.toFixed(1),
        s.p99Ms.toFixed(1),
        r.baselineP99Ms ? (s.p99Ms / r.baselineP99Ms).toFixed(2) : "-",
        pct(s.errorRatio),
        s.good ? "good" : s.unconfirmed ? "BAD?" : "BAD",
        ...(withCpu ? [s.cpu?.length ? s.cpu.map((h) => `${h.host} ${formatCores(h.cores)}${h.saturated ? "*" : ""}`).join(" ") : "-"] : []),
        ...(withSend ? [formatSend(s.send)] : []),
        s.reason,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
    const { tries, stalls } = triesCount(r.steps);
    const measured =
        `${r.steps.length} steps` + (tries > r.steps.length ? ` (${tries} tries${stalls ? `, ${stalls} machine stall${stalls > 1 ? "s" : ""}` : ""})` : "");
    const knee =
        r.knee === undefined
            ? `no knee: ${r.stopReason}`
            : `knee ≈ ${fmtRate(r.knee)} (±${((r.uncertainty ?? 0) * 100).toFixed(1)} %: last good ${fmtRate(r.lastGood!)}, first bad ${fmtRate(r.firstBad!)}) after ${measured} — ${r.stopReason}`;
    const bound = r.attribution
        ? [
              `limited by: ${r.attribution.bound} — ${r.attribution.note}` +
                  (r.attribution.saturatedFirst ? `; ${describeFirst(r.attribution.saturatedFirst)}` : ""),
          ]
        : [];
    return [line(header), ...rows.map(line), "", knee, ...bound].join("\n");
}

/** A step's tries as the table shows them: "1", "2", "3 (1 stall)". */
export function formatTries(s: Pick<StepVerdict, "tries">): string {
    const n = s.tries?.length ?? 1;
    const stalls = s.tries?.filter((t) => t.stall).length ?? 0;
    return `${n}${stalls ? ` (${stalls} stall${stalls > 1 ? "s" : ""})` : ""}`;
}

/** Every try of a step, as the tipping page lists them: "1: p99 300.0 ms, 0.00 % errors, stall; 2: p99 12.0 ms, 0.00 % errors, good". */
export function describeTries(s: Pick<StepVerdict, "tries" | "p99Ms" | "errorRatio" | "good">): string {
    const tries = s.tries?.length ? s.tries : [{ try: 1, p99Ms: s.p99Ms, errorRatio: s.errorRatio, good: s.good, stall: undefined }];
    return tries
        .map((t) => `${t.try}: p99 ${t.p99Ms.toFixed(1)} ms, ${pct(t.errorRatio)} errors, ${t.stall ? "machine stall (not counted)" : t.good ? "good" : "bad"}`)
        .join("; ");
}

/** "first saturated: client-0 at 400/s (step 3: why)". */
export function describeFirst(f: NonNullable<Attribution["saturatedFirst"]>): string {
    return `first saturated: ${f.host} at ${fmtRate(f.rate)} (step ${f.step}${f.why ? `: ${f.why}` : ""})`;
}

/**
 * A synthetic backend of known capacity for checking the search (bench:tipping): pong servers
 * each serving at most maxConcurrent requests at once for a fixed serviceTimeMs (extra ones
 * wait in its FIFO queue), so capacity = servers × maxConcurrent × 1000 / serviceTimeMs. From a
 * wanted capacity: about serviceMs per request (so a step of a few seconds sees many requests
 * and a knee is a queue, not a CPU limit), the slots that takes spread over up to maxServers
 * servers (an even count on two backend hosts, or one server for the smallest), whole numbers.
 */
export function syntheticBackend(capacity: number, o: { serviceMs?: number; maxServers?: number } = {}) {
    if (!(capacity > 0 && Number.isFinite(capacity))) throw new Error(`capacity must be a positive number, got ${capacity}`);
    const serviceMs = o.serviceMs ?? 200;
    const maxServers = Math.max(2, 2 * Math.floor((o.maxServers ?? 8) / 2));
    const slots = (capacity * serviceMs) / 1000;
    const servers = slots < 2 ? 1 : Math.min(maxServers, 2 * Math.floor(slots / 2));
    const maxConcurrent = Math.max(1, Math.round(slots / servers));
    const serviceTimeMs = Math.max(1, Math.round((servers * maxConcurrent * 1000) / capacity));
    return {
        backends: servers === 1 ? 1 : 2,
        serversPerHost: servers === 1 ? 1 : servers / 2,
        servers,
        maxConcurrent,
        serviceTimeMs,
        /** What these whole numbers give, close to the wanted capacity (service times are whole ms). */
        capacity: (servers * maxConcurrent * 1000) / serviceTimeMs,
    };
}

/**
 * bench:tipping --capacity's search: from a fixed rate, never from the capacity it checks (a start
 * derived from the answer lines the doubling grid up with it, the same way for every capacity),
 * with the steps to reach it: doubling from 10/s, 13 steps reach a first bad step up to 10 × 2^9 =
 * 5,120/s and leave 3 bisections (±4.4 %). The smallest checkable capacity (2 clients) is 10/s.
 */
export const CAPACITY_SEARCH = { startRate: 10, maxSteps: 13 } as const;

/** Highest knee a search from `startRate` can bracket to ±5 % within `maxSteps` steps (3 of them bisections). */
export function reachableKnee(o: { startRate: number; maxSteps: number; factor?: number }): number {
    return o.startRate * (o.factor ?? 2) ** (o.maxSteps - 4);
}

/** Smallest capacity a search in steps of `quantum` requests/s can pin within ±10 % (a bracket needs room for a rate inside it). */
export function minCheckableCapacity(quantum: number): number {
    return 5 * quantum;
}

/**
 * The LB's own knee (bench:tipping --lb-cpus N): HAProxy pinned to the first N of the machine's
 * CPUs with as many threads, the backends not limiting (pong without a capacity limit), and the
 * other hosts (clients, backends, metrics) on the CPUs left — or, when none are left, on all of
 * them, sharing the LB's: a knee found then may be theirs, which the attribution says.
 */
export function lbKneeLayout(lbCpus: number, online: number[], o: { threads?: number; cpuQuota?: number } = {}): LbKneeLayout {
    if (!(Number.isInteger(lbCpus) && lbCpus >= 1 && lbCpus <= online.length)) {
        throw new Error(`--lb-cpus ${lbCpus}: this machine has ${online.length} CPU(s) (${online.join(",")}); give 1..${online.length}`);
    }
    const threads = o.threads ?? lbCpus;
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64))
        throw new Error(`--lb-threads ${threads}: give a whole number of HAProxy threads, 1..64`);
    // The kernel's smallest quota is 1 ms per period; more than the CPU set can run is no limit.
    if (o.cpuQuota !== undefined && !(o.cpuQuota >= MIN_CPU_QUOTA && o.cpuQuota <= lbCpus)) {
        throw new Error(
            `--lb-cpu-quota ${o.cpuQuota}: the LB's CPU time in CPUs' worth must be in ${MIN_CPU_QUOTA}..${lbCpus} (the ${lbCpus} CPU(s) of --lb-cpus ${lbCpus})`,
        );
    }
    const lb = online.slice(0, lbCpus);
    const rest = online.slice(lbCpus);
    return {
        lbCpus: lb,
        otherCpus: rest.length ? rest : online,
        shared: rest.length === 0,
        threads,
        ...(o.cpuQuota !== undefined ? { cpuQuota: o.cpuQuota } : {}),
    };
}

/** Where an LB knee search puts HAProxy: its CPU set, threads and CPU quota (CPUs' worth), and the other hosts' CPUs. */
export interface LbKneeLayout {
    lbCpus: number[];
    otherCpus: number[];
    shared: boolean;
    threads: number;
    cpuQuota?: number;
}

/** A CPU list as c2m:local.hostLimits takes it: "0", "0-1", "0,2". */
export function cpuListText(cpus: number[]): string {
    return cpuList(cpus);
}

/**
 * The lab config (keys without "c2m:") of an LB knee search: one LB host on its CPUs with as many
 * threads (or `threads`) and, with `cpuQuota`, that much CPU time (c2m:local.hostLimits.haproxy.cpuQuota:
 * its cgroup's CFS quota), so HAProxy is the lab's narrowest resource; one backend host of 2 pong
 * servers without a capacity limit and `clients` clients on the other CPUs, the attack on one frontend.
 */
export function lbKneeConfig(
    lbCpus: number,
    online: number[],
    o: { subnet: string; frontend: "plain" | "tls"; clients: number; threads?: number; cpuQuota?: number },
) {
    const layout = lbKneeLayout(lbCpus, online, o);
    const others = { cpus: cpuListText(layout.otherCpus) };
    return {
        layout,
        config: {
            // No metrics host: its exporters would run in the LB's cgroup and spend its quota; each
            // step's CPU comes from the hosts' cgroups and this machine's /proc/stat (lab tipping).
            hosts: { haproxy: 1, backends: 1, clients: o.clients, metrics: 0 },
            // pong unlimited (maxConcurrent 0, no service time): the backends never queue on purpose.
            backend: { serversPerHost: 2, maxConcurrent: 0, serviceTimeMs: 0 },
            haproxy: { threads: layout.threads },
            local: {
                subnet: o.subnet,
                hostLimits: {
                    haproxy: { cpus: cpuListText(layout.lbCpus), ...(layout.cpuQuota !== undefined ? { cpuQuota: layout.cpuQuota } : {}) },
                    client: others,
                    backend: others,
                    metrics: others,
                },
            },
            attack: { preset: "smoke" as const, frontends: [o.frontend] },
        },
    };
}

/** The LB host's cores (and its allowance) at the step of a rate, e.g. the first bad one: "0.09/0.1"; null when not measured. */
export function lbCoresAt(r: Pick<TippingResult, "steps">, rate: number | undefined): string | null {
    const lb = r.steps.find((s) => s.rate === rate)?.cpu?.find((h) => h.role === "haproxy");
    return lb ? `${formatCores(lb.cores)}/${lb.allowedCores}` : null;
}

// ---- attribution: which host's CPU limited the knee ---------------------------------------------

/** What a host may use, as CPU_ALLOWANCE_SCRIPT prints it on that host. */
export interface CpuAllowance {
    host: string;
    role: string;
    cpus: number[];
    quotaCores?: number;
    boot: string;
}

/**
 * Run on a host (over SSH; its commands live in the host's cgroup): the CPUs it may run on, its
 * kernel's boot id (hosts that print the same one share a machine), and its CPU quota if any
 * (cgroup v1 cfs quota/period, v2 cpu.max). POSIX sh.
 */
export const CPU_ALLOWANCE_SCRIPT = [
    "echo \"cpus: $(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)\"",
    'echo "boot: $(cat /proc/sys/kernel/random/boot_id)"',
    "q=''",
    "p=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3; exit }' /proc/self/cgroup)",
    'if [ -n "$p" ]; then',
    "  for d in /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/cpu; do",
    '    if [ -r "$d$p/cpu.cfs_quota_us" ]; then q="$(cat "$d$p/cpu.cfs_quota_us") $(cat "$d$p/cpu.cfs_period_us")"; break; fi',
    "  done",
    "else",
    "  p=$(awk -F: '$1 == \"0\" { print $3; exit }' /proc/self/cgroup)",
    '  if [ -r "/sys/fs/cgroup$p/cpu.max" ]; then q=$(cat "/sys/fs/cgroup$p/cpu.max"); fi',
    "fi",
    'echo "quota: ${q:-max}"',
].join("\n");

/** "0-3,8,10-11" → [0, 1, 2, 3, 8, 10, 11]; undefined when it is not such a list. */
export function parseCpuSet(text: string): number[] | undefined {
    const cpus: number[] = [];
    for (const part of text.trim().split(",")) {
        const m = /^(\d+)(?:-(\d+))?$/.exec(part);
        if (!m) return undefined;
        const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
        if (b < a) return undefined;
        for (let c = a; c <= b; c++) cpus.push(c);
    }
    return cpus;
}

/** CPU_ALLOWANCE_SCRIPT's output for one host. */
export function parseCpuAllowance(host: string, role: string, text: string): CpuAllowance {
    const field = (k: string) => new RegExp(`^${k}: *(.*)$`, "m").exec(text)?.[1]?.trim() ?? "";
    const cpus = parseCpuSet(field("cpus"));
    if (!cpus?.length) throw new Error(`${host}: no CPU list in ${JSON.stringify(text.slice(0, 200))}`);
    const [quota, period] = field("quota").split(/\s+/).map(Number);
    const quotaCores = quota > 0 && period > 0 ? quota / period : undefined;
    return { host, role, cpus, boot: field("boot"), ...(quotaCores !== undefined ? { quotaCores } : {}) };
}

/**
 * A step's CPU figures per host: its own cores, from its cgroup (cgroupCores) or from its lab
 * processes (labCores), undefined when unknown; and each CPU's idle share (idle + iowait) as its
 * node_exporter reports it.
 */
export interface CpuSample {
    host: string;
    labCores?: number;
    cgroupCores?: number;
    cgroupPeakCores?: number;
    idleByCpu: Record<string, number>;
}

/** Readings a counter needs in a window to give a rate over it. */
export const MIN_READINGS = 2;

/**
 * A host's cores over [fromMs, toMs] from its cgroup readings (run.json hostSamples: t in ms,
 * cpuNs a counter): the first and last reading inside the window; undefined with fewer than 2.
 */
export function cgroupCores(samples: { t: number; cpuNs: number }[], fromMs: number, toMs: number): number | undefined {
    const inside = samples.filter((s) => s.t >= fromMs && s.t <= toMs);
    if (inside.length < MIN_READINGS) return undefined;
    const [first, last] = [inside[0], inside[inside.length - 1]];
    if (!(last.t > first.t)) return undefined;
    return Math.max(0, last.cpuNs - first.cpuNs) / 1e6 / (last.t - first.t);
}

/**
 * A host's highest cores over one interval between consecutive cgroup readings that overlaps
 * [fromMs, toMs]: a burst the window's average hides (a TLS step's handshakes at its start).
 */
export function cgroupPeakCores(samples: { t: number; cpuNs: number }[], fromMs: number, toMs: number): number | undefined {
    let peak: number | undefined;
    for (let i = 1; i < samples.length; i++) {
        const [a, b] = [samples[i - 1], samples[i]];
        if (!(b.t > a.t) || b.t <= fromMs || a.t >= toMs) continue;
        const cores = Math.max(0, b.cpuNs - a.cpuNs) / 1e6 / (b.t - a.t);
        peak = Math.max(peak ?? 0, cores);
    }
    return peak;
}

/**
 * Each host's processes' cores over a window from the process sampler's counters: `increase` is
 * CPU seconds per host over the window, `readings` the fewest readings any of that host's series
 * had in it. A host with no series, or a series seen fewer than 2 times (a process found late),
 * is unknown, not 0: its figure would leave out what it used before it was seen.
 */
export function processCores(increase: Map<string, number>, readings: Map<string, number>, windowS: number): Map<string, number | undefined> {
    const hosts = new Set([...increase.keys(), ...readings.keys()]);
    return new Map(
        [...hosts].map((h) => {
            const n = readings.get(h) ?? 0;
            const inc = increase.get(h);
            return [h, n >= MIN_READINGS && inc !== undefined && Number.isFinite(inc) ? inc / windowS : undefined];
        }),
    );
}

/**
 * When a step's load really ran: from its clients' first request (plus `skipMs` of start-up, when
 * the load lasted over twice that) to their last one. Not the run's start: setting a run up took
 * ~5 s on a busy machine, and a window from its start measured the idle lab before the load.
 */
export function loadWindow(sendMs: number[][], skipMs = 1000): { fromMs: number; toMs: number } | undefined {
    const sent = sendMs.filter((xs) => xs.length > 0);
    if (sent.length === 0) return undefined;
    const first = Math.min(...sent.map((xs) => xs.reduce((m, x) => Math.min(m, x), Infinity)));
    const last = Math.max(...sent.map((xs) => xs.reduce((m, x) => Math.max(m, x), -Infinity)));
    return { fromMs: last - first > 2 * skipMs ? first + skipMs : first, toMs: last };
}

/** `/proc/stat` → each CPU's idle + iowait time, seconds (USER_HZ = 100). Pure. */
export function parseCpuIdle(procStat: string): Record<string, number> {
    const idle: Record<string, number> = {};
    for (const line of procStat.split("\n")) {
        const m = /^cpu(\d+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const f = m[2].trim().split(/\s+/).map(Number);
        idle[m[1]] = (f[3] + (f[4] ?? 0)) / 100;
    }
    return idle;
}

/** Each CPU's idle share over [fromMs, toMs] from timed /proc/stat readings (first and last inside); {} with fewer than 2. */
export function idleShares(readings: { t: number; idle: Record<string, number> }[], fromMs: number, toMs: number): Record<string, number> {
    const inside = readings.filter((r) => r.t >= fromMs && r.t <= toMs);
    if (inside.length < MIN_READINGS) return {};
    const [a, b] = [inside[0], inside[inside.length - 1]];
    const s = (b.t - a.t) / 1000;
    if (!(s > 0)) return {};
    return Object.fromEntries(
        Object.keys(b.idle)
            .filter((c) => a.idle[c] !== undefined)
            .map((c) => [c, (b.idle[c] - a.idle[c]) / s]),
    );
}

/** A host's own cores as the tables show them: "0.42", or "unknown". */
export function formatCores(cores: number | null | undefined): string {
    return cores === null || cores === undefined ? "unknown" : cores.toFixed(2);
}

/** Share of the allowance above which a host counts as saturated. */
export const SATURATION = 0.9;

const fmtCores = (x: number) => x.toFixed(2);
const cpuList = (cpus: number[]) => (cpus.length > 1 && cpus.every((c, i) => i === 0 || c === cpus[i - 1] + 1) ? `${cpus[0]}-${cpus.at(-1)}` : cpus.join(","));

/**
 * Each host during a step: saturated when its CPU set was busy (anyone's work: its own, other
 * hosts' that share those CPUs, or the machine's other users) at ≥ 90 % of its size, or when its
 * own processes used ≥ 90 % of its CPU quota. A host without an allowance or a sample is left out.
 */
export function judgeCpu(samples: CpuSample[], allowances: CpuAllowance[], threshold = SATURATION): HostCpu[] {
    return allowances.flatMap((a) => {
        const s = samples.find((x) => x.host === a.host);
        if (!s) return [];
        const allowedCores = Math.min(a.cpus.length, a.quotaCores ?? Infinity);
        const idle = a.cpus.map((c) => s.idleByCpu[String(c)]);
        const busyCores = idle.every((x) => x !== undefined) ? a.cpus.length - idle.reduce((t, x) => t + Math.min(1, Math.max(0, x!)), 0) : undefined;
        const sharers = allowances.filter((o) => o.host !== a.host && o.boot === a.boot && o.cpus.some((c) => a.cpus.includes(c))).length;
        // The host's own use: its cgroup (everything in it, what a quota limits) when read, else its lab processes.
        const own = s.cgroupCores ?? s.labCores;
        const ownWords = s.cgroupCores !== undefined ? "its cgroup" : "its own processes";
        let why: string | undefined;
        if (a.quotaCores !== undefined && own !== undefined && own >= threshold * a.quotaCores) {
            why = `${ownWords} used ${fmtCores(own)} of its ${fmtCores(a.quotaCores)}-core quota`;
        } else if (busyCores !== undefined && busyCores >= threshold * a.cpus.length) {
            why =
                `CPUs ${cpuList(a.cpus)} busy ${fmtCores(busyCores)} of ${a.cpus.length}` +
                (sharers > 0
                    ? ` (shared with ${sharers} other host${sharers > 1 ? "s" : ""}; ${ownWords} ${formatCores(own)})`
                    : ` (${ownWords} ${formatCores(own)})`);
        }
        return [
            {
                host: a.host,
                role: a.role,
                cores: own === undefined ? null : round2(own),
                ...(own !== undefined ? { coresFrom: s.cgroupCores !== undefined ? ("cgroup" as const) : ("processes" as const) } : {}),
                allowedCores: round2(allowedCores),
                ...(a.quotaCores !== undefined ? { quotaCores: a.quotaCores } : {}),
                ...(s.cgroupPeakCores !== undefined ? { peakCores: round2(s.cgroupPeakCores) } : {}),
                ...(busyCores !== undefined ? { busyCores: round2(busyCores) } : {}),
                saturated: why !== undefined,
                ...(why ? { why } : {}),
            },
        ];
    });
}

function round2(x: number): number {
    return Math.round(x * 100) / 100;
}

const ROLE_ORDER = ["client", "haproxy", "backend", "metrics"] as const;

/** A host that limited a step: CPU-saturated, or (a client) behind its plan to send; `weight` ranks hosts of one step. */
interface Limited {
    host: string;
    role: string;
    why: string;
    weight: number;
}

/** The hosts that limited one step: its CPU-saturated hosts and its clients that were behind their plan, each once. */
export function limitedHosts(s: Pick<StepMeasure, "cpu" | "send">): Limited[] {
    const byHost = new Map<string, Limited>();
    for (const h of s.cpu ?? []) {
        if (h.saturated)
            byHost.set(h.host, {
                host: h.host,
                role: h.role,
                why: h.why ?? "CPU saturated",
                weight: (h.cores ?? h.busyCores ?? h.allowedCores) / h.allowedCores,
            });
    }
    for (const c of s.send ?? []) {
        if (!c.behind) continue;
        const cpu = byHost.get(c.host);
        const why = `behind its plan: ${c.why ?? "late to send"}`;
        // Behind its plan is direct evidence that the client could not send: it outranks a CPU share.
        byHost.set(c.host, cpu ? { ...cpu, why: `${cpu.why}; ${why}`, weight: cpu.weight + 1 } : { host: c.host, role: "client", why, weight: 1 });
    }
    return [...byHost.values()];
}

/**
 * Which host limited the knee: a client host saturated (its CPU) or behind its plan to send at the
 * last good or the first bad step makes the knee client-bound (never the LB's); otherwise the
 * LB's, then a backend's; no such host means the knee is not a CPU limit. Also the host
 * saturated at the lowest rate.
 */
export function attribute(r: TippingResult): Attribution {
    const measured = r.steps.filter((s) => s.cpu?.length || s.send?.length);
    if (measured.length === 0) return { bound: "unknown", note: "no host CPU measured (a metrics host is needed) and no client's sending recorded" };
    const byRate = [...measured].sort((a, b) => a.rate - b.rate);
    const firstStep = byRate.find((s) => limitedHosts(s).length > 0);
    const first = firstStep ? limitedHosts(firstStep).sort((a, b) => b.weight - a.weight)[0] : undefined;
    const saturatedFirst = firstStep && first ? { host: first.host, role: first.role, step: firstStep.step, rate: firstStep.rate, why: first.why } : undefined;
    const around = r.steps.filter((s) => s.rate === r.lastGood || s.rate === r.firstBad);
    if (r.knee === undefined || around.length === 0) {
        return {
            bound: "unknown",
            ...(saturatedFirst ? { saturatedFirst } : {}),
            note: saturatedFirst ? `no knee; ${saturatedFirst.host} saturated first, at ${fmtRate(saturatedFirst.rate)}` : "no knee; no host saturated",
        };
    }
    if (around.every((s) => !s.cpu?.length && !s.send?.length))
        return { bound: "unknown", ...(saturatedFirst ? { saturatedFirst } : {}), note: "the steps around the knee have no CPU or sending measured" };
    // The first bad step's figures first: each host is named once, with why it was saturated there.
    const saturated = [...around].sort((a, b) => Number(a.good) - Number(b.good)).flatMap((s) => limitedHosts(s));
    const role = ROLE_ORDER.find((x) => saturated.some((h) => h.role === x));
    const hosts = (x: string) =>
        [
            ...new Map(
                saturated
                    .filter((h) => h.role === x)
                    .reverse()
                    .map((h) => [h.host, `${h.host} (${h.why})`]),
            ).values(),
        ]
            .reverse()
            .join("; ");
    // Without CPU figures only the clients were judged: no client behind says nothing about the LB or a backend.
    if (!role && around.every((s) => !s.cpu?.length)) {
        return {
            bound: "unknown",
            ...(saturatedFirst ? { saturatedFirst } : {}),
            note: "every client kept its plan to send around the knee; no host CPU measured (a metrics host is needed) to tell the LB from a backend",
        };
    }
    const bound: Attribution["bound"] = role ?? "none";
    const note =
        bound === "none"
            ? "no host was CPU-saturated and every client kept its plan at the steps around the knee: not a CPU limit (a backend's capacity, the network or a config limit)"
            : bound === "client"
              ? `client-bound, not the LB's knee: ${hosts("client")}`
              : `${bound}-bound: ${hosts(bound)}`;
    return { bound, ...(saturatedFirst ? { saturatedFirst } : {}), note };
}
