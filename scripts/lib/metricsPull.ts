// After a run: its server-side time series, pulled from the lab's Prometheus (query_range over
// the run's window) into runs/<id>/metrics.json, with the metrics role's own overhead. Both
// Prometheus and the log sink are read on the metrics host through its SSH connection (remote.ts).
import { createReadStream, createWriteStream, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createGzip } from "node:zlib";
import { createInterface } from "node:readline";
import { parseHaproxyLogLine, summariseHaproxyLog, type HaproxyLogRecord, type HaproxyLogSummary } from "../analysis/metricsLog.ts";
import type { Remote } from "./remote.ts";
import { OVERHEAD_QUERIES, panelQueries, toSeries, type PromMatrix } from "../../components/render/metrics.ts";
import type { MetricsPanel } from "../analysis/reportCharts.ts";
import type { MetricsEndpoint } from "../../components/records/stackOutputs.ts";

/** Where the stack's metrics host serves Prometheus and the request log (a stack output). */
export type { MetricsEndpoint };

export interface MetricsFile {
    source: string;
    start: number;
    end: number;
    stepS: number;
    panels: MetricsPanel[];
    /** The metrics role's own processes (Prometheus, every node_exporter, the log sink) during the run. */
    overhead: { cpuPctMean: number; cpuPctMax: number; rssBytesMax: number };
    /** Most client connections HAProxy held at once (CurrConns). */
    peakConns?: number;
    note?: string;
}

async function queryRange(remote: Remote, base: string, expr: string, start: number, end: number, stepS: number): Promise<PromMatrix[]> {
    const url = new URL("/api/v1/query_range", base);
    url.search = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(stepS) }).toString();
    const response = await remote.request(url.toString(), { timeoutMs: 20_000 });
    let body: { status: string; error?: string; data?: { result: PromMatrix[] } };
    try {
        body = JSON.parse(response.body);
    } catch {
        throw new Error(`prometheus answered HTTP ${response.status} without JSON for ${expr}: ${response.body.slice(0, 200)}`);
    }
    if (body.status !== "success") throw new Error(`prometheus: ${body.error ?? response.status} for ${expr}`);
    return body.data?.result ?? [];
}

/** Pulls every panel for [startS − 2 s, endS + 2 s] and writes metrics.json into the run directory. */
export async function pullRunMetrics(dir: string, endpoint: MetricsEndpoint, startS: number, endS: number, remote: Remote): Promise<MetricsFile> {
    remote.hostFor(endpoint.prometheus); // a lab host's, or refused before waiting
    // The last samples of the run land one scrape after it ends.
    const waitMs = (endpoint.scrapeIntervalS + 1) * 1000 - (Date.now() - endS * 1000);
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    const stepS = Math.max(endpoint.scrapeIntervalS, Math.ceil((endS - startS) / 1500));
    const [start, end] = [Math.floor(startS - 2), Math.ceil(endS + 2)];
    const panels: MetricsPanel[] = await Promise.all(
        panelQueries(endpoint.scrapeIntervalS).map(async (p) => ({
            id: p.id,
            title: p.title,
            unit: p.unit,
            series: (
                await Promise.all(p.queries.map(async (q) => toSeries(q.label, await queryRange(remote, endpoint.prometheus, q.expr, start, end, stepS))))
            ).flat(),
        })),
    );
    const o = OVERHEAD_QUERIES(endpoint.scrapeIntervalS);
    const values = async (expr: string) =>
        (await queryRange(remote, endpoint.prometheus, expr, start, end, stepS)).flatMap((r) => r.values.map(([, v]) => Number(v))).filter(Number.isFinite);
    const [cpu, rss] = await Promise.all([values(o.cpuPct), values(o.rssBytes)]);
    const conns =
        panels
            .find((p) => p.id === "haproxy-conns")
            ?.series.find((s) => s.label === "CurrConns")
            ?.values.map(([, v]) => v) ?? [];
    const file: MetricsFile = {
        source: endpoint.prometheus,
        start,
        end,
        stepS,
        panels,
        overhead: {
            cpuPctMean: round(cpu.reduce((a, b) => a + b, 0) / Math.max(1, cpu.length)),
            cpuPctMax: round(Math.max(0, ...cpu)),
            rssBytesMax: Math.max(0, ...rss),
        },
        peakConns: conns.length ? Math.max(...conns) : undefined,
    };
    writeFileSync(join(dir, "metrics.json"), JSON.stringify(file));
    return file;
}

function round(x: number): number {
    return Math.round(x * 100) / 100;
}

/**
 * HAProxy's request log lines of the run's window from the metrics host's sink: kept as
 * haproxy.log.gz, summed up into haproxy-log-summary.json (timer percentiles, termination states).
 */
export async function pullHaproxyLog(dir: string, sinkUrl: string, fromMs: number, toMs: number, remote: Remote): Promise<HaproxyLogSummary> {
    const url = new URL("/lines", sinkUrl);
    url.search = new URLSearchParams({ from: String(Math.floor(fromMs)), to: String(Math.ceil(toMs)) }).toString();
    // Streamed to a file as it comes (a run's log can be large), then read line by line.
    const raw = join(dir, "haproxy.log.part");
    try {
        await remote.getToFile(url.toString(), raw, { timeoutMs: 300_000 });
        return await summariseLogFile(dir, raw, fromMs);
    } finally {
        rmSync(raw, { force: true });
    }
}

async function summariseLogFile(dir: string, raw: string, fromMs: number): Promise<HaproxyLogSummary> {
    const gzip = createGzip();
    const done = new Promise<void>((resolve, reject) =>
        gzip
            .pipe(createWriteStream(join(dir, "haproxy.log.gz")))
            .on("finish", () => resolve())
            .on("error", reject),
    );
    const records: HaproxyLogRecord[] = [];
    let unparsed = 0;
    for await (const line of createInterface({ input: createReadStream(raw), crlfDelay: Infinity })) {
        if (!line) continue;
        if (!gzip.write(`${line}\n`)) await new Promise((r) => gzip.once("drain", r));
        const r = parseHaproxyLogLine(line);
        if (r) records.push(r);
        else unparsed++;
    }
    gzip.end();
    await done;
    const summary = summariseHaproxyLog(records, { unparsed, startMs: fromMs });
    writeFileSync(join(dir, "haproxy-log-summary.json"), JSON.stringify(summary));
    return summary;
}
