// bench/scale's sampling loop: the ramp and the hold, a sample and a progress line about every
// second, then the release of the held requests and the collection of vegeta's results.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { StackOutputs } from "../scripts/lib/pulumiStack.ts";
import { backOff, heldText, rampState, topUp, type RampPlan, type RampState } from "./ramp.ts";
import { cpuBetween } from "./rampVerdict.ts";
import { CLIENTS, releaseAll, sample, type Lab, type Sample } from "./scaleLab.ts";
import type { Attacks } from "./scaleAttacks.ts";

/** Attacks after the first for connections still missing (each back-off is followed by one). */
export const MAX_TOP_UPS = 5;
/**
 * After the release, vegeta collects its answers as long as its results grow: it is ended when they
 * have not grown for COLLECT_IDLE_MS, or COLLECT_MAX_MS after the release. At load ~40 the 2-core
 * machine needs minutes to answer 300,000 released requests (pong writes, HAProxy forwards, vegeta
 * records each); a fixed 2 minutes ended vegeta with results still coming in.
 */
export const COLLECT_IDLE_MS = 60_000;
export const COLLECT_MAX_MS = 15 * 60_000;
/** After vegeta is ended, how long the attacks get to return before they are reported lost and the lab is torn down. */
export const RETURN_MS = 3 * 60_000;
/** A HAProxy statistics page is read by one curl; more than this many processes and the pages are read every few samples (sockets count in between). */
export const PAGES_PER_SECOND = 8;

export function progress(s: Sample, prev: Sample | undefined, state: RampState, unreadInARow: number, target: number): string {
    const cpu = prev ? cpuBetween(prev.point, s.point) : undefined;
    const cpuText = cpu
        ? `, CPU ${Math.round(cpu.busyShare * 100)} % of ${cpu.cpus} (client ${cpu.roles.client ?? 0}, ` +
          `lb ${cpu.roles.haproxy ?? 0}, backend ${cpu.roles.backend ?? 0}, outside the lab ${cpu.outside})`
        : "";
    const phase = state.phase === "ramping" ? "ramping" : state.phase === "reached" ? "holding" : `holding what the ramp reached (${state.why})`;
    const counters = s.heldFrom === "sockets" ? "" : ` (frontend ${s.frontend}, backend ${s.backend})`;
    const heldShown =
        s.heldFrom === "stats"
            ? String(s.held)
            : s.statsError
              ? `${s.held} from sockets, ${heldText(undefined, s.statsError, unreadInARow)}`
              : `${s.held} from sockets`;
    const mem = `, ${(s.point.memAvailableBytes / 2 ** 30).toFixed(1)} GiB available`;
    return (
        `scale: t=${s.t.toFixed(0)}s held ${heldShown} of ${target}${counters}, in flight ${s.point.inFlight}, ` +
        `sockets client/lb/backend ${s.clientSockets}/${s.lbSockets}/${s.backendSockets}${cpuText}${mem}, ${phase}\n`
    );
}

export interface RampOutcome {
    samples: Sample[];
    state: RampState;
    /** When the hold window started (target reached or ramp over), s; NaN when it never did. */
    rampEnd: number;
    attackEndedEarly: boolean;
    statsUnread: number;
}

/**
 * Ramps and holds: a sample about every second (HAProxy's statistics every `statsEvery` samples),
 * backs off when connections pile up in flight, tops up what is missing once they have landed,
 * stops the sending when the machine runs out of memory, and ends `hold` s after the ramp did.
 */
export async function rampAndHold(lab: Lab, plan: RampPlan, planRate: number, attacks: Attacks, stopping: () => boolean): Promise<RampOutcome> {
    const { o } = lab;
    const samples: Sample[] = [];
    const statsEvery = Math.max(1, Math.ceil(lab.out.vips.stats.length / PAGES_PER_SECOND));
    let state: RampState = { phase: "ramping" };
    let rampEnd = Number.NaN;
    let unreadInARow = 0;
    let statsUnread = 0;
    let attackEndedEarly = false;
    let backedOff = false;
    const log = (line: string) => process.stderr.write(`scale: ${line}\n`);
    for (let i = 0; !stopping(); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const stats = i % statsEvery === 0 ? await lab.readStats() : undefined;
        const s = sample(lab, stats, lab.baseline);
        if (stats instanceof Error) {
            unreadInARow++;
            statsUnread++;
        } else if (stats) unreadInARow = 0;
        samples.push(s);
        const points = samples.map((x) => x.point);
        const last = attacks.sendings.at(-1)!;
        const sending = s.t < last.startT + last.durationS;
        if (state.phase === "ramping" && sending && !backedOff && backOff(points, plan, last.startT)) {
            backedOff = true;
            log(
                `t=${s.t.toFixed(0)}s ${s.point.inFlight} connections in flight (more than ${plan.maxInFlight}): the machine does not land them ` +
                    `as fast as they are sent; pausing this sending (its open connections stay), the rest follows at the rate that lands`,
            );
            await attacks.pauseLast(s.t);
        }
        if (state.phase === "ramping") {
            state = rampState(points, plan, last.startT + last.durationS, last.startT);
            if (state.phase === "stopped" && state.why === "ended") {
                const more = topUp(points, o.conns, attacks.sendings, { maxTopUps: MAX_TOP_UPS, planRate });
                if (more) {
                    // Exactly the missing count (an overshoot past the plan would fill HAProxy's maxconn): a
                    // whole rate per client (the config's rate is an integer) no higher than its share, for share / rate s.
                    const share = Math.ceil(more.count / CLIENTS);
                    const perClient = Math.max(1, Math.min(share, Math.floor(more.rate / CLIENTS)));
                    const durationS = Math.ceil((share / perClient) * 10) / 10;
                    log(
                        `sending over, ${more.count} connections missing: top-up ${attacks.sendings.length} at ${perClient * CLIENTS}/s for ${durationS}s ` +
                            `(80 % of the rate that landed)`,
                    );
                    attacks.launch({ rate: perClient, durationS }, { rate: perClient * CLIENTS, durationS });
                    backedOff = false;
                    state = { phase: "ramping" };
                }
            }
            if (state.phase === "stopped" && state.why === "memory") {
                // No more sending: what is sent lands, the machine's memory does not grow much further.
                await attacks.pauseAll(s.t);
                log(
                    `t=${s.t.toFixed(0)}s the machine has ${(s.point.memAvailableBytes / 2 ** 30).toFixed(1)} GiB available (floor ` +
                        `${(plan.memoryFloorBytes / 2 ** 30).toFixed(1)}): pausing every sending; holding what the ramp reached`,
                );
            } else if (state.phase === "stopped") {
                log(
                    `the ramp ${state.why === "deadline" ? "hit its deadline" : state.why} short of ${o.conns} at t=${state.t.toFixed(0)}s; holding what it reached`,
                );
            }
            if (state.phase === "reached") {
                // A top-up (or the first attack) still sending would land connections inside the hold window: stop it at the target.
                const stopped = await attacks.stopAtTarget(s.t);
                if (stopped.length)
                    log(
                        `t=${s.t.toFixed(0)}s target reached: pausing attack(s) ${stopped.map((i) => i + 1).join(", ")} still sending (their open connections stay)`,
                    );
            }
            if (state.phase !== "ramping") rampEnd = state.t;
        }
        process.stderr.write(progress(s, samples.at(-2) ?? lab.baseline, state, unreadInARow, o.conns));
        if (!Number.isNaN(rampEnd) && s.t >= rampEnd + o.hold) break;
        // Nothing is held once the attacks are over (vegeta waits for every held request): a failed attack.
        if (attacks.over && Number.isNaN(rampEnd)) {
            rampEnd = s.t;
            attackEndedEarly = true;
            log("the attack ended during the ramp; nothing left to hold");
            break;
        }
    }
    return { samples, state, rampEnd, attackEndedEarly, statsUnread };
}

