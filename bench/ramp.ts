// bench/scale's decisions, pure: when the ramp has reached its target or is over short of it,
// what the progress line says when HAProxy's statistics could not be read, and which host (or
// the machine's other work, or its memory) was the limit when the target was not held. Inputs are
// counters sampled by the bench: each host's cgroup CPU time and memory, its namespace's
// accept-queue drops (TcpExt ListenDrops/ListenOverflows), the machine's busy CPU time
// (/proc/stat) and its available memory (/proc/meminfo).
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

/** Where a held count came from: HAProxy's statistics, or the hosts' sockets (an estimate). */
export type HeldSource = "haproxy" | "sockets";

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

/** What used the CPUs over an interval, in cores (CPU-seconds per second). */
export interface CpuUse {
    /** Each host's cgroup. */
    hosts: Record<string, { role: Role; cores: number }>;
    /** Each role's hosts together. */
    roles: Partial<Record<Role, number>>;
    /** The machine's busy time that no lab host accounts for: other users of the machine. */
    outside: number;
    /** The whole machine's busy cores, and its share of all CPUs. */
    busy: number;
    busyShare: number;
    cpus: number;
}

const r2 = (n: number) => Math.round(n * 100) / 100;

/** CPU use between two points. Pure. */
export function cpuBetween(a: RampPoint, b: RampPoint): CpuUse {
    const dt = Math.max(1e-3, b.t - a.t);
    const hosts: CpuUse["hosts"] = {};
    const roles: CpuUse["roles"] = {};
    let lab = 0;
    for (const [name, h] of Object.entries(b.hosts)) {
        const cores = Math.max(0, h.cpuNs - (a.hosts[name]?.cpuNs ?? h.cpuNs)) / 1e9 / dt;
        hosts[name] = { role: h.role, cores: r2(cores) };
        roles[h.role] = r2((roles[h.role] ?? 0) + cores);
        lab += cores;
    }
    const busy = Math.max(0, b.machineBusyNs - a.machineBusyNs) / 1e9 / dt;
    return { hosts, roles, outside: r2(Math.max(0, busy - lab)), busy: r2(busy), busyShare: r2(busy / Math.max(1, b.cpus)), cpus: b.cpus };
}

/** What limited a ramp. */
export interface Limit {
    /**
     * The role (or the machine's other work) that used the most CPU of a saturated machine, the
     * most memory of a machine out of it, or whose listeners dropped.
     */
    what: Role | "outside the lab";
    /** Its busiest host (a lab role), or null. */
    host: string | null;
    resource: "cpu" | "memory" | "accept_queue";
    /** Cores it used over the ramp (cpu), GiB it used (memory), or connections its listeners dropped (accept_queue). */
    amount: number;
    /**
     * machine: this machine ran out (its CPUs or memory, shared by clients, backends and other
     * work, or a client's or backend's listeners), not HAProxy; haproxy: the system under test
     * (the LB's CPU on a saturated machine, the LB's accept queue).
     */
    bound: "machine" | "haproxy";
}

/** What the machine's memory says at the ramp's most-held point: what the lab used per connection, and what the target would need. */
export interface MemoryUse {
    /** The lab's hosts' memory above the idle lab, GiB, and per end-to-end connection held then, KB. */
    lab_gib: number;
    kb_per_conn: number;
    held: number;
    /** At that rate, what the target needs above the idle lab, and what the machine had available when the lab was idle, GiB. */
    target_needs_gib: number;
    available_idle_gib: number;
    /** The least available memory seen, GiB. */
    available_min_gib: number;
}

export interface Verdict {
    /**
     * held: the target held for the whole window with 0 errors, counted by HAProxy; short: fewer
     * held; errors: held, but requests failed or went unsent; unknown: the target reached by the
     * sockets' estimate only (HAProxy's statistics not read in the window), which cannot say held.
     */
    verdict: "held" | "short" | "errors" | "unknown";
    /** What limited the run (null when it held, or when nothing measured explains the shortfall). */
    limit: Limit | null;
    /** One sentence for a person. */
    note: string;
    /** CPU over the ramp: by role and the machine's other work (cores), the machine's busy share. */
    ramp_cpu: { roles: CpuUse["roles"]; outside: number; busy_share: number; cpus: number };
    /** Accept-queue drops (ListenDrops + ListenOverflows) per host over the run, only hosts that dropped. */
    listen_drops: Record<string, number>;
    /** Memory at the most held point (null when nothing was held). */
    memory: MemoryUse | null;
}

const GIB = 2 ** 30;

/** The lab's memory at the most-held readable point against the first (idle) point. Pure. */
export function memoryUse(points: RampPoint[], target: number): MemoryUse | null {
    const idle = points[0];
    const readable = points.filter((p) => p.held !== undefined && p.held > 0);
    if (!idle || readable.length === 0) return null;
    const top = readable.reduce((a, p) => (p.held! > a.held! ? p : a));
    const labBytes = (p: RampPoint) => Object.values(p.hosts).reduce((a, h) => a + h.memoryBytes, 0);
    const used = Math.max(0, labBytes(top) - labBytes(idle));
    const perConn = used / top.held!;
    return {
        lab_gib: r2(used / GIB),
        kb_per_conn: Math.round((perConn / 1024) * 10) / 10,
        held: top.held!,
        target_needs_gib: r2((perConn * target) / GIB),
        available_idle_gib: r2(idle.memAvailableBytes / GIB),
        available_min_gib: r2(Math.min(...points.map((p) => p.memAvailableBytes)) / GIB),
    };
}

