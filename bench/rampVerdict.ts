// bench/scale's verdict, pure: whether the target was held, and which host (or the machine's other
// work, or its memory) was the limit when it was not, from the ramp's points (bench/rampPoint.ts).
import type { Role } from "../components/types.ts";
import type { HeldSource, RampPoint } from "./rampPoint.ts";

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
