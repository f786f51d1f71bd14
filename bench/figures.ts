// What bench/scale and bench/oom compute from their samples: memory per connection by part, from
// each host's own cgroup (components/platform/local/cgroups.ts), and the error count; and the one
// reader of a host namespace's socket counters both benches sample. Pure but for readNetCounters.
import { spawnSync } from "node:child_process";
import type { CgroupReading } from "../components/platform/local/cgroups.ts";
import type { Role } from "../components/types.ts";

/** Readings of every host of the stack at one instant, by host name, with each host's role. */
export type HostReadings = Record<string, { role: Role; reading: CgroupReading }>;

/** `/proc/net/netstat` → TcpExt ListenDrops + ListenOverflows (the kernel counts an overflow as a drop too: take the larger). Pure. */
export function parseListenDrops(text: string): number {
    const lines = text.split("\n").filter((l) => l.startsWith("TcpExt:"));
    if (lines.length < 2) throw new Error("/proc/net/netstat has no TcpExt lines");
    const names = lines[0].trim().split(/\s+/).slice(1);
    const values = lines[1].trim().split(/\s+/).slice(1).map(Number);
    const get = (n: string) => {
        const i = names.indexOf(n);
        return i < 0 ? 0 : (values[i] ?? 0);
    };
    return Math.max(get("ListenDrops"), get("ListenOverflows"));
}

/** A network namespace's TCP counters: sockets in use, accept-queue drops. */
export interface NetCounters {
    tcpInuse: number;
    listenDrops: number;
}

/**
 * `/proc/net/sockstat` followed by `/proc/net/netstat` (one `cat` of both) → the namespace's TCP
 * sockets in use (sockstat is per network namespace) and its accept-queue drops. Pure.
 */
export function parseNetCounters(text: string): NetCounters {
    const tcp = /^TCP: inuse (\d+)/m.exec(text);
    if (!tcp) throw new Error("/proc/net/sockstat has no `TCP: inuse` line");
    return { tcpInuse: Number(tcp[1]), listenDrops: parseListenDrops(text) };
}

/** A host namespace's counters, read inside it (`ip netns exec`); throws naming the namespace when unreadable. */
export function readNetCounters(namespace: string): NetCounters {
    const r = spawnSync("ip", ["netns", "exec", namespace, "cat", "/proc/net/sockstat", "/proc/net/netstat"], { encoding: "utf8", timeout: 10_000 });
    try {
        if (r.status !== 0) throw new Error((r.stderr || r.error?.message || `exit ${r.status}`).trim());
        return parseNetCounters(r.stdout);
    } catch (err) {
        throw new Error(`namespace ${namespace}: ${(err as Error).message}`);
    }
}

/** Sum of a figure over the hosts of one role. */
export function roleSum(r: HostReadings, role: Role, pick: (x: CgroupReading) => number): number {
    return Object.values(r)
        .filter((h) => h.role === role)
        .reduce((sum, h) => sum + pick(h.reading), 0);
}

export interface PerConnectionFigures {
    /** All the LB host's memory per held end-to-end connection (user + kernel + socket buffers), KB. */
    lb_kb_per_conn: number;
    /** Kernel memory (slab + socket buffers) per socket at the LB (2 sockets per connection), KB. */
    kernel_kb_per_socket: number;
    /** HAProxy's own (anonymous) memory per connection, KB. */
    haproxy_kb_per_conn: number;
    /** Each client host's whole memory (vegeta + its sockets) per connection, KB. */
    client_kb_per_conn: number;
    /** Each backend host's whole memory (pong + its sockets) per connection, KB. */
    backend_kb_per_conn: number;
    /** CPU time per connection on the LB over the interval, ms. */
    lb_cpu_ms_per_conn: number;
}

const KB = 1024;
const r1 = (n: number) => Math.round(n * 10) / 10;

