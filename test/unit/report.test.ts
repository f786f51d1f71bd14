// Report pieces without a browser: the Vega-Lite specs, their SVG rendering in Node, and the
// HTML page (escaping, no external loads, one figure per plot).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TimelineBuilder } from "../../scripts/analysis/timeline.ts";
import { metricsCharts, timelineCharts, tippingChart, type MetricsPanel } from "../../scripts/analysis/reportCharts.ts";
import { escapeHtml, renderReportHtml, sanitizeSvg } from "../../scripts/analysis/reportPage.ts";
import { renderSvg } from "../../scripts/lib/plot.ts";
import { searchTippingPoint, DEFAULT_TIPPING } from "../../scripts/analysis/tippingSearch.ts";
import { runFacts } from "../../scripts/lib/runReport.ts";
import { tippingTriesFact } from "../../scripts/lib/tippingReport.ts";
import { describeTries } from "../../scripts/analysis/tippingTable.ts";
import { ledgerRow } from "../../scripts/analysis/ledgerRows.ts";
import { diffAllowances } from "../../components/platform/allowances.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";
import type { RunRecord } from "../../components/records/runRecord.ts";

const T0 = Date.parse("2026-11-25T12:00:00Z");

function timeline() {
    const b = new TimelineBuilder();
    for (let i = 0; i < 600; i++) {
        b.add({
            timestamp: new Date(T0 + i * 10).toISOString(),
            latency: (20 + (i % 50)) * 1e6,
            code: i % 100 === 0 ? 503 : 200,
            error: "",
            url: i % 2 ? "https://198.18.0.2:443/ping" : "http://198.18.0.2:80/ping",
        });
    }
    return b.build({ binS: 1 });
}

