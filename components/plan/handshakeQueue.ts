// The CPU–memory coupling of a TLS ramp: connections arrive at the ramp's rate, the LB's cores
// complete handshakes at their own rate, and the difference waits — each waiting connection holding
// memory (its socket, the handshake's buffers) while the ones done hold an end-to-end connection's.
// A box with enough memory for the target can still die during the ramp when its cores are too few
// for the rate (the local-4c30g run of issue 22: 0.25 CPU, 500/s offered, OOM-killed at its 1,920 MiB).
// Pure.
import type { Certificate } from "../config.ts";
import { handshakesPerCore } from "./tlsHandshakes.ts";

/**
 * Full TLS handshakes per CPU-second an LB completes inside a local lab, end to end (accept,
 * handshake, request to pong, the namespace's network stack charged to it), as opposed to
 * handshakesPerCore (HAProxy alone, `openssl s_time` clients). Fitted on the two local-4c30g runs
 * (ecdsa-p256, HAProxy's cgroup at a 0.25-CPU quota, 500/s offered) made before this figure was
 * set: issue 22's (44,000 sessions at 268 s: 164/s, 656 per CPU-second, OOM-killed) and the first
 * `lab reproduce` round (248/s during the ramp, 992 per CPU-second, held): their mean, 824, is
 * 0.33 of handshakesPerCore("ecdsa-p256"). The two differ by 1.5x on the same box, busy or not:
 * the rate is the machine's as much as the tier's, and a tier near the edge lives or dies by it
 * (slowestSurvivingHandshakeRate says where the edge is). The 1-CPU tiers kept up with 500/s, a
 * floor consistent with it. `lab reproduce` measures it again on every run (runs it was not fitted to).
 */
export const LOCAL_LAB_HANDSHAKE_SHARE = (656 + 992) / 2 / 2486;

/** How far apart the two fitting runs' rates were (992 / 656): a tier whose predicted rate is within this factor of the rate it needs lives at the edge here. */
export const LOCAL_LAB_RATE_SPREAD = 992 / 656;

/**
 * KB a connection waiting for its handshake costs the LB's cgroup in a local lab, fitted on the same
 * two runs, which bracket it from both sides with their measured rates: the reproduce round held
 * (peak 1,879.9 of 1,920 MiB) with ~33,100 waiting beside ~32,500 end to end at 248/s, so a waiting
 * one costs at most ~30.0 KB; issue 22's run died with ~44,100 waiting beside ~21,500 at 164/s, so
 * at least ~30.0 KB (held ones at 26.3 KB, 8 processes at 9.5 MiB). It replaces, for local stacks, the
 * 37.9 KB bench:oom's in-flight TLS figure gives, which would have killed the round that held.
 */
export const LOCAL_LAB_WAITING_KB = 30;

export interface RampInput {
    /** End-to-end connections the ramp opens. */
    target: number;
    /** New connections per second offered (all clients). */
    rampPerS: number;
    /** Share of them through TLS (the plain ones need no handshake). */
    tlsShare: number;
    /** CPUs HAProxy runs on (a cgroup's quota locally, cores given to HAProxy on a box). */
    lbCpus: number;
    certificate?: Certificate;
    /** Handshakes per CPU-second as a share of the certificate's bench rate (1 on a box; LOCAL_LAB_HANDSHAKE_SHARE locally). */
    handshakeShare?: number;
    /** KB one end-to-end connection costs the LB, and one waiting for its handshake. */
    heldKB: number;
    waitingKB: number;
    /** Memory the LB may use, bytes, and what its processes take idle. */
    limitBytes: number;
    baseBytes: number;
}

export interface RampPlan {
    /** Handshakes per second the LB's CPUs complete. */
    handshakesPerS: number;
    rampS: number;
    /** Connections waiting for their handshake when the ramp ends (its most), and end to end then. */
    waitingAtRampEnd: number;
    heldAtRampEnd: number;
    /** Seconds after the ramp until every handshake is done. */
    drainS: number;
    /** The LB's memory at its most (the ramp's end), bytes. */
    peakBytes: number;
    fits: boolean;
    /** When it does not fit: connections accepted (held + waiting) when memory runs out. */
    diesAtAccepted?: number;
}

/** Handshakes/s the LB completes: its CPUs × the certificate's rate per core × the share for where it runs. */
export function handshakesPerSecond(lbCpus: number, certificate?: Certificate, share = 1): number {
    if (!(lbCpus > 0)) throw new Error(`the LB's CPUs must be > 0, got ${lbCpus}`);
    return lbCpus * handshakesPerCore(certificate) * share;
}