/** Memory per connection by part: deltas of each host's cgroup between the idle lab and `at`, over `held` connections. */
export function perConnection(baseline: HostReadings, at: HostReadings, held: number): PerConnectionFigures {
    const n = Math.max(1, held);
    const d = (role: Role, pick: (x: CgroupReading) => number) => roleSum(at, role, pick) - roleSum(baseline, role, pick);
    return {
        lb_kb_per_conn: r1(d("haproxy", (x) => x.memoryBytes) / n / KB),
        kernel_kb_per_socket: r1(d("haproxy", (x) => x.kernelBytes + x.socketBytes) / (2 * n) / KB),
        haproxy_kb_per_conn: r1(d("haproxy", (x) => x.anonBytes) / n / KB),
        client_kb_per_conn: r1(d("client", (x) => x.memoryBytes) / n / KB),
        backend_kb_per_conn: r1(d("backend", (x) => x.memoryBytes) / n / KB),
        lb_cpu_ms_per_conn: Math.round((d("haproxy", (x) => x.cpuNs) / n / 1e6) * 1000) / 1000,
    };
}

/**
 * One attack of a run (the first, or a top-up), as the error count needs it. A paused attack
 * (SIGSTOP, bench/scale's back-off) sends nothing more, and once resumed after its planned duration
 * vegeta sends at most the one request each process was about to send, then ends: the rest of
 * its plan is never sent, and a top-up plans the connections still missing instead. vegeta's own
 * pacing can also end a sending a little short of rate × duration (2 of 300,000).
 */
export interface AttackAccount {
    /** Requests it was launched to send: its total rate × its duration. */
    planned: number;
    /**
     * Paused before its duration was over: the most it can have sent by then (its rate × the time
     * since it was launched; vegeta starts later, so this is an upper bound). Undefined: never paused.
     */
    sentByPauseAtMost?: number;
    /** Its merged vegeta results (requests, success ratio); undefined when it returned none. */
    summary?: { requests: number; success: number };
    /** vegeta processes that failed or whose results were not collected. */
    failedProcesses: number;
    /**
     * It returned on its own: each vegeta process ended after every request it had sent was
     * answered or failed, so its results hold every request it sent. False when the bench ended it
     * (an ended vegeta leaves out the requests it still waited for), or it failed or was lost.
     */
    complete: boolean;
}

/** One attack's requests: its plan, the plan revised to what a paused attack sent, and what became of them. */
export interface AttackCount {
    planned: number;
    /**
     * What it was to send in the end. An attack that returned on its own: what it sent (its results
     * hold every request it sent; what it did not send is the top-ups' to plan). One that did not
     * (ended by the bench, failed, lost): its plan, or when it was paused, the most it can have sent by then.
     */
    replanned: number;
    /** Requests in its results. */
    sent: number;
    answered: number;
    /** In its results, not successful. */
    failed: number;
    /** Of its revised plan, absent from its results: never sent, or sent and their results lost. */
    unsent: number;
}

/** One attack's count against its own revised plan. Pure. */
export function countAttack(a: AttackAccount): AttackCount {
    const sent = a.summary?.requests ?? 0;
    const answered = a.summary ? Math.round(sent * a.summary.success) : 0;
    const exact = a.complete && a.failedProcesses === 0 && a.summary !== undefined;
    const replanned = exact ? sent : a.sentByPauseAtMost === undefined ? a.planned : Math.min(a.planned, a.sentByPauseAtMost);
    return { planned: a.planned, replanned, sent, answered, failed: sent - answered, unsent: Math.max(0, replanned - sent) };
}

export interface ErrorCount {
    errors: number;
    /** The target: every connection the run was to hold is one request. */
    planned: number;
    /** The attacks' revised plans together (at least the target when the top-ups covered it). */
    replanned: number;
    /** Requests vegeta's merged results show, all attacks. */
    requests: number;
    /** Each attack's count, in launch order. */
    attacks: AttackCount[];
    causes: {
        /** Of an attack's revised plan, absent from its results: never sent, or sent by a process whose results were lost. */
        unsent: number;
        /** Of the target, in no attack's revised plan: no top-up planned them (none left, or the ramp stopped). */
        uncovered: number;
        /** In the results, not successful. */
        failed: number;
        /** vegeta processes that failed or whose results were not collected; an attack that returned nothing counts as one. */
        failed_processes: number;
        /** HAProxy's request errors (frontend) and connection/response errors (backend). */
        haproxy: number;
        /** The final HAProxy statistics could not be read: their errors are unknown, so not 0. */
        stats_unreadable: number;
    };
}

