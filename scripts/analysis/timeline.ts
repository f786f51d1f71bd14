// A run's client-side timeline from vegeta's per-request results: requests sent, successes,
// errors, latency percentiles and requests in flight, per time bin. Summing up is separate
// from reading (like vegeta's Metrics.Add / Close): `TimelineBuilder` is pure; `readTimeline`
// streams `vegeta encode -to json` over the run's .bin files into it.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** The fields of a vegeta JSON result record the timeline uses. */
export interface VegetaRecord {
    timestamp: string;
    latency: number;
    code: number;
    error: string;
    url: string;
}

export interface TimelineBin {
    /** Seconds from the first request to the bin's start. */
    t: number;
    sent: number;
    ok: number;
    errors: number;
    /** Latency percentiles (ms) of the requests sent in this bin, per frontend ("all" included). */
    latency: Record<string, { p50: number; p90: number; p99: number; max: number } | undefined>;
    /** Most requests in flight at once during the bin (client side: one per open connection in use). */
    inFlight: number;
}

export interface Timeline {
    start: string;
    binS: number;
    requests: number;
    frontends: string[];
    /** Most requests in flight at once over the whole run. */
    peakInFlight: number;
    /**
     * How in-flight was counted: "every-start-and-end". Absent in a timeline.json written before it
     * was (bins after the last start were left at 0): such a file is rebuilt, not trusted.
     */
    inFlightCount?: typeof IN_FLIGHT_COUNT;
    bins: TimelineBin[];
}

/** The in-flight count of this code (Timeline.inFlightCount). */
export const IN_FLIGHT_COUNT = "every-start-and-end" as const;

function frontendOf(url: string): string {
    return url.startsWith("https:") ? "tls" : "plain";
}

export function percentile(sorted: Float64Array | number[], q: number): number {
    if (sorted.length === 0) return 0;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[i];
}

/** Accumulates records in typed arrays (millions of requests fit), then bins them. */
export class TimelineBuilder {
    private n = 0;
    private startMs = new Float64Array(1024);
    private latencyMs = new Float64Array(1024);
    private failed = new Uint8Array(1024);
    private front = new Uint8Array(1024);
    private readonly frontends: string[] = [];

    add(r: VegetaRecord): void {
        if (this.n === this.startMs.length) this.grow();
        const i = this.n++;
        const ms = Date.parse(r.timestamp);
        // Date.parse keeps milliseconds only; the sub-millisecond part does not matter for bins.
        this.startMs[i] = ms;
        this.latencyMs[i] = r.latency / 1e6;
        this.failed[i] = r.error || r.code < 200 || r.code >= 400 ? 1 : 0;
        const f = frontendOf(r.url);
        let k = this.frontends.indexOf(f);
        if (k < 0) k = this.frontends.push(f) - 1;
        this.front[i] = k;
    }