/** Memory of the LB `t` seconds into the ramp (before its end). */
function bytesAt(i: RampInput, hs: number, t: number): { bytes: number; held: number; waiting: number } {
    const accepted = Math.min(i.target, i.rampPerS * t);
    const tls = accepted * i.tlsShare;
    const done = Math.min(tls, hs * t);
    const waiting = tls - done;
    const held = accepted - waiting;
    return { bytes: i.baseBytes + (held * i.heldKB + waiting * i.waitingKB) * 1024, held, waiting };
}

/**
 * The ramp's course: memory grows with every accepted connection until the ramp ends, then falls
 * as waiting connections complete (a waiting one costs more than a held one when waitingKB > heldKB,
 * as measured; otherwise the end of the drain is the most, which is the target held).
 */
export function planRamp(i: RampInput): RampPlan {
    for (const [name, v] of Object.entries({ target: i.target, rampPerS: i.rampPerS, lbCpus: i.lbCpus, limitBytes: i.limitBytes })) {
        if (!(v > 0)) throw new Error(`ramp plan: ${name} must be > 0, got ${v}`);
    }
    const hs = handshakesPerSecond(i.lbCpus, i.certificate, i.handshakeShare ?? 1);
    const rampS = i.target / i.rampPerS;
    const end = bytesAt(i, hs, rampS);
    const allHeld = i.baseBytes + i.target * i.heldKB * 1024;
    const peakBytes = Math.max(end.bytes, allHeld);
    const drainS = end.waiting / hs;
    const fits = peakBytes <= i.limitBytes;
    let diesAtAccepted: number | undefined;
    if (!fits) {
        // Bisect the moment memory crosses the limit (memory grows monotonically during the ramp).
        if (end.bytes <= i.limitBytes) diesAtAccepted = Math.floor((i.limitBytes - i.baseBytes) / 1024 / i.heldKB);
        else {
            let lo = 0,
                hi = rampS;
            for (let k = 0; k < 60; k++) {
                const mid = (lo + hi) / 2;
                if (bytesAt(i, hs, mid).bytes > i.limitBytes) hi = mid;
                else lo = mid;
            }
            diesAtAccepted = Math.floor(Math.min(i.target, i.rampPerS * lo));
        }
    }
    return {
        handshakesPerS: Math.round(hs),
        rampS,
        waitingAtRampEnd: Math.round(end.waiting),
        heldAtRampEnd: Math.round(end.held),
        drainS,
        peakBytes,
        fits,
        ...(diesAtAccepted === undefined ? {} : { diesAtAccepted }),
    };
}

/**
 * The fastest ramp (new connections/s) the LB survives at this target, or undefined when it does
 * not survive even the slowest (its memory is too small for the target held). Whole connections/s.
 */
export function fastestSurvivingRamp(i: Omit<RampInput, "rampPerS">): number | undefined {
    const fits = (r: number) => planRamp({ ...i, rampPerS: r }).fits;
    if (!fits(1e-6)) return undefined;
    if (fits(i.target)) return i.target; // the whole target in one second
    let lo = 1e-6,
        hi = i.target;
    for (let k = 0; k < 60; k++) {
        const mid = (lo + hi) / 2;
        if (fits(mid)) lo = mid;
        else hi = mid;
    }
    return Math.floor(lo);
}

/**
 * The fewest handshakes per second the LB must complete to survive this ramp at this target, or
 * undefined when no rate saves it (its memory is too small for the target held). It splits the
 * ramp's prediction in two halves a run can score apart: the CPU half (the rate the LB's cores
 * reach, handshakesPerSecond) and the memory half (given the rate a run measured, does it live).
 */
export function slowestSurvivingHandshakeRate(i: RampInput): number | undefined {
    const perShare = handshakesPerSecond(i.lbCpus, i.certificate, 1);
    const fitsAt = (hs: number) => planRamp({ ...i, handshakeShare: hs / perShare }).fits;
    const instant = i.rampPerS * i.tlsShare; // at the ramp's own rate nothing waits
    if (!fitsAt(Math.max(instant, 1e-6))) return undefined;
    let lo = 1e-6,
        hi = Math.max(instant, 1e-6);
    if (fitsAt(lo)) return 0;
    for (let k = 0; k < 60; k++) {
        const mid = (lo + hi) / 2;
        if (fitsAt(mid)) hi = mid;
        else lo = mid;
    }
    return Math.ceil(hi);
}