/**
 * Every planned request that did not succeed is an error, and so is every failure of the rig to
 * know. The target is the plan; each attack is held to its own revised plan (countAttack): what an
 * attack that returned on its own did not send is the top-ups' to send, and whatever of the
 * target no attack sent stays an error (uncovered). An attack whose results are incomplete keeps
 * its plan, so its missing results are errors that no other attack's extra requests (a paused
 * attack's last ones, sent once resumed; a top-up's rounding up) can hide. So are no attack result
 * at all (its whole plan), a failed or uncollected vegeta process, unreadable final statistics. Pure.
 */
export function countErrors(target: number, attacks: AttackAccount[], haproxyErrors: number | undefined): ErrorCount {
    const counts = attacks.map(countAttack);
    const sum = (f: (c: AttackCount) => number) => counts.reduce((a, c) => a + f(c), 0);
    const replanned = sum((c) => c.replanned);
    const unsent = sum((c) => c.unsent);
    const uncovered = Math.max(0, target - replanned);
    const failed = sum((c) => c.failed);
    const failedProcesses =
        attacks.reduce((a, x) => a + (x.summary === undefined ? Math.max(1, x.failedProcesses) : x.failedProcesses), 0) + (attacks.length ? 0 : 1);
    const statsUnreadable = haproxyErrors === undefined ? 1 : 0;
    const causes = { unsent, uncovered, failed, failed_processes: failedProcesses, haproxy: haproxyErrors ?? 0, stats_unreadable: statsUnreadable };
    return {
        errors: unsent + uncovered + failed + failedProcesses + (haproxyErrors ?? 0) + statsUnreadable,
        planned: target,
        replanned,
        requests: sum((c) => c.sent),
        attacks: counts,
        causes,
    };
}

/**
 * `/proc/net/softnet_stat` → packets the machine dropped because a CPU's input backlog was full
 * (second column, hex, one line per CPU; machine-wide: every namespace's veth traffic goes through
 * it). A SYN dropped there and in all its retransmissions fails a connect after ~6 s. Pure.
 */
export function parseSoftnetDrops(text: string): number {
    return text
        .split("\n")
        .filter((l) => l.trim())
        .reduce((a, l) => {
            const f = l.trim().split(/\s+/);
            const n = Number.parseInt(f[1] ?? "", 16);
            if (!Number.isFinite(n)) throw new Error(`/proc/net/softnet_stat: unreadable line ${JSON.stringify(l)}`);
            return a + n;
        }, 0);
}

/** A kill the kernel log reports in a cgroup (`oom-kill:… oom_memcg=/c2m/<stack>/<host>,…,task=haproxy,pid=N`). */
export interface KernelOomKill {
    pid: number;
    task: string;
    line: string;
}

/** The kernel's OOM kills in the cgroup `rel` (c2m/<stack>/<host>), from `dmesg` output, optionally only of `pids`. Pure. */
export function parseOomKills(dmesg: string, rel: string, pids?: number[]): KernelOomKill[] {
    const kills: KernelOomKill[] = [];
    for (const line of dmesg.split("\n")) {
        if (!line.includes("oom-kill:") || !line.includes(`oom_memcg=/${rel},`)) continue;
        const task = /[,:]task=([^,]+)/.exec(line)?.[1];
        const pid = Number(/[,:]pid=(\d+)/.exec(line)?.[1]);
        if (!task || !Number.isInteger(pid)) continue;
        if (pids && !pids.includes(pid)) continue;
        kills.push({ pid, task, line: line.trim() });
    }
    return kills;
}

/**
 * One sample of the ramp into a memory-limited LB: `held` from the hosts' sockets (the ramp's
 * decisions), `haproxyHeld` as HAProxy counted it (its statistics; undefined when not read), the
 * HAProxy processes in the host's cgroup (undefined when its cgroup.procs could not be read).
 */
export interface RampSample {
    t: number;
    held: number;
    oomKills: number;
    haproxyPids: number[] | undefined;
    haproxyHeld?: number;
}

export type RampEnding = "oom_kill" | "process_gone" | "plateau" | "ramp_end";

/**
 * Why the ramp ends now, or undefined while it goes on. The kernel's count of OOM kills in the
 * host's cgroup first, then a HAProxy process gone (killed without the count, e.g. an older
 * kernel), then connections that stopped growing for `plateauS` (less than 1 % of the peak), then
 * twice the attack's ramp (+30 s) over. Pure.
 */
