// bench/scale's decisions, pure: when the ramp has reached its target or is over short of it,
// what the progress line says when HAProxy's statistics could not be read, and which host (or
// the machine's other work) was the limit when the target was not held. Inputs are cumulative
// counters sampled by the bench: each host's cgroup CPU time, its namespace's accept-queue drops
// (TcpExt ListenDrops/ListenOverflows), the machine's busy CPU time (/proc/stat).
import type { Role } from "../components/types.ts";

/** One sample: cumulative counters at `t` (seconds since the attack started). */
export interface RampPoint {
    t: number;
    /** End-to-end connections held; undefined when HAProxy's statistics could not be read. */
    held: number | undefined;
    /** Per host: its cgroup's CPU time (ns) and its namespace's listen-queue drops (count). */
    hosts: Record<string, { role: Role; cpuNs: number; listenDrops: number }>;
    /** Busy CPU time of the whole machine (ns, all CPUs: lab and everything else). */
    machineBusyNs: number;
    /** CPUs of the machine. */
    cpus: number;
}

export interface RampPlan {
    target: number;
    /** Held connections that have not grown by more than 0.1 % of the target for this long while vegeta sends: stalled, s. */
    stallS: number;
    /** After vegeta's planned sending is over, this long without growth: the requests still in flight have landed, s. */
    settleS: number;
    /** The ramp is over at this time whatever happens, s. */
    deadlineS: number;
}

export type RampState =
    | { phase: "ramping" }
    | { phase: "reached"; t: number }
    /** stalled: no growth for stallS while vegeta should still be sending (the machine does not keep up);
     *  ended: vegeta's planned sending is over and nothing grew for settleS; deadline: deadlineS passed. */
    | { phase: "stopped"; t: number; why: "stalled" | "ended" | "deadline" };

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
 * The target reached (the last readable held ≥ target) starts the hold; no growth for stallS
 * while vegeta sends is a stall (the bench stops vegeta); no growth for settleS once its sending
 * is over means it has nothing more to land (the bench may top up, else the ramp ended short).
 * Points whose statistics were unreadable decide nothing. Pure.
 */
export function rampState(points: RampPoint[], plan: RampPlan, sendingEndT: number, sendingStartT = 0): RampState {
    const last = points.at(-1);
    if (!last) return { phase: "ramping" };
    const latest = points.filter((p) => p.held !== undefined).at(-1);
    if (latest && latest.t === last.t && latest.held! >= plan.target) return { phase: "reached", t: last.t };
    if (last.t >= plan.deadlineS) return { phase: "stopped", t: last.t, why: "deadline" };
    const flat = (s: number) => { const g = growthOver(points, s); return g !== undefined && g <= plan.target * 0.001; };
    // Before the current attack's first connection lands (vegeta starting on a loaded machine: a top-up's attack took
    // a minute to start at load 100) nothing has stalled yet: the deadline bounds that wait.
    const readable = points.filter((p) => p.held !== undefined);
    const atStart = [...readable].reverse().find((p) => p.t <= sendingStartT)?.held ?? 0;
    const started = readable.some((p) => p.t > sendingStartT && p.held! > atStart);
    if (last.t <= sendingEndT) return started && flat(plan.stallS) ? { phase: "stopped", t: last.t, why: "stalled" } : { phase: "ramping" };
    if (last.t >= sendingEndT + plan.settleS && flat(plan.settleS)) return { phase: "stopped", t: last.t, why: "ended" };
    return { phase: "ramping" };
}

/** One attack the bench launched: when, at what total rate, for how long. */
export interface Sending { startT: number; rate: number; durationS: number }

/**
 * After an attack whose sending ended short of the target: a top-up for the connections still
 * missing, at a rate the machine showed it can keep up with (80 % of what the last attack
 * achieved, never above the plan's rate, at least 10/s), or undefined when a top-up would not
 * help (none missing, no top-up left, the last one made no progress). Pure.
 */
export function topUp(points: RampPoint[], target: number, sendings: Sending[], o: { maxTopUps: number; planRate: number }):
    { count: number; rate: number; durationS: number } | undefined {
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
    /** The role (or the machine's other work) that used the most CPU of a saturated machine, or whose listeners dropped. */
    what: Role | "outside the lab";
    /** Its busiest host (a lab role), or null. */
    host: string | null;
    resource: "cpu" | "accept_queue";
    /** Cores it used over the ramp (cpu), or connections its listeners dropped (accept_queue). */
    amount: number;
}