/** A machine this busy over the ramp is saturated: whatever used the most of it is the limit. */
export const SATURATED_SHARE = 0.9;

/**
 * The run's verdict from its points: the ramp's interval [from, to] for CPU, the whole run for
 * accept-queue drops. A saturated machine names the role (or the machine's other work) that used
 * the most CPU over the ramp, and its busiest host; listeners that dropped connections are named
 * when the machine was not saturated. Pure.
 */
export function verdict(o: {
    target: number;
    held: number | null;
    errors: number;
    points: RampPoint[];
    rampFrom: number;
    rampTo: number;
    /** Where `held` came from: HAProxy's statistics, or the sockets' estimate (off by a few; never enough to say held). */
    heldSource: HeldSource | null;
    /** The ramp's memory floor (RampPlan.memoryFloorBytes): below it, the machine's memory is the limit. */
    memoryFloorBytes: number;
}): Verdict {
    const { points } = o;
    const first = points.find((p) => p.t >= o.rampFrom) ?? points[0];
    // The ramp's active part: up to the first point at its final count (a stall after it says nothing of the limit).
    const inRamp = points.filter((p) => p.t >= o.rampFrom && p.t <= o.rampTo && p.held !== undefined);
    const top = inRamp.length ? Math.max(...inRamp.map((p) => p.held!)) : undefined;
    const activeEnd = top === undefined ? o.rampTo : (inRamp.find((p) => p.held === top)?.t ?? o.rampTo);
    const lastRamp =
        [...points].reverse().find((p) => p.t <= activeEnd && p.t > (first?.t ?? 0)) ?? [...points].reverse().find((p) => p.t <= o.rampTo) ?? points.at(-1);
    const cpu = first && lastRamp && lastRamp.t > first.t ? cpuBetween(first, lastRamp) : undefined;
    const drops: Record<string, number> = {};
    if (points.length >= 2) {
        const a = points[0];
        const b = points.at(-1)!;
        for (const [name, h] of Object.entries(b.hosts)) {
            const d = h.listenDrops - (a.hosts[name]?.listenDrops ?? h.listenDrops);
            if (d > 0) drops[name] = d;
        }
    }
    const ramp_cpu = { roles: cpu?.roles ?? {}, outside: cpu?.outside ?? 0, busy_share: cpu?.busyShare ?? 0, cpus: cpu?.cpus ?? 0 };
    const memory = memoryUse(points, o.target);
    const heldAll = o.held !== null && o.held >= o.target;
    const kind: Verdict["verdict"] = !heldAll ? "short" : o.errors > 0 ? "errors" : o.heldSource !== "haproxy" ? "unknown" : "held";
    if (kind === "held") {
        return { verdict: kind, limit: null, note: `held ${o.held} of ${o.target} for the whole window, 0 errors`, ramp_cpu, listen_drops: drops, memory };
    }
    if (kind === "unknown") {
        return {
            verdict: kind,
            limit: null,
            ramp_cpu,
            listen_drops: drops,
            memory,
            note: `${o.held} of ${o.target} by the sockets' estimate only: HAProxy's statistics were not read during the hold, so whether the target was held is unknown`,
        };
    }
    let limit: Limit | null = null;
    const lowest = points.length ? points.reduce((a, p) => (p.memAvailableBytes < a.memAvailableBytes ? p : a)) : undefined;
    if (lowest && lowest.memAvailableBytes < o.memoryFloorBytes) {
        // Out of memory: the role whose hosts grew the most from the idle lab to then.
        const grown = Object.entries(lowest.hosts).map(([name, h]) => ({
            name,
            role: h.role,
            bytes: h.memoryBytes - (points[0].hosts[name]?.memoryBytes ?? 0),
        }));
        const byRole = new Map<Role, number>();
        for (const g of grown) byRole.set(g.role, (byRole.get(g.role) ?? 0) + g.bytes);
        const [what, bytes] = [...byRole].reduce((best, c) => (c[1] > best[1] ? c : best));
        const host = grown.filter((g) => g.role === what).sort((a, b) => b.bytes - a.bytes)[0]?.name ?? null;
        limit = { what, host, resource: "memory", amount: r2(bytes / GIB), bound: "machine" };
    } else if (cpu && cpu.busyShare >= SATURATED_SHARE) {
        const candidates: [Limit["what"], number][] = [...(Object.entries(cpu.roles) as [Role, number][]), ["outside the lab", cpu.outside]];
        const [what, cores] = candidates.reduce((best, c) => (c[1] > best[1] ? c : best));
        const hosts = Object.entries(cpu.hosts)
            .filter(([, h]) => h.role === what)
            .sort((x, y) => y[1].cores - x[1].cores);
        limit = { what, host: hosts[0]?.[0] ?? null, resource: "cpu", amount: r2(cores), bound: what === "haproxy" ? "haproxy" : "machine" };
    } else {
        const worst = Object.entries(drops).sort((x, y) => y[1] - x[1])[0];
        if (worst) {
            const role = points.at(-1)!.hosts[worst[0]].role;
            limit = { what: role, host: worst[0], resource: "accept_queue", amount: worst[1], bound: role === "haproxy" ? "haproxy" : "machine" };
        }
    }
    const outcome = kind === "short" ? `held ${o.held ?? "(unreadable)"} of ${o.target}` : `held ${o.held} of ${o.target} but ${o.errors} errors`;
    const busy = cpu ? `the machine was ${Math.round(cpu.busyShare * 100)} % busy over the ramp (${cpu.cpus} CPUs)` : "no CPU figures over the ramp";
    const dropText = Object.keys(drops).length
        ? `; accept-queue drops: ${Object.entries(drops)
              .map(([h, n]) => `${h} ${n}`)
              .join(", ")}`
        : "";
    const who = (l: Limit) => (l.what === "outside the lab" ? "processes outside the lab" : `the ${l.what} role`);
    const limitText =
        limit === null
            ? "no measured limit explains it"
            : limit.resource === "memory"
              ? `limit: this machine's memory (${
                    memory
                        ? `${memory.available_min_gib} GiB available at the least, of ${memory.available_idle_gib} with the lab idle; ` +
                          `the lab used ${memory.kb_per_conn} KB per connection at ${memory.held} held, so ${o.target} need ${memory.target_needs_gib} GiB; `
                        : ""
                }` + `most used by ${who(limit)}, ${limit.amount} GiB${limit.host ? `, largest host ${limit.host}` : ""})`
              : limit.resource === "cpu"
                ? `limit: CPU, most used by ${who(limit)} (${limit.amount} cores${limit.host ? `, busiest host ${limit.host}` : ""})`
                : `limit: ${limit.host}'s listeners dropped ${limit.amount} connections (accept queue)`;
    const bound = limit === null ? "" : limit.bound === "machine" ? " — the machine was the limit, not HAProxy" : " — HAProxy was the limit";
    return { verdict: kind, limit, note: `${outcome}: ${busy}; ${limitText}${bound}${dropText}`, ramp_cpu, listen_drops: drops, memory };
}

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

