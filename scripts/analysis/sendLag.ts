// The clients' own latency to send: how far behind its plan each client host's vegeta was during
// a run. vegeta's constant pacer sends request i of a process at i / rate after the first; a
// client whose CPU (or runtime) cannot keep up sends later than that, in bursts, and sends fewer
// requests than rate × duration. A knee reached while a client was behind is the client's, not
// the LB's. Summing up (clientSend) is pure; readSendTimes streams `vegeta encode` over a result file.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { percentile } from "./timeline.ts";
import type { ClientSend } from "../../components/records/tippingRecord.ts";

export type { ClientSend };

/** A client is behind when it sent fewer than this share of its planned requests… */
export const SEND_MIN_SHARE = 0.95;
/**
 * …or when its p99 lag to send was both above this floor (a busy shared machine's scheduling
 * jitter: a few CFS slices of ~3–4 ms) and at least half the step's own p99 latency: the client's
 * delays were then of the size of what the step measured.
 */
export const SEND_LAG_FLOOR_MS = 10;
export const SEND_LAG_SHARE_OF_P99 = 0.5;

/** One vegeta process's send times (ms since the epoch, any order) and what it was to send. */
export interface ProcessSends {
    ratePerSecond: number;
    durationS: number;
    sendMs: number[];
}

function earliest(xs: number[]): number {
    return xs.reduce((m, x) => (x < m ? x : m), Infinity);
}

/** How late each request left against the pacer's schedule, ms (the first request is the origin). */
export function lagsMs(p: Pick<ProcessSends, "ratePerSecond" | "sendMs">): number[] {
    const t = [...p.sendMs].sort((a, b) => a - b);
    return t.map((x, i) => Math.max(0, x - t[0] - (i * 1000) / p.ratePerSecond));
}

/**
 * One client's sending during a step, from its processes' send times. `runStartMs` is the earliest
 * first send of the run's processes (all clients): a client that started later lags by that much.
 * `stepP99Ms` is the step's p99 latency (the threshold scales with it).
 */
export function clientSend(host: string, processes: ProcessSends[], o: { runStartMs?: number; stepP99Ms: number }): ClientSend {
    if (processes.length === 0) throw new Error(`client ${host}: no vegeta process to judge`);
    const planned = Math.round(processes.reduce((n, p) => n + p.ratePerSecond * p.durationS, 0));
    const sent = processes.reduce((n, p) => n + p.sendMs.length, 0);
    const lags = Float64Array.from(processes.flatMap((p) => lagsMs(p))).sort();
    const firsts = processes.filter((p) => p.sendMs.length).map((p) => earliest(p.sendMs));
    const startLagMs = o.runStartMs !== undefined && firsts.length ? Math.max(0, Math.max(...firsts) - o.runStartMs) : 0;
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const lagP99Ms = percentile(lags, 0.99);
    const share = planned > 0 ? sent / planned : 1;
    const whys: string[] = [];
    if (share < SEND_MIN_SHARE) whys.push(`sent ${(share * 100).toFixed(1)} % of its ${planned} planned requests`);
    const lagLimit = Math.max(SEND_LAG_FLOOR_MS, SEND_LAG_SHARE_OF_P99 * o.stepP99Ms);
    if (lagP99Ms > lagLimit) whys.push(`p99 lag to send ${lagP99Ms.toFixed(1)} ms > ${lagLimit.toFixed(1)} ms`);
    return {
        host,
        planned,
        sent,
        lagP50Ms: r1(percentile(lags, 0.5)),
        lagP99Ms: r1(lagP99Ms),
        lagMaxMs: r1(lags.length ? lags[lags.length - 1] : 0),
        startLagMs: r1(startLagMs),
        behind: whys.length > 0,
        ...(whys.length ? { why: whys.join("; ") } : {}),
    };
}

/** Every client of a run, judged: processes grouped by client host; the run's start is its earliest first send. */
export function clientSends(processes: (ProcessSends & { client: string })[], stepP99Ms: number): ClientSend[] {
    const firsts = processes.filter((p) => p.sendMs.length).map((p) => earliest(p.sendMs));
    const runStartMs = firsts.length ? Math.min(...firsts) : undefined;
    const hosts = [...new Set(processes.map((p) => p.client))].sort();
    return hosts.map((h) =>
        clientSend(
            h,
            processes.filter((p) => p.client === h),
            { runStartMs, stepP99Ms },
        ),
    );
}

/** "2026-12-02T15:00:00.123456789Z" → ms since the epoch, keeping the sub-millisecond digits. */
export function timestampMs(ts: string): number {
    const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
    if (!m) return Date.parse(ts);
    return Date.parse(`${m[1]}${m[3]}`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}

/** The send time of every request in one vegeta result file (`vegeta encode -to json`). */
export async function readSendTimes(file: string, env: NodeJS.ProcessEnv): Promise<number[]> {
    const child = spawn("vegeta", ["encode", "-to", "json", file], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
        stderr += d;
    });
    const exited = new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code) => resolve(code ?? 1));
    });
    const times: number[] = [];
    for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
        if (line) times.push(timestampMs((JSON.parse(line) as { timestamp: string }).timestamp));
    }
    const code = await exited;
    if (code !== 0) throw new Error(`vegeta encode ${file} exited ${code}: ${stderr.trim()}`);
    return times;
}
