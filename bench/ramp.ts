// bench/scale's ramp decisions, pure: when the ramp has reached its target or is over short of it,
// when the sending backs off or tops up, what the hold window held, and what the progress line says
// when HAProxy's statistics could not be read. Its input is the points the bench samples
// (bench/rampPoint.ts); the run's verdict is bench/rampVerdict.ts.
import type { HeldSource, RampPoint } from "./rampPoint.ts";

export interface RampPlan {
    target: number;
    /** Held connections that have not grown by more than 0.1 % of the target for this long while vegeta sends: stalled, s. */
    stallS: number;
    /** After vegeta's planned sending is over, this long without growth: the requests still in flight have landed, s. */
    settleS: number;
    /**
     * A sending none of whose connections has landed yet is not over before its planned end plus
     * this, s: vegeta starts late on a loaded machine, and a top-up of a few connections (vegeta's
     * rounding left 2 of 300,000 unsent) grows the count by less than the 0.1 % that is growth.
     */
    startGraceS: number;
    /** The ramp is over at this time whatever happens, s. */
    deadlineS: number;
    /** The ramp stops when the machine's available memory falls below this (the kernel's OOM killer picks any process), bytes. */
    memoryFloorBytes: number;
    /** More connections in flight than this: the machine does not keep up with the rate, the sending stops (backOff). */
    maxInFlight: number;
}

/** Connections in flight beyond which the sending backs off: 5 % of the target, at least 1000. */
export function maxInFlight(target: number): number {
    return Math.max(1000, Math.ceil(target * 0.05));
}

/**
 * Whether the sending under way (started at `sendingStartT`) must pause now: it has added more
 * connections in flight than the plan allows, i.e. the machine does not land them as fast as they
 * are sent. Each one in flight costs memory and CPU (a TLS handshake ~34 KB at the LB, SYN
 * retransmits), so a backlog only slows the landing further; once it has landed, a top-up sends
 * the rest at the rate that landed. Counted from the sending's start: a paused sending's
 * connected-but-unsent requests stay in flight until it is resumed, and are not the top-up's. Pure.
 */
export function backOff(points: RampPoint[], plan: RampPlan, sendingStartT = 0): boolean {
    const last = points.at(-1);
    if (last === undefined) return false;
    const before = [...points].reverse().find((p) => p.t <= sendingStartT)?.inFlight ?? 0;
    return last.inFlight - before > plan.maxInFlight;
}

export type RampState =
    | { phase: "ramping" }
    | { phase: "reached"; t: number }
    /** stalled: no growth for stallS while vegeta should still be sending (the machine does not keep up);
     *  ended: vegeta's planned sending is over and nothing grew for settleS; deadline: deadlineS passed;
     *  memory: the machine's available memory fell below the floor (the bench stops sending). */
    | { phase: "stopped"; t: number; why: "stalled" | "ended" | "deadline" | "memory" };

/**
 * A machine with less available memory than this is out of it: 3 GiB or 12 % of its memory, the
 * larger. Room for what still lands once the sending stops (up to maxInFlight connections, ~1.3 GiB
 * for 15,000 plain ones at ~85 KB each) and for the machine's other work, which the kernel's OOM
 * killer would otherwise pick from.
 */
export function memoryFloor(totalBytes: number): number {
    return Math.max(3 * 2 ** 30, 0.12 * totalBytes);
}

/** Growth of the readable held count over the last `s` seconds, or undefined when no readable point lies on both sides. */
function growthOver(points: RampPoint[], s: number): number | undefined {
    const readable = points.filter((p) => p.held !== undefined) as (RampPoint & { held: number })[];
    const last = points.at(-1);
    if (!last) return undefined;
    const since = last.t - s;
    const before = readable.filter((p) => p.t <= since);
    const inside = readable.filter((p) => p.t > since);
    if (before.length === 0 || inside.length === 0) return undefined;
    return Math.max(...inside.map((p) => p.held)) - Math.max(...before.map((p) => p.held));
}

/**
 * Where the ramp is after the last point, vegeta's planned sending being over at `sendingEndT`.
 * The target reached (the last point's held, counted, not estimated, ≥ target) starts the hold; no growth for stallS
 * while vegeta sends is a stall (the bench stops vegeta); no growth for settleS once its sending
 * is over means it has nothing more to land (the bench may top up, else the ramp ended short),
 * once something of it has landed or startGraceS after its end.
 * Points whose statistics were unreadable decide nothing. Pure.
 */
