// Limits the machine under a host enforces by dropping traffic, read before and after a run: a
// counter of dropped or refused packets that rose during the run makes the run invalid (what it
// measured was the platform's limit, not HAProxy's). On EC2 the ENA driver counts what the
// instance's allowances dropped (`ethtool -S`: connection tracking, packets per second,
// bandwidth in and out; AWS EC2 user guide, "Monitor network performance for ENA settings on your
// EC2 instance"); a host's own kernel counts what connection tracking dropped
// (/proc/net/stat/nf_conntrack, per network namespace, so per local host). Each platform's script
// prints `name: value` lines (platform.allowanceCountersScript); parsing and judging are the same
// for every platform. Pure.

/** ENA counters (ethtool -S). All but conntrack_allowance_available count drops since the driver loaded. */
export const ENA_COUNTERS = [
    "conntrack_allowance_exceeded",
    "conntrack_allowance_available",
    "pps_allowance_exceeded",
    "bw_in_allowance_exceeded",
    "bw_out_allowance_exceeded",
] as const;

/** Columns of /proc/net/stat/nf_conntrack that count connections the kernel could not track, reported as conntrack_<column>. */
export const CONNTRACK_COLUMNS = ["drop", "insert_failed", "early_drop"] as const;

/** Gauges: reported, never judged (the others only ever grow, so any increase is a drop during the run). */
export const GAUGES = new Set<string>(["conntrack_allowance_available"]);

/** The kernel's connection-tracking drops of the host's network namespace, summed over CPUs (hex per CPU in the file). POSIX sh. */
export const CONNTRACK_STATS_SCRIPT = [
    "f=/proc/net/stat/nf_conntrack",
    'if [ -r "$f" ]; then',
    `  for k in ${CONNTRACK_COLUMNS.join(" ")}; do`,
    "    total=0",
    '    for h in $(awk -v k="$k" \'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i; next } c { print $c }\' "$f"); do total=$((total + 0x$h)); done',
    '    echo "conntrack_$k: $total"',
    "  done",
    "else",
    '  echo "# $f absent: no connection tracking in this network namespace"',
    "fi",
].join("\n");

/** The ENA allowance counters of the interface of the default route, then the kernel's conntrack drops. POSIX sh. */
export const ENA_ALLOWANCES_SCRIPT = [
    "dev=$(ip -o -4 route show default | awk '{ print $5; exit }')",
    'echo "# ethtool -S $dev"',
    `ethtool -S "$dev" | awk '{ sub(/:$/, "", $1) } $1 ~ /^(${ENA_COUNTERS.join("|")})$/ { print $1 ": " $2 }'`,
    CONNTRACK_STATS_SCRIPT,
].join("\n");

export type AllowanceCounters = Record<string, number>;

/** `name: value` lines of a counters script; comments and anything else are skipped. */
export function parseAllowanceCounters(text: string): AllowanceCounters {
    const counters: AllowanceCounters = {};
    for (const line of text.split("\n")) {
        const m = /^\s*([a-z][a-z0-9_]*):\s*(\d+)\s*$/.exec(line);
        if (m) counters[m[1]] = Number(m[2]);
    }
    return counters;
}

export interface AllowanceIncrease {
    host: string;
    counter: string;
    before: number;
    after: number;
}

export interface AllowanceCheck {
    /** Counters by host, as read before and after the run. */
    before: Record<string, AllowanceCounters>;
    after: Record<string, AllowanceCounters>;
    /** A drop counter rose on some host during the run: the run is invalid. */
    exceeded: boolean;
    increases: AllowanceIncrease[];
    /**
     * What could not be judged: a host not read before or after the run (or not at all), a host
     * read without a single drop counter, or host:counter read only once. Any of them makes the
     * run's validity unknown, never valid.
     */
    unreadable: string[];
}

/**
 * Compares two readings, host by host: any increase of a drop counter marks the run invalid.
 * `hosts`: every host that was to be read, so one that answered neither time is unreadable too,
 * not absent from the check.
 */
export function diffAllowances(before: Record<string, AllowanceCounters>, after: Record<string, AllowanceCounters>, hosts: string[] = []): AllowanceCheck {
    const increases: AllowanceIncrease[] = [];
    const unreadable: string[] = [];
    const drops = (c: AllowanceCounters) => Object.keys(c).filter((k) => !GAUGES.has(k));
    for (const host of [...new Set([...hosts, ...Object.keys(before), ...Object.keys(after)])].sort()) {
        const b = before[host];
        const a = after[host];
        if (!b || !a) {
            unreadable.push(host);
            continue;
        }
        // A script that ran but printed no drop counter (its file or tool missing) read nothing.
        if (drops(b).length === 0 || drops(a).length === 0) {
            unreadable.push(host);
            continue;
        }
        for (const counter of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
            if (GAUGES.has(counter)) continue;
            if (b[counter] === undefined || a[counter] === undefined) {
                unreadable.push(`${host}:${counter}`);
                continue;
            }
            if (a[counter] > b[counter]) increases.push({ host, counter, before: b[counter], after: a[counter] });
        }
    }
    return { before, after, exceeded: increases.length > 0, increases, unreadable };
}

/** One line per increase, for the run's summary; one for what could not be read, which leaves the run's validity unknown. */
export function describeAllowances(check: AllowanceCheck): string[] {
    return [
        ...check.increases.map(
            (i) => `INVALID RUN: ${i.host} ${i.counter} rose by ${i.after - i.before} (${i.before} → ${i.after}): the platform dropped traffic`,
        ),
        ...(check.unreadable.length ? [`VALIDITY UNKNOWN: allowance counters unreadable before or after the run: ${check.unreadable.join(", ")}`] : []),
    ];
}
