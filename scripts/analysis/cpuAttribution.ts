// Which host's CPU limited a tipping search's knee: what each host may use (its CPUs and quota, read
// on the host), what it used during a step (cgroup and per-process counters, idle shares), which
// hosts were saturated or behind, and the attribution of the knee to a host. Pure but for the
// scripts it hands to hosts.
import type { Attribution, HostCpu, StepMeasure, TippingResult } from "../../components/records/tippingRecord.ts";
import { fmtRate, formatCores } from "./tippingTable.ts";
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

/** Share of the allowance above which a host counts as saturated. */
export const SATURATION = 0.9;

const fmtCores = (x: number) => x.toFixed(2);
/** A CPU list as c2m:local.hostLimits takes it: "0", "0-1", "0,2". */
export const cpuListText = (cpus: number[]) =>
    cpus.length > 1 && cpus.every((c, i) => i === 0 || c === cpus[i - 1] + 1) ? `${cpus[0]}-${cpus.at(-1)}` : cpus.join(",");

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
                `CPUs ${cpuListText(a.cpus)} busy ${fmtCores(busyCores)} of ${a.cpus.length}` +
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