/**
 * One shell line that reads every HAProxy process's CSV statistics page on the LB host: one SSH
 * connection per sample instead of one per process (a 300k lab has ~35 processes, and 35 SSH
 * handshakes a second are CPU the 2-core machine does not have). Pure.
 */
export function statsBatchCommand(urls: string[]): string {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    for (const u of urls) if (!/^https?:\/\//.test(u)) throw new Error(`not an http(s) URL: ${u}`);
    // All pages at once (a busy process answers late, and ~35 of them one after another outlast any sample), each into its own file.
    return (
        `d=$(mktemp -d) && i=0 && for u in ${urls.map((u) => quote(`${u};csv`)).join(" ")}; do ` +
        `{ curl -sS -f --connect-timeout 3 --max-time 4 "$u" > "$d/$i" 2>&1 || echo "#FAILED curl exit $?" >> "$d/$i"; } & i=$((i+1)); done; wait; ` +
        `i=0; for u in ${urls.map((u) => quote(`${u};csv`)).join(" ")}; do echo "#URL $u"; cat "$d/$i"; i=$((i+1)); done; rm -rf "$d"`
    );
}

/** The batch's output → the rows of every page; throws naming the pages that failed (a partial sum would be a wrong count). Pure. */
export function parseStatsBatch<Row>(stdout: string, urls: string[], parsePage: (csv: string) => Row[]): Row[] {
    const pages = new Map<string, string>();
    let current: string | undefined;
    for (const line of stdout.split("\n")) {
        if (line.startsWith("#URL ")) {
            current = line.slice(5).trim();
            pages.set(current, "");
            continue;
        }
        if (current !== undefined) pages.set(current, `${pages.get(current)}${line}\n`);
    }
    const rows: Row[] = [];
    const failed: string[] = [];
    for (const u of urls) {
        const page = pages.get(`${u};csv`);
        if (page === undefined) {
            failed.push(`${u}: no answer`);
            continue;
        }
        const fail = /#FAILED (.*)/.exec(page);
        if (fail) {
            failed.push(
                `${u}: ${
                    page
                        .replace(/#FAILED.*/, "")
                        .trim()
                        .split("\n")
                        .at(-1) || fail[1]
                }`.trim(),
            );
            continue;
        }
        try {
            rows.push(...parsePage(page));
        } catch (err) {
            failed.push(`${u}: ${(err as Error).message}`);
        }
    }
    if (failed.length) throw new Error(`${failed.length} of ${urls.length} statistics pages unread: ${failed.slice(0, 3).join("; ")}`);
    return rows;
}
