// The tipping search's judging: a step's thresholds (p99 against the baseline, errors), a try that
// the machine spoiled rather than the lab (machineStall), and a step's verdict from its tries. Pure.
import type { Phase, StepMeasure, StepTry, StepVerdict, TippingOptions } from "../../components/records/tippingRecord.ts";
import { limitedHosts, SATURATION } from "./cpuAttribution.ts";
import { formatCores, pct } from "./tippingTable.ts";
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
