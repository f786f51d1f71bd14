// The progress line of `lab attack`: which phase the run is in (ramp: vegeta sending; hold: the
// last requests held open by pong; release: answers coming back until vegeta ends; collect: results
// pulled back), time left in it, connections HAProxy holds and requests it has answered. Pure.
import type { StatsRow } from "./haproxyStats.ts";

export type AttackPhase = "ramp" | "hold" | "release" | "collect";

/** The phase at `elapsedS` into a run that sends for `durationS`, has pong hold each request `holdS`, and gives up at `timeoutS` per request. */
export function attackPhase(
    elapsedS: number,
    o: { durationS: number; holdS: number; timeoutS: number; vegetaDone?: boolean },
): { phase: AttackPhase; leftS: number } {
    if (o.vegetaDone) return { phase: "collect", leftS: 0 };
    if (elapsedS < o.durationS) return { phase: "ramp", leftS: o.durationS - elapsedS };
    const holdEnd = o.durationS + Math.min(o.holdS, o.timeoutS);
    if (elapsedS < holdEnd) return { phase: "hold", leftS: holdEnd - elapsedS };
    // Release: answers come back; vegeta stops waiting at most timeoutS after its last request.
    return { phase: "release", leftS: Math.max(0, o.durationS + o.timeoutS - elapsedS) };
}

const num = (r: StatsRow, k: string) => Number(r[k] || 0);

/**
 * Sessions HAProxy's frontends hold now (accepted: a TLS one once its handshake is done — end to end,
 * idle or on its way), its backend's (end to end), responses its frontends sent, and sessions so far
 * (stot: handshakes completed, for TLS).
 */
export function liveCounts(rows: StatsRow[], frontends: string[], backend: string): { accepted: number; held: number; answered: number; sessions: number } {
    const fe = rows.filter((r) => frontends.includes(r.pxname) && r.svname === "FRONTEND");
    const be = rows.filter((r) => r.pxname === backend && r.svname === "BACKEND");
    const answered = fe.reduce((a, r) => a + ["hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"].reduce((b, k) => b + num(r, k), 0), 0);
    return {
        accepted: fe.reduce((a, r) => a + num(r, "scur"), 0),
        held: be.reduce((a, r) => a + num(r, "scur"), 0),
        answered,
        sessions: fe.reduce((a, r) => a + num(r, "stot"), 0),
    };
}

export interface ProgressState {
    phase: AttackPhase;
    leftS: number;
    elapsedS: number;
    counts?: { accepted: number; held: number; answered: number; sessions: number };
    /** Why HAProxy's statistics could not be read this time. */
    unread?: string;
    /** The LB is known dead (an OOM kill counted): said at once and on every line after. */
    dead?: string;
}

export function formatProgress(s: ProgressState): string {
    const head = `attack ${s.phase}: ${s.elapsedS.toFixed(0)}s elapsed, ~${s.leftS.toFixed(0)}s left in ${s.phase}`;
    if (s.dead) return `${head}, LB DEAD: ${s.dead}`;
    if (s.unread !== undefined || !s.counts)
        return `${head}, haproxy statistics unread (${(s.unread ?? "no reading").replace(/\s+/g, " ").slice(0, 160)}), retrying in 5 s`;
    const c = s.counts;
    return `${head}, haproxy holds ${c.held} end to end (${c.accepted} sessions at its frontends, ${c.sessions} so far), ${c.answered} requests answered`;
}