export function rampState(points: RampPoint[], plan: RampPlan, sendingEndT: number, sendingStartT = 0): RampState {
    const last = points.at(-1);
    if (!last) return { phase: "ramping" };
    if (last.held !== undefined && !last.estimated && last.held >= plan.target) return { phase: "reached", t: last.t };
    if (last.memAvailableBytes < plan.memoryFloorBytes) return { phase: "stopped", t: last.t, why: "memory" };
    if (last.t >= plan.deadlineS) return { phase: "stopped", t: last.t, why: "deadline" };
    const flat = (s: number) => {
        const g = growthOver(points, s);
        return g !== undefined && g <= plan.target * 0.001;
    };
    // Before the current attack's first connection lands (vegeta starting on a loaded machine: a top-up's attack took
    // a minute to start at load 100) nothing has stalled yet: the deadline bounds that wait.
    const readable = points.filter((p) => p.held !== undefined);
    const atStart = [...readable].reverse().find((p) => p.t <= sendingStartT)?.held ?? 0;
    const started = readable.some((p) => p.t > sendingStartT && p.held! > atStart);
    if (last.t <= sendingEndT) return started && flat(plan.stallS) ? { phase: "stopped", t: last.t, why: "stalled" } : { phase: "ramping" };
    if (last.t >= sendingEndT + plan.settleS && flat(plan.settleS) && (started || last.t >= sendingEndT + plan.startGraceS)) {
        return { phase: "stopped", t: last.t, why: "ended" };
    }
    return { phase: "ramping" };
}

/** One attack the bench launched: when, at what total rate, for how long. */
export interface Sending {
    startT: number;
    rate: number;
    durationS: number;
}

/**
 * After an attack whose sending ended short of the target: a top-up for the connections still
 * missing, at a rate the machine showed it can keep up with (80 % of what the last attack
 * achieved, never above the plan's rate, at least 10/s), or undefined when a top-up would not
 * help (none missing, no top-up left, the last one made no progress). Pure.
 */
export function topUp(
    points: RampPoint[],
    target: number,
    sendings: Sending[],
    o: { maxTopUps: number; planRate: number },
): { count: number; rate: number; durationS: number } | undefined {
    const readable = points.filter((p) => p.held !== undefined) as (RampPoint & { held: number })[];
    const last = sendings.at(-1);
    const held = readable.at(-1)?.held;
    // An unreadable last point decides nothing.
    if (!last || held === undefined || points.at(-1)?.held === undefined || held >= target || sendings.length > o.maxTopUps) return undefined;
    const atStart = [...readable].reverse().find((p) => p.t <= last.startT)?.held ?? 0;
    const gained = held - atStart;
    if (gained <= target * 0.001) return undefined;
    // Over the time it took to land them: from its start to the first point at the final count.
    const doneT = readable.find((p) => p.t >= last.startT && p.held >= held)?.t ?? last.startT + last.durationS;
    const achieved = gained / Math.max(1, doneT - last.startT);
    const rate = Math.max(10, Math.min(o.planRate, Math.floor(achieved * 0.8)));
    const count = target - held;
    return { count, rate, durationS: Math.max(1, Math.ceil((count / rate) * 10) / 10) };
}

/**
 * What the hold window held: the least HAProxy counted at any of its readings in the window, or,
 * with none read, the least of the sockets' estimate, saying which; null when nothing was counted. Pure.
 */
export function heldOverWindow(samples: { held?: number; heldFrom: "stats" | "sockets" }[]): { held: number | null; source: HeldSource | null } {
    const counted = samples.filter((s) => s.held !== undefined && s.heldFrom === "stats");
    if (counted.length) return { held: Math.min(...counted.map((s) => s.held!)), source: "haproxy" };
    const estimated = samples.filter((s) => s.held !== undefined);
    if (estimated.length) return { held: Math.min(...estimated.map((s) => s.held!)), source: "sockets" };
    return { held: null, source: null };
}

/**
 * Which sendings to pause now that the target is reached: every one still within its planned
 * duration (a top-up still sending would land its connections inside the hold window). Pure.
 */
export function sendingsToStop(sendings: Sending[], t: number, paused: (i: number) => boolean = () => false): number[] {
    return sendings.flatMap((x, i) => (!paused(i) && t < x.startT + x.durationS ? [i] : []));
}

/** The progress line's count: a number, or what went wrong reading it (never `?` nor a silent 0). Pure. */
export function heldText(held: number | undefined, statsError: string | undefined, failuresInARow: number): string {
    if (held !== undefined) return String(held);
    const why = (statsError ?? "unknown error").replace(/\s+/g, " ").slice(0, 160);
    return `unread (HAProxy statistics: ${why}; ${failuresInARow} in a row, retrying)`;
}
