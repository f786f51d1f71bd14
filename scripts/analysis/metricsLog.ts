// HAProxy's HTTP request log (option httplog), as the seed read it to see where time went:
// parsing one line, then summing a run's lines up into timer percentiles (TR/Tq, Tw, Tc, Tr,
// Ta), termination-state and status counts, and a per-second timeline. Pure.

export interface HaproxyLogRecord {
    /** When the line was received (ms since epoch); the run window is cut on it. */
    atMs: number;
    frontend: string;
    backend: string;
    server: string;
    /** TR (Tq before HAProxy 1.9), Tw, Tc, Tr, Ta in ms; -1 = that phase was never reached. */
    tq: number;
    tw: number;
    tc: number;
    tr: number;
    ta: number;
    status: number;
    bytes: number;
    /** Termination state, 4 characters (e.g. "----", "sH--", "CD--"). */
    termination: string;
    /** actconn/feconn/beconn/srv_conn/retries when the request was logged. */
    actconn: number;
    /** srv_queue/backend_queue. */
    srvQueue: number;
    backendQueue: number;
}

// … [accept date] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes cookie cookie tsc act/fe/be/srv/retries sq/bq "request"
const LINE = /\] (\S+) (\S+)\/(\S+) (-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+)\/\+?(-?\d+) (-?\d+) \+?(\d+) \S+ \S+ (\S{4}) (\d+)\/\d+\/\d+\/\d+\/\+?\d+ (\d+)\/(\d+) /;

/** One log line (as received, with an optional leading "<recv ms> " added by the lab's sink). */
export function parseHaproxyLogLine(line: string, atMs?: number): HaproxyLogRecord | undefined {
    let at = atMs;
    let text = line;
    const stamp = /^(\d{13}) /.exec(line);
    if (stamp) {
        at = Number(stamp[1]);
        text = line.slice(14);
    }
    const m = LINE.exec(text);
    if (!m) return undefined;
    const n = (i: number) => Number(m[i]);
    return {
        atMs: at ?? 0,
        frontend: m[1].replace(/~$/, ""),
        backend: m[2],
        server: m[3],
        tq: n(4),
        tw: n(5),
        tc: n(6),
        tr: n(7),
        ta: n(8),
        status: n(9),
        bytes: n(10),
        termination: m[11],
        actconn: n(12),
        srvQueue: n(13),
        backendQueue: n(14),
    };
}

const FIRST: Record<string, string> = {
    "-": "normal end",
    C: "client aborted",
    S: "server aborted or refused",
    P: "proxy refused (ACL, limits)",
    L: "served locally",
    R: "resource exhausted",
    I: "internal error",
    D: "server went down",
    U: "server taken out of service",
    K: "killed by admin",
    c: "client timeout",
    s: "server timeout",
};
const SECOND: Record<string, string> = {
    "-": "",
    R: "waiting for the request",
    Q: "waiting in the queue",
    C: "connecting to the server",
    H: "waiting for response headers",
    D: "during the data phase",
    L: "sending the last data",
    T: "tarpitted",
};

export function terminationMeaning(state: string): string {
    const [a, b] = [state[0] ?? "-", state[1] ?? "-"];
    const where = SECOND[b] ?? `phase ${b}`;
    return `${FIRST[a] ?? `cause ${a}`}${where ? `, ${where}` : ""}`;
}

const TIMERS = [
    { key: "tq", name: "TR (Tq)", meaning: "time to receive the full request from the client" },
    { key: "tw", name: "Tw", meaning: "time waiting in HAProxy's queues" },
    { key: "tc", name: "Tc", meaning: "time to connect to the backend server" },
    { key: "tr", name: "Tr", meaning: "server response time (headers)" },
    { key: "ta", name: "Ta", meaning: "total active time of the request" },
] as const;

export interface HaproxyLogSummary {
    requests: number;
    unparsed: number;
    frontends: Record<string, number>;
    timers: { name: string; meaning: string; p50: number; p90: number; p99: number; max: number; reached: number }[];
    termination: { state: string; count: number; meaning: string }[];
    status: { code: string; count: number }[];
    maxQueue: { server: number; backend: number };
    /** p99 of Tw, Tr and Ta per bin (for the report's plot), seconds since `startMs`. */
    timeline: { binS: number; startMs: number; bins: { t: number; requests: number; twP99: number; trP99: number; taP99: number }[] };
}

function pick(sorted: number[], q: number): number {
    if (sorted.length === 0) return 0;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Sums a run's records up; the stats frontend (scrapes) is left out. */
export function summariseHaproxyLog(records: HaproxyLogRecord[], options: { unparsed?: number; startMs?: number; binS?: number } = {}): HaproxyLogSummary {
    const rs = records.filter((r) => r.frontend !== "stats");
    const count = <K extends string>(key: (r: HaproxyLogRecord) => K) => {
        const m = new Map<K, number>();
        for (const r of rs) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
        return [...m].sort((a, b) => b[1] - a[1]);
    };
    const timers = TIMERS.map((t) => {
        const values = rs
            .map((r) => r[t.key])
            .filter((v) => v >= 0)
            .sort((a, b) => a - b);
        return {
            name: t.name,
            meaning: t.meaning,
            p50: pick(values, 0.5),
            p90: pick(values, 0.9),
            p99: pick(values, 0.99),
            max: values.at(-1) ?? 0,
            reached: values.length,
        };
    });
    const startMs = options.startMs ?? Math.min(...rs.map((r) => r.atMs), Date.now());
    const binS = options.binS ?? 1;
    const bins = new Map<number, HaproxyLogRecord[]>();
    for (const r of rs) {
        const b = Math.max(0, Math.floor((r.atMs - startMs) / 1000 / binS));
        if (!bins.has(b)) bins.set(b, []);
        bins.get(b)!.push(r);
    }
    const p99 = (xs: HaproxyLogRecord[], k: "tw" | "tr" | "ta") =>
        pick(
            xs
                .map((r) => r[k])
                .filter((v) => v >= 0)
                .sort((a, b) => a - b),
            0.99,
        );
    return {
        requests: rs.length,
        unparsed: options.unparsed ?? 0,
        frontends: Object.fromEntries(count((r) => r.frontend)),
        timers,
        termination: count((r) => r.termination).map(([state, n]) => ({ state, count: n, meaning: terminationMeaning(state) })),
        status: count((r) => String(r.status)).map(([code, n]) => ({ code, count: n })),
        maxQueue: { server: Math.max(0, ...rs.map((r) => r.srvQueue)), backend: Math.max(0, ...rs.map((r) => r.backendQueue)) },
        timeline: {
            binS,
            startMs,
            bins: [...bins]
                .sort((a, b) => a[0] - b[0])
                .map(([b, xs]) => ({ t: b * binS, requests: xs.length, twP99: p99(xs, "tw"), trP99: p99(xs, "tr"), taP99: p99(xs, "ta") })),
        },
    };
}