    private grow(): void {
        const size = this.startMs.length * 2;
        const copy = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
            const b = make(size);
            b.set(a);
            return b;
        };
        this.startMs = copy(this.startMs, (n) => new Float64Array(n));
        this.latencyMs = copy(this.latencyMs, (n) => new Float64Array(n));
        this.failed = copy(this.failed, (n) => new Uint8Array(n));
        this.front = copy(this.front, (n) => new Uint8Array(n));
    }

    /** Bins of `binS` seconds; by default as wide as needed for at most `maxBins` bins (1 s minimum). */
    build(options: { binS?: number; maxBins?: number } = {}): Timeline {
        const n = this.n;
        if (n === 0)
            return { start: new Date(0).toISOString(), binS: 1, requests: 0, frontends: [], peakInFlight: 0, inFlightCount: IN_FLIGHT_COUNT, bins: [] };
        let t0 = Infinity;
        let tEnd = -Infinity;
        for (let i = 0; i < n; i++) {
            t0 = Math.min(t0, this.startMs[i]);
            tEnd = Math.max(tEnd, this.startMs[i] + this.latencyMs[i]);
        }
        const spanS = (tEnd - t0) / 1000;
        const binS = options.binS ?? Math.max(1, Math.ceil(spanS / (options.maxBins ?? 300)));
        const count = Math.floor(spanS / binS) + 1;
        const binOf = (ms: number) => Math.min(count - 1, Math.floor((ms - t0) / 1000 / binS));
        const bins: TimelineBin[] = Array.from({ length: count }, (_, b) => ({ t: b * binS, sent: 0, ok: 0, errors: 0, latency: {}, inFlight: 0 }));
        const perBin: number[][][] = Array.from({ length: count }, () => this.frontends.map(() => []));
        for (let i = 0; i < n; i++) {
            const bin = bins[binOf(this.startMs[i])];
            bin.sent++;
            if (this.failed[i]) bin.errors++;
            else bin.ok++;
            perBin[binOf(this.startMs[i])][this.front[i]].push(this.latencyMs[i]);
        }
        for (let b = 0; b < count; b++) {
            const groups = perBin[b];
            const all = Float64Array.from(groups.flat()).sort();
            bins[b].latency.all = stats(all);
            if (this.frontends.length > 1) {
                this.frontends.forEach((f, k) => {
                    bins[b].latency[f] = stats(Float64Array.from(groups[k]).sort());
                });
            }
        }
        // Requests in flight: every start and every end, in time order (an end at the same instant as a
        // start goes first: back-to-back requests do not overlap). A bin starts with what was in flight
        // when it began, so a bin with no start (requests held after the sending ended) keeps its count.
        const starts = this.startMs.slice(0, n).sort();
        const ends = new Float64Array(n);
        for (let i = 0; i < n; i++) ends[i] = this.startMs[i] + this.latencyMs[i];
        ends.sort();
        const peak = sweepInFlight(starts, ends, count, (ms) => (ms - t0) / 1000 / binS, bins);
        return {
            start: new Date(t0).toISOString(),
            binS,
            requests: n,
            frontends: [...this.frontends],
            peakInFlight: peak,
            inFlightCount: IN_FLIGHT_COUNT,
            bins,
        };
    }
}

/**
 * Walks every start and end in time order: each bin's most requests in flight at once (what was in
 * flight when the bin began, or more after a start inside it), and the run's peak. A request is in
 * flight over [start, end): one that ends on a bin's first instant is not counted in it. `position`
 * gives a time's place in bins (2.5: half-way through bin 2). Pure.
 */
export function sweepInFlight(starts: Float64Array, ends: Float64Array, count: number, position: (ms: number) => number, bins: { inFlight: number }[]): number {
    const n = starts.length;
    const clamp = (b: number) => Math.min(count - 1, Math.max(0, b));
    let current = 0;
    let peak = 0;
    let bin = 0;
    const enter = (b: number) => {
        // Bins passed over without an event hold what was in flight through them.
        for (; bin < b; bin++) bins[bin + 1].inFlight = Math.max(bins[bin + 1].inFlight, current);
    };
    for (let i = 0, j = 0; i < n || j < n; ) {
        if (j < n && (i >= n || ends[j] <= starts[i])) {
            // Last in flight in the bin before its end (the one before a boundary it ends on).
            enter(clamp(Math.ceil(position(ends[j])) - 1));
            current--;
            j++;
            continue;
        }
        enter(clamp(Math.floor(position(starts[i]))));
        current++;
        i++;
        if (current > bins[bin].inFlight) bins[bin].inFlight = current;
        if (current > peak) peak = current;
    }
    enter(count - 1);
    return peak;
}

function stats(sorted: Float64Array): TimelineBin["latency"][string] {
    if (sorted.length === 0) return undefined;
    const r = (x: number) => Math.round(x * 100) / 100;
    return { p50: r(percentile(sorted, 0.5)), p90: r(percentile(sorted, 0.9)), p99: r(percentile(sorted, 0.99)), max: r(sorted[sorted.length - 1]) };
}

/** Streams the run's result files through `vegeta encode -to json` into a timeline. */
export async function readTimeline(files: string[], env: NodeJS.ProcessEnv, options: { binS?: number; maxBins?: number } = {}): Promise<Timeline> {
    const builder = new TimelineBuilder();
    if (files.length === 0) return builder.build(options);
    const child = spawn("vegeta", ["encode", "-to", "json", ...files], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
        stderr += d;
    });
    const exited = new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code) => resolve(code ?? 1));
    });
    for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
        if (line) builder.add(JSON.parse(line) as VegetaRecord);
    }
    const code = await exited;
    if (code !== 0) throw new Error(`vegeta encode exited ${code}: ${stderr.trim()}`);
    return builder.build(options);
}
