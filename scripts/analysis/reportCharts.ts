// Vega-Lite specs for a run's report and for a tipping search. Pure: data in, spec out; the
// specs are rendered to SVG at build time by vega (scripts/lib/plot.ts), never by hand.
import type { Timeline } from "./timeline.ts";
import { p99Limit } from "./tippingJudge.ts";
import { type TippingResult } from "./tippingSearch.ts";

export type VegaLiteSpec = Record<string, unknown>;

export interface Chart {
    id: string;
    title: string;
    spec: VegaLiteSpec;
}

/** Metric panels recorded for a run (runs/<id>/metrics.json, see components/render/metrics.ts). */
export interface MetricsPanel {
    id: string;
    title: string;
    unit: "count" | "bytes" | "percent" | "per_s" | "bytes_per_s" | "seconds" | "ms";
    series: { label: string; values: [number, number][] }[];
}

const WIDTH = 760;
const HEIGHT = 220;

const AXIS_TITLES: Record<MetricsPanel["unit"], string> = {
    count: "count",
    bytes: "bytes",
    percent: "%",
    per_s: "per second",
    bytes_per_s: "bytes per second",
    seconds: "seconds",
    ms: "milliseconds",
};

function lineSpec(
    title: string,
    values: Record<string, unknown>[],
    y: { field: string; title: string; log?: boolean; format?: string },
    options: { xTitle?: string; colorTitle?: string; interpolate?: string } = {},
): VegaLiteSpec {
    return {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title,
        width: WIDTH,
        height: HEIGHT,
        background: "white",
        data: { values },
        mark: { type: "line", interpolate: options.interpolate ?? "linear", strokeWidth: 1.5, point: values.length <= 40 ? { size: 16 } : false },
        encoding: {
            x: { field: "t", type: "quantitative", title: options.xTitle ?? "seconds since the first request" },
            y: {
                field: y.field,
                type: "quantitative",
                title: y.title,
                ...(y.log ? { scale: { type: "log" } } : {}),
                ...(y.format ? { axis: { format: y.format } } : {}),
            },
            color: { field: "series", type: "nominal", title: options.colorTitle ?? null, sort: null },
        },
        config: { font: "sans-serif", legend: { orient: "right" } },
    };
}

/** Latency percentiles, request rate/errors and requests in flight from the vegeta results. */
export function timelineCharts(t: Timeline): Chart[] {
    if (t.bins.length === 0) return [];
    const latency: Record<string, unknown>[] = [];
    for (const b of t.bins) {
        const all = b.latency.all;
        if (all) for (const [k, v] of Object.entries({ p50: all.p50, p90: all.p90, p99: all.p99, max: all.max })) latency.push({ t: b.t, series: k, ms: v });
        for (const f of t.frontends.length > 1 ? t.frontends : []) {
            const s = b.latency[f];
            if (s) latency.push({ t: b.t, series: `p99 ${f}`, ms: s.p99 });
        }
    }
    const rate = t.bins.flatMap((b) => [
        { t: b.t, series: "sent/s", value: b.sent / t.binS },
        { t: b.t, series: "ok/s", value: b.ok / t.binS },
        { t: b.t, series: "errors/s", value: b.errors / t.binS },
    ]);
    const inFlight = t.bins.map((b) => ({ t: b.t, series: "requests in flight (peak in bin)", value: b.inFlight }));
    const by = `by time sent, ${t.binS} s bins`;
    return [
        {
            id: "latency",
            title: "Latency percentiles over time",
            spec: lineSpec(`Latency percentiles (ms, ${by})`, latency, { field: "ms", title: "latency (ms)", log: true }),
        },
        {
            id: "rate",
            title: "Request rate and errors over time",
            spec: lineSpec(`Requests per second and errors (${by})`, rate, { field: "value", title: "requests/s" }),
        },
        {
            id: "inflight",
            title: "Requests in flight (client side)",
            spec: lineSpec("Requests in flight at the clients", inFlight, { field: "value", title: "requests" }, { interpolate: "step-after" }),
        },
    ];
}

/** One chart per recorded metric panel; times become seconds since `t0` (unix seconds). */
export function metricsCharts(panels: MetricsPanel[], t0: number): Chart[] {
    return panels
        .filter((p) => p.series.some((s) => s.values.length > 0))
        .map((p) => {
            const values = p.series.flatMap((s) => s.values.map(([ts, v]) => ({ t: Math.round((ts - t0) * 10) / 10, series: s.label, value: v })));
            const format = p.unit === "bytes" || p.unit === "bytes_per_s" ? "~s" : undefined;
            return {
                id: `metrics-${p.id}`,
                title: p.title,
                spec: lineSpec(p.title, values, { field: "value", title: AXIS_TITLES[p.unit], format }, { xTitle: "seconds since the first request" }),
            };
        });
}

/** p99 against offered rate for every step, with the threshold and the knee. */
export function tippingChart(r: TippingResult, p99Factor: number, p99FloorMs?: number): Chart {
    const points = r.steps.map((s) => ({
        rate: Math.round(s.rate * 10) / 10,
        p99: Math.round(s.p99Ms * 10) / 10,
        verdict: s.good ? "good" : "bad",
        step: s.step,
        phase: s.phase,
    }));
    const layers: Record<string, unknown>[] = [
        {
            data: { values: points },
            mark: { type: "point", filled: true, size: 90 },
            encoding: {
                x: { field: "rate", type: "quantitative", title: "offered rate (requests/s, all clients)", scale: { type: "log" } },
                y: { field: "p99", type: "quantitative", title: "p99 latency (ms)", scale: { type: "log" } },
                color: { field: "verdict", type: "nominal", scale: { domain: ["good", "bad"], range: ["#2ca02c", "#d62728"] }, title: null },
                tooltip: [{ field: "step" }, { field: "phase" }, { field: "rate" }, { field: "p99" }],
            },
        },
        {
            data: { values: points },
            mark: { type: "text", dy: -10, fontSize: 10 },
            encoding: { x: { field: "rate", type: "quantitative" }, y: { field: "p99", type: "quantitative" }, text: { field: "step" } },
        },
    ];
    if (r.baselineP99Ms) {
        const limit = p99Limit(r.baselineP99Ms, { p99Factor, p99FloorMs });
        layers.push({
            data: { values: [{ y: limit.ms, label: limit.byFloor ? `threshold: the ${p99FloorMs} ms floor` : `threshold ${p99Factor}× baseline p99` }] },
            mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
            encoding: { y: { field: "y", type: "quantitative" } },
        });
    }
    if (r.knee !== undefined) {
        layers.push({
            data: { values: [{ x: r.knee, label: `knee ≈ ${r.knee.toFixed(0)}/s` }] },
            layer: [
                { mark: { type: "rule", color: "#1f77b4", strokeWidth: 2 }, encoding: { x: { field: "x", type: "quantitative" } } },
                {
                    mark: { type: "text", align: "left", dx: 4, y: 8, color: "#1f77b4" },
                    encoding: { x: { field: "x", type: "quantitative" }, text: { field: "label" } },
                },
            ],
        });
    }
    return {
        id: "tipping",
        title: "Tipping point",
        spec: {
            $schema: "https://vega.github.io/schema/vega-lite/v6.json",
            title: "p99 latency against offered rate (numbers: step order)",
            width: WIDTH,
            height: 300,
            background: "white",
            layer: layers,
            config: { font: "sans-serif" },
        },
    };
}