export interface Verdict {
    /** held: the target held for the whole window with 0 errors; short: fewer held; errors: held, but requests failed or went unsent. */
    verdict: "held" | "short" | "errors";
    /** What limited the run (null when it held, or when nothing measured explains the shortfall). */
    limit: Limit | null;
    /** One sentence for a person. */
    note: string;
    /** CPU over the ramp: by role and the machine's other work (cores), the machine's busy share. */
    ramp_cpu: { roles: CpuUse["roles"]; outside: number; busy_share: number; cpus: number };
    /** Accept-queue drops (ListenDrops + ListenOverflows) per host over the run, only hosts that dropped. */
    listen_drops: Record<string, number>;
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
    target: number; held: number | null; errors: number; points: RampPoint[]; rampFrom: number; rampTo: number;
}): Verdict {
    const { points } = o;
    const first = points.find((p) => p.t >= o.rampFrom) ?? points[0];
    // The ramp's active part: up to the first point at its final count (a stall after it says nothing of the limit).
    const inRamp = points.filter((p) => p.t >= o.rampFrom && p.t <= o.rampTo && p.held !== undefined);
    const top = inRamp.length ? Math.max(...inRamp.map((p) => p.held!)) : undefined;
    const activeEnd = top === undefined ? o.rampTo : (inRamp.find((p) => p.held === top)?.t ?? o.rampTo);
    const lastRamp = [...points].reverse().find((p) => p.t <= activeEnd && p.t > (first?.t ?? 0)) ?? [...points].reverse().find((p) => p.t <= o.rampTo) ?? points.at(-1);
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
    const heldAll = o.held !== null && o.held >= o.target;
    const kind: Verdict["verdict"] = !heldAll ? "short" : o.errors > 0 ? "errors" : "held";
    if (kind === "held") {
        return { verdict: kind, limit: null, note: `held ${o.held} of ${o.target} for the whole window, 0 errors`, ramp_cpu, listen_drops: drops };
    }
    let limit: Limit | null = null;
    if (cpu && cpu.busyShare >= SATURATED_SHARE) {
        const candidates: [Limit["what"], number][] = [...Object.entries(cpu.roles) as [Role, number][], ["outside the lab", cpu.outside]];
        const [what, cores] = candidates.reduce((best, c) => (c[1] > best[1] ? c : best));
        const hosts = Object.entries(cpu.hosts).filter(([, h]) => h.role === what).sort((x, y) => y[1].cores - x[1].cores);
        limit = { what, host: hosts[0]?.[0] ?? null, resource: "cpu", amount: r2(cores) };
    } else {
        const worst = Object.entries(drops).sort((x, y) => y[1] - x[1])[0];
        if (worst) {
            const role = points.at(-1)!.hosts[worst[0]].role;
            limit = { what: role, host: worst[0], resource: "accept_queue", amount: worst[1] };
        }
    }
    const outcome = kind === "short"
        ? `held ${o.held ?? "(unreadable)"} of ${o.target}`
        : `held ${o.held} of ${o.target} but ${o.errors} errors`;
    const busy = cpu ? `the machine was ${Math.round(cpu.busyShare * 100)} % busy over the ramp (${cpu.cpus} CPUs)` : "no CPU figures over the ramp";
    const dropText = Object.keys(drops).length ? `; accept-queue drops: ${Object.entries(drops).map(([h, n]) => `${h} ${n}`).join(", ")}` : "";
    const limitText = limit === null ? "no measured limit explains it"
        : limit.resource === "cpu"
            ? `limit: CPU, most used by ${limit.what === "outside the lab" ? "processes outside the lab" : `the ${limit.what} role`} (${limit.amount} cores${limit.host ? `, busiest host ${limit.host}` : ""})`
            : `limit: ${limit.host}'s listeners dropped ${limit.amount} connections (accept queue)`;
    return { verdict: kind, limit, note: `${outcome}: ${busy}; ${limitText}${dropText}`, ramp_cpu, listen_drops: drops };
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

/** `/proc/net/netstat` → TcpExt ListenDrops + ListenOverflows (the kernel counts an overflow as a drop too: take the larger). Pure. */
export function parseListenDrops(text: string): number {
    const lines = text.split("\n").filter((l) => l.startsWith("TcpExt:"));
    if (lines.length < 2) throw new Error("/proc/net/netstat has no TcpExt lines");
    const names = lines[0].trim().split(/\s+/).slice(1);
    const values = lines[1].trim().split(/\s+/).slice(1).map(Number);
    const get = (n: string) => { const i = names.indexOf(n); return i < 0 ? 0 : values[i] ?? 0; };
    return Math.max(get("ListenDrops"), get("ListenOverflows"));
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
    return `d=$(mktemp -d) && i=0 && for u in ${urls.map((u) => quote(`${u};csv`)).join(" ")}; do ` +
        `{ curl -sS -f --connect-timeout 5 --max-time 8 "$u" > "$d/$i" 2>&1 || echo "#FAILED curl exit $?" >> "$d/$i"; } & i=$((i+1)); done; wait; ` +
        `i=0; for u in ${urls.map((u) => quote(`${u};csv`)).join(" ")}; do echo "#URL $u"; cat "$d/$i"; i=$((i+1)); done; rm -rf "$d"`;
}

/** The batch's output → the rows of every page; throws naming the pages that failed (a partial sum would be a wrong count). Pure. */
export function parseStatsBatch<Row>(stdout: string, urls: string[], parsePage: (csv: string) => Row[]): Row[] {
    const pages = new Map<string, string>();
    let current: string | undefined;
    for (const line of stdout.split("\n")) {
        if (line.startsWith("#URL ")) { current = line.slice(5).trim(); pages.set(current, ""); continue; }
        if (current !== undefined) pages.set(current, `${pages.get(current)}${line}\n`);
    }
    const rows: Row[] = [];
    const failed: string[] = [];
    for (const u of urls) {
        const page = pages.get(`${u};csv`);
        if (page === undefined) { failed.push(`${u}: no answer`); continue; }
        const fail = /#FAILED (.*)/.exec(page);
        if (fail) { failed.push(`${u}: ${page.replace(/#FAILED.*/, "").trim().split("\n").at(-1) || fail[1]}`.trim()); continue; }
        try { rows.push(...parsePage(page)); } catch (err) { failed.push(`${u}: ${(err as Error).message}`); }
    }
    if (failed.length) throw new Error(`${failed.length} of ${urls.length} statistics pages unread: ${failed.slice(0, 3).join("; ")}`);
    return rows;
}
