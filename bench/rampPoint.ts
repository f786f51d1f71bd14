// One sample of bench/scale's ramp, the input of its decisions (bench/ramp.ts) and of its verdict
// (bench/rampVerdict.ts): counters sampled by the bench, each host's cgroup CPU time and memory,
// its namespace's accept-queue drops (TcpExt ListenDrops/ListenOverflows), the machine's busy CPU
// time (/proc/stat) and its available memory (/proc/meminfo).
import type { Role } from "../components/types.ts";

/** One sample: cumulative counters at `t` (seconds since the attack started). */
export interface RampPoint {
    t: number;
    /** End-to-end connections held; undefined when they could not be counted. */
    held: number | undefined;
    /**
     * held was estimated from the sockets (HAProxy's statistics not read this sample): off by a few
     * (SYN_SENT sockets, health checks against the idle baseline; 300,005 from sockets at 299,999
     * counted by HAProxy), so it never decides that the target was reached.
     */
    estimated?: boolean;
    /** Connections the clients opened (above the idle lab) that are not end to end yet: TCP or TLS handshakes, requests on their way. */
    inFlight: number;
    /** Per host: its cgroup's CPU time (ns) and memory (bytes), its namespace's listen-queue drops (count). */
    hosts: Record<string, { role: Role; cpuNs: number; memoryBytes: number; listenDrops: number }>;
    /** Busy CPU time of the whole machine (ns, all CPUs: lab and everything else). */
    machineBusyNs: number;
    /** CPUs of the machine. */
    cpus: number;
    /** The machine's memory: MemAvailable and MemTotal (/proc/meminfo), bytes. */
    memAvailableBytes: number;
    memTotalBytes: number;
}

/** Where a held count came from: HAProxy's statistics, or the hosts' sockets (an estimate). */
export type HeldSource = "haproxy" | "sockets";

/** `/proc/stat`'s first line → the machine's busy time in ns (all but idle and iowait; USER_HZ = 100) and its CPUs. Pure. */
export function parseProcStat(text: string): { busyNs: number; cpus: number } {
    const lines = text.split("\n");
    const all = lines.find((l) => /^cpu\s/.test(l));
    if (!all) throw new Error("/proc/stat has no cpu line");
    const f = all.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 4 || f.some((x) => !Number.isFinite(x))) throw new Error(`/proc/stat: unreadable cpu line ${JSON.stringify(all)}`);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const busy = f.slice(0, 8).reduce((a, x) => a + x, 0) - f[3] - (f[4] ?? 0);
    return { busyNs: busy * 1e7, cpus: lines.filter((l) => /^cpu\d+\s/.test(l)).length };
}