describe("report charts", () => {
    test("a timeline gives latency, rate/errors and in-flight plots with the data in them", () => {
        const charts = timelineCharts(timeline());
        assert.deepEqual(
            charts.map((c) => c.id),
            ["latency", "rate", "inflight"],
        );
        const latency = (charts[0].spec.data as { values: { series: string }[] }).values;
        assert.deepEqual([...new Set(latency.map((v) => v.series))], ["p50", "p90", "p99", "max", "p99 plain", "p99 tls"]);
        const rate = (charts[1].spec.data as { values: { series: string; value: number }[] }).values;
        assert.equal(
            rate.filter((v) => v.series === "errors/s").reduce((s, v) => s + v.value, 0),
            6,
        );
        assert.deepEqual(timelineCharts(new TimelineBuilder().build()), []);
    });

    test("metric panels become charts on the run's clock; empty panels are left out", () => {
        const panels: MetricsPanel[] = [
            {
                id: "conns",
                title: "TCP established per role",
                unit: "count",
                series: [
                    {
                        label: "haproxy",
                        values: [
                            [T0 / 1000, 1],
                            [T0 / 1000 + 1, 5],
                        ],
                    },
                ],
            },
            { id: "empty", title: "nothing", unit: "bytes", series: [{ label: "x", values: [] }] },
        ];
        const charts = metricsCharts(panels, T0 / 1000);
        assert.deepEqual(
            charts.map((c) => c.id),
            ["metrics-conns"],
        );
        assert.deepEqual((charts[0].spec.data as { values: unknown[] }).values, [
            { t: 0, series: "haproxy", value: 1 },
            { t: 1, series: "haproxy", value: 5 },
        ]);
    });

    test("vega renders every chart to an SVG with drawn marks", async () => {
        for (const chart of timelineCharts(timeline())) {
            const svg = await renderSvg(chart.spec);
            assert.match(svg, /^<svg[^>]*class="marks"/);
            const lines = [...svg.matchAll(/<g class="mark-line role-mark[^"]*"[^>]*>(.*?)<\/g>/gs)];
            assert.ok(lines.length > 0, `${chart.id}: no line marks`);
            assert.ok(
                lines.every((m) => /<path[^>]* d="M[\d.,-]+L/.test(m[1])),
                `${chart.id}: empty line path`,
            );
        }
    });

    test("the tipping chart shows every step, the threshold and the knee", async () => {
        const r = await searchTippingPoint(async (rate) => ({ rate, p50Ms: 10, p99Ms: rate > 300 ? 250 : 12, errorRatio: 0, requests: 1000 }), {
            ...DEFAULT_TIPPING,
            startRate: 40,
        });
        const svg = await renderSvg(tippingChart(r, 2).spec);
        assert.match(svg, /knee ≈ 3\d\d\/s/);
        assert.equal([...svg.matchAll(/<g class="mark-symbol role-mark[^"]*"[^>]*>(.*?)<\/g>/gs)][0][1].match(/<path/g)?.length, r.steps.length);
    });
});

describe("report page", () => {
    test("text is escaped; SVG loses scripts, handlers and external links", () => {
        assert.equal(escapeHtml(`<a href="x">&</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
        const svg = sanitizeSvg(`<?xml version="1.0"?><svg onload="alert(1)"><script>x()</script><image href="http://evil/x.png"/><use href="#ok"/></svg>`);
        assert.doesNotMatch(svg, /onload|<script|http:/);
        assert.match(svg, /href="#ok"/);
        assert.throws(() => sanitizeSvg("<div/>"), /not an SVG/);
    });

    test("the page is self-contained: figures inline, no external resources, a CSP that forbids loading", () => {
        const html = renderReportHtml({
            title: "Run <1>",
            subtitle: "s",
            facts: [["verdict", "pass"]],
            figures: [{ id: "latency", title: "Latency", svg: '<svg class="marks"><g class="mark-line role-mark"><path d="M0,0L1,1"/></g></svg>' }],
            tables: [{ title: "T", header: ["a"], rows: [["<b>"]] }],
            texts: [{ title: "report.txt", text: "Requests <total>" }],
            generatedAt: "2026-11-25T12:00:00Z",
        });
        assert.match(html, /<title>Run &lt;1&gt;<\/title>/);
        assert.match(html, /<figure id="latency" data-plot="latency">/);
        assert.match(html, /default-src 'none'/);
        assert.doesNotMatch(html, /<(link|img|iframe)\b|src="http|@import/);
        assert.match(html, /<td>&lt;b&gt;<\/td>/);
        assert.match(html, /<pre>Requests &lt;total&gt;<\/pre>/);
    });
});

describe("a run page's facts", () => {
    const counters = { "client-0": { conntrack_drop: 0 }, "haproxy-0": { conntrack_drop: 0 } };
    const run = (o: Partial<RunRecord>): RunRecord => ({
        runId: "20261207-120000-local",
        stack: "local",
        startedAt: "2026-12-07T12:00:00.000Z",
        finishedAt: "2026-12-07T12:00:10.000Z",
        interrupted: false,
        settings: { ...PRESET_SETTINGS.smoke },
        processes: [{ client: "client-0", frontend: "plain", laddr: "198.18.0.10", ratePerSecond: 10, connections: 10 }],
        versions: { pulumi: "3", node: "22", vegeta: "v12", haproxy: "2.6" },
        summary: {
            requests: 100,
            success: 1,
            rate: 10,
            throughput: 10,
            status_codes: {},
            errors: [],
            latencies: { mean: 1e6, "50th": 1e6, "90th": 1e6, "95th": 1e6, "99th": 2e6, max: 3e6 },
        },
        perFrontend: {},
        haproxy: { plain: undefined },
        serversDown: [],
        failedProcesses: [],
        allowances: diffAllowances(counters, counters, Object.keys(counters)),
        ...o,
    });
    const facts = (r: RunRecord) => new Map(runFacts(r, ledgerRow(r, {}), { peakInFlight: 5 }));

    test("HAProxy's statistics and a host's allowance counters unreadable: unknown on the page, and the verdict is not pass", () => {
        const { "haproxy-0": _, ...clientOnly } = counters;
        const f = facts(run({ serversDown: "unknown", allowances: diffAllowances(clientOnly, clientOnly, Object.keys(counters)) }));
        assert.match(f.get("verdict")!, /^unknown \(/);
        assert.match(f.get("servers down in HAProxy at the end")!, /^unknown/);
        assert.match(f.get("unknown (could not be read)")!, /allowance counters of haproxy-0.*servers down at the end/);
    });

    test("everything read: pass, none down, no unknown line", () => {
        const f = facts(run({}));
        assert.match(f.get("verdict")!, /^pass /);
        assert.equal(f.get("servers down in HAProxy at the end"), "none");
        assert.equal(f.has("unknown (could not be read)"), false);
        assert.equal(f.has("host images"), false, "no image line for a run without images");
    });

    test("each host's image and the LB's TLS library are on the page", () => {
        const r = run({ images: { "haproxy-0": "debian-13", "client-0": "machine" } });
        const f = facts({ ...r, versions: { ...r.versions, tlsLibrary: "OpenSSL 3.5.10" } });
        assert.equal(f.get("host images"), "haproxy-0 debian-13, client-0 machine");
        assert.equal(f.get("LB's TLS library"), "OpenSSL 3.5.10");
    });
});

describe("the tipping page's tries", () => {
    test("every try of a step is listed, and the rule that decided them with the way it moves the knee", async () => {
        const r = await searchTippingPoint(
            async (rate, at) => ({ rate, p50Ms: 5, p99Ms: rate === 80 && at.try === 1 ? 350 : rate > 300 ? 900 : 12, errorRatio: 0, requests: 400 }),
            { ...DEFAULT_TIPPING, startRate: 20 },
        );
        const s80 = r.steps.find((s) => s.rate === 80)!;
        assert.equal(describeTries(s80), "1: p99 350.0 ms, 0.00 % errors, bad; 2: p99 12.0 ms, 0.00 % errors, good");
        const bad = r.steps.find((s) => !s.good)!;
        assert.match(describeTries(bad), /^1: p99 900\.0 ms, 0\.00 % errors, bad; 2: p99 900\.0 ms, 0\.00 % errors, bad$/);
        const fact = tippingTriesFact({
            steps: r.steps,
            args: { ...DEFAULT_TIPPING, startRate: 20, stack: "s", durationS: 4, frontend: "plain", sleepMs: 0, times: 0, timeoutS: 30 },
        });
        assert.match(
            fact,
            new RegExp(`^${r.tries} tries for ${r.steps.length} steps; a step is bad only after 2 bad tries \\(up to 4, .*can only raise the knee$`),
        );
    });
});