/**
 * The bytes of vegeta's result files on the client hosts (each vegeta writes a result per answered
 * or failed request; the files are removed once collected): collecting grows it. The local
 * platform's hosts share this machine's filesystem.
 */
export function resultsBytes(out: StackOutputs): number {
    let bytes = 0;
    for (const h of out.inventory.filter((x) => x.role === "client")) {
        const dir = join(h.workDir, "vegeta");
        let names: string[] = [];
        try {
            names = readdirSync(dir);
        } catch {
            continue;
        }
        for (const n of names.filter((x) => x.endsWith(".bin"))) {
            try {
                bytes += statSync(join(dir, n)).size;
            } catch {
                /* collected meanwhile */
            }
        }
    }
    return bytes;
}

/** What the collection after the release took: s from the release to the attacks' return, and whether vegeta had to be ended. */
export interface Collected {
    released: number;
    collect_s: number | null;
    ended_vegeta: boolean;
}

/**
 * The hold window is over: every pong server lets its held requests finish until vegeta has them
 * all (released again every 10 s: a paused attack's last requests arrive after the first release);
 * vegeta is ended when its results have not grown for COLLECT_IDLE_MS or COLLECT_MAX_MS after the
 * release (requests stuck before pong keep it up to its timeout), and an attack still running
 * RETURN_MS later is reported lost.
 */
export async function releaseAndCollect(lab: Lab, attacks: Attacks, stopping: () => boolean): Promise<Collected> {
    await attacks.resumeAll(stopping());
    if (stopping()) await attacks.endAll();
    process.stderr.write("releasing the held requests on every pong server…\n");
    let released = 0;
    const start = Date.now();
    let bytes = resultsBytes(lab.out);
    let grewAt = start;
    for (let i = 0; !attacks.over && !stopping() && Date.now() - grewAt < COLLECT_IDLE_MS && Date.now() - start < COLLECT_MAX_MS; i++) {
        const r = await releaseAll(lab.remote, lab.out);
        released += r.released;
        for (const f of r.failed) process.stderr.write(`release failed, retrying: ${f}\n`);
        await attacks.settle(i === 0 ? 20_000 : 10_000);
        const now = resultsBytes(lab.out);
        if (now > bytes) grewAt = Date.now();
        process.stderr.write(
            `scale: +${((Date.now() - start) / 1000).toFixed(0)}s after the release: released ${r.released} held requests, ` +
                `vegeta's results ${(now / 2 ** 20).toFixed(1)} MiB (${now > bytes ? "growing" : `not grown for ${((Date.now() - grewAt) / 1000).toFixed(0)} s`})` +
                `${attacks.over ? ", every attack returned" : `, ${attacks.count} attack(s) collecting`}\n`,
        );
        bytes = now;
    }
    const collected = attacks.over ? Math.round((Date.now() - start) / 1000) : null;
    let ended = false;
    if (!attacks.over) {
        ended = true;
        process.stderr.write(
            `scale: ${attacks.count} attack(s) still running ${((Date.now() - start) / 1000).toFixed(0)} s after the release, their results ` +
                `not grown for ${((Date.now() - grewAt) / 1000).toFixed(0)} s: ending vegeta (the requests it still waits for count as errors)\n`,
        );
        await attacks.endAll();
        await attacks.settle(RETURN_MS);
    }
    if (!attacks.over)
        process.stderr.write(`scale: ${attacks.count} attack(s) still running ${RETURN_MS / 60_000} min after vegeta was ended: their results count as lost\n`);
    return { released, collect_s: collected, ended_vegeta: ended };
}
