// After a run: its server-side time series, pulled from the lab's Prometheus (query_range over
// the run's window) into runs/<id>/metrics.json, with the metrics role's own overhead.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isLabTarget } from "../../components/render/addressPlan.ts";
import { OVERHEAD_QUERIES, panelQueries, toSeries, type PromMatrix } from "../../components/render/metrics.ts";
import type { MetricsPanel } from "../../components/render/reportCharts.ts";

export interface MetricsEndpoint { prometheus: string; scrapeIntervalS: number }

export interface MetricsFile {
    source: string;
    start: number;
    end: number;
    stepS: number;
    panels: MetricsPanel[];
    /** The metrics role's own processes (Prometheus + every node_exporter) during the run. */
    overhead: { cpuPctMean: number; cpuPctMax: number; rssBytesMax: number };
    /** Most client connections HAProxy held at once (CurrConns). */
    peakConns?: number;
    note?: string;
}

async function queryRange(base: string, expr: string, start: number, end: number, stepS: number): Promise<PromMatrix[]> {
    const url = new URL("/api/v1/query_range", base);
    url.search = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(stepS) }).toString();
    const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    const body = await response.json() as { status: string; error?: string; data?: { result: PromMatrix[] } };
    if (body.status !== "success") throw new Error(`prometheus: ${body.error ?? response.status} for ${expr}`);
    return body.data?.result ?? [];
}

/** Pulls every panel for [startS − 2 s, endS + 2 s] and writes metrics.json into the run directory. */
export async function pullRunMetrics(dir: string, endpoint: MetricsEndpoint, startS: number, endS: number): Promise<MetricsFile> {
    const host = new URL(endpoint.prometheus).hostname;
    if (!isLabTarget(host)) throw new Error(`refusing to query ${host}: not a lab address`);
    // The last samples of the run land one scrape after it ends.
    const waitMs = (endpoint.scrapeIntervalS + 1) * 1000 - (Date.now() - endS * 1000);
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    const stepS = Math.max(endpoint.scrapeIntervalS, Math.ceil((endS - startS) / 1500));
    const [start, end] = [Math.floor(startS - 2), Math.ceil(endS + 2)];
    const panels: MetricsPanel[] = await Promise.all(panelQueries(endpoint.scrapeIntervalS).map(async (p) => ({
        id: p.id, title: p.title, unit: p.unit,
        series: (await Promise.all(p.queries.map(async (q) => toSeries(q.label, await queryRange(endpoint.prometheus, q.expr, start, end, stepS))))).flat(),
    })));
    const o = OVERHEAD_QUERIES(endpoint.scrapeIntervalS);
    const values = async (expr: string) => (await queryRange(endpoint.prometheus, expr, start, end, stepS)).flatMap((r) => r.values.map(([, v]) => Number(v))).filter(Number.isFinite);
    const [cpu, rss] = await Promise.all([values(o.cpuPct), values(o.rssBytes)]);
    const conns = panels.find((p) => p.id === "haproxy-conns")?.series.find((s) => s.label === "CurrConns")?.values.map(([, v]) => v) ?? [];
    const file: MetricsFile = {
        source: endpoint.prometheus, start, end, stepS, panels,
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