export function rampEnding(samples: RampSample[], baseline: RampSample, o: { plateauS: number; rampS: number }): RampEnding | undefined {
    const s = samples.at(-1);
    if (!s) return undefined;
    if (s.oomKills > baseline.oomKills) return "oom_kill";
    // Processes not listed (cgroup.procs unreadable) are not gone: that sample says nothing of them.
    if (s.haproxyPids !== undefined && baseline.haproxyPids?.some((p) => !s.haproxyPids!.includes(p))) return "process_gone";
    const peak = Math.max(...samples.map((x) => x.held));
    const window = samples.filter((x) => x.t >= s.t - o.plateauS);
    if (s.t >= o.plateauS + 5 && peak > 0 && samples[0].t <= s.t - o.plateauS) {
        const before = samples.filter((x) => x.t < s.t - o.plateauS).map((x) => x.held);
        const grew = Math.max(...window.map((x) => x.held)) - Math.max(0, ...before);
        if (grew < 0.01 * peak) return "plateau";
    }
    // vegeta on a loaded machine falls behind its rate: give it twice the ramp before calling it over.
    if (s.t > 2 * o.rampS + 30) return "ramp_end";
    return undefined;
}

/** One vegeta result (`vegeta encode --to json`): start (RFC 3339), latency (ns), HTTP code (0 = no response). */
export interface VegetaResult {
    timestamp: string;
    latency: number;
    code: number;
    error?: string;
}

/**
 * Requests that ended before the ramp was stopped, and how many of them failed: every request is
 * held open by pong, so one that ended before the stop without a 200 is an error (refused, reset
 * by a killed HAProxy, timed out); the ones still open at the stop are what was held. Pure.
 */
export function errorsBeforeStop(results: VegetaResult[], stopMs: number): { started: number; failed: number } {
    let started = 0;
    let failed = 0;
    for (const r of results) {
        const start = Date.parse(r.timestamp);
        if (!(start < stopMs)) continue;
        started++;
        const end = start + r.latency / 1e6;
        if (end < stopMs && r.code !== 200) failed++;
    }
    return { started, failed };
}

/** Endings that are a kill: the sample that saw one was read after it. */
const KILLS: readonly string[] = ["oom_kill", "process_gone"];

/**
 * held_at_oom: what HAProxy counted at its last reading before the kill — the samples before the
 * one that saw a kill (that one was read after it; for any other ending, up to the last sample) —
 * with how long before that sample it was read; and the most HAProxy counted at any of those
 * readings (the peak, its own figure). null when HAProxy's statistics were never read. Pure.
 */
export function heldAtOom(samples: RampSample[], by: string): { held: number | null; ageS: number | null; peak: number | null } {
    const last = samples.at(-1);
    if (!last) return { held: null, ageS: null, peak: null };
    const before = KILLS.includes(by) ? samples.slice(0, -1) : samples;
    const read = before.filter((s) => s.haproxyHeld !== undefined);
    const at = read.at(-1);
    if (!at) return { held: null, ageS: null, peak: null };
    return { held: at.haproxyHeld!, ageS: Math.round((last.t - at.t) * 100) / 100, peak: Math.max(...read.map((s) => s.haproxyHeld!)) };
}

/**
 * Whether the LB's HAProxy was killed: a kill the cgroup counted or the kernel logged is known; else
 * a baseline process missing from the host's processes at the end is gone; when those could not be
 * listed (cgroup.procs unreadable), gone and killed are unknown, not "gone" nor false. Pure.
 */
export function killedState(o: { oomKillsRose: boolean; kernelKills: number; baselinePids: number[]; lastPids: number[] | undefined }): {
    killed: boolean | "unknown";
    gone: number[] | "unknown";
} {
    const gone = o.lastPids === undefined ? ("unknown" as const) : o.baselinePids.filter((p) => !o.lastPids!.includes(p));
    if (o.oomKillsRose || o.kernelKills > 0) return { killed: true, gone };
    if (gone === "unknown") return { killed: "unknown", gone };
    return { killed: gone.length > 0, gone };
}
