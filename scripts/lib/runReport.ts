// `lab report <run>`: runs/<id>/report.html, one self-contained offline page: plots (Vega-Lite
// → SVG at build time) of latency percentiles, request rate and errors, requests in flight and,
// when recorded, server metrics and each host's own memory and CPU (run.json hostSamples); then
// HAProxy's request timers, the merged vegeta report, the exact config, versions and stack.
// A tipping search (runs/tipping-*) gets tipping.html (tippingReport.ts).
import { describeMemory } from "../analysis/memoryVerdict.ts";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import YAML from "yaml";
import { runsRoot } from "../toolchain/toolchain.ts";
import { readLedger, runTimeline } from "./ledgerFile.ts";
import { findRun, ledgerRow } from "../analysis/ledgerRows.ts";
import { describeAllowances } from "../../components/platform/allowances.ts";
import { readRecord } from "../../components/records/io.ts";
import { RunRecordSchema, type RunRecord } from "../../components/records/runRecord.ts";
import type { LedgerRow } from "../../components/records/ledgerRow.ts";
import type { Timeline } from "../analysis/timeline.ts";
import { renderSvg } from "./plot.ts";
import { metricsCharts, timelineCharts, type Chart, type MetricsPanel } from "../analysis/reportCharts.ts";
import { renderReportHtml, type ReportFigure, type ReportTable, type ReportText } from "../analysis/reportPage.ts";
import type { HaproxyLogSummary } from "../analysis/metricsLog.ts";
import type { MetricsFile } from "./metricsPull.ts";
import { hostSamplePanels } from "../../components/render/metrics.ts";
import type { HostSamples } from "../../components/records/runRecord.ts";
import { describeSettings } from "./settingFlags.ts";

export interface BuiltReport {
    file: string;
    ms: number;
    figures: number;
}

/** A file of a run directory, or undefined when it has none. */
export const read = (dir: string, f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : undefined);

/** A run directory from an id, a unique part of one (ledger), or a path. */
export function resolveRunDir(ref: string, runsDir = runsRoot()): string {
    if (existsSync(join(ref, "run.json")) || existsSync(join(ref, "tipping.json"))) return ref;
    if (existsSync(join(runsDir, ref))) return join(runsDir, ref);
    const dirs = existsSync(runsDir) ? readdirSync(runsDir).filter((d) => d.includes(ref)) : [];
    if (dirs.length === 1) return join(runsDir, dirs[0]);
    return join(runsDir, findRun(readLedger(runsDir), ref).id);
}

/** Charts rendered to SVG for a page. */
export async function figures(charts: Chart[]): Promise<ReportFigure[]> {
    return Promise.all(charts.map(async (c) => ({ id: c.id, title: c.title, svg: await renderSvg(c.spec) })));
}

/** Server-side metric panels (metrics.json, written after the attack when the lab has a metrics host). */
function metricsPanels(dir: string): { panels: MetricsPanel[]; note?: string; facts: [string, string][] } {
    const text = read(dir, "metrics.json");
    if (!text) return { panels: [], note: "no server metrics for this run (the stack has no metrics host: c2m:hosts.metrics: 1)", facts: [] };
    const m = JSON.parse(text) as Partial<MetricsFile>;
    const facts: [string, string][] = [];
    if (m.peakConns !== undefined) facts.push(["peak HAProxy connections (CurrConns)", String(m.peakConns)]);
    if (m.overhead) {
        facts.push([
            "metrics role overhead",
            `CPU ${m.overhead.cpuPctMean.toFixed(1)} % of one core (max ${m.overhead.cpuPctMax.toFixed(1)} %), ` +
                `memory ${(m.overhead.rssBytesMax / 2 ** 20).toFixed(0)} MiB (Prometheus, every node_exporter, the log sink)`,
        ]);
    }
    return { panels: m.panels ?? [], note: m.note, facts };
}

function haproxyLog(dir: string): { tables: ReportTable[]; panels: MetricsPanel[] } {
    const text = read(dir, "haproxy-log-summary.json");
    if (!text) return { tables: [], panels: [] };
    const s = JSON.parse(text) as HaproxyLogSummary;
    const series = (label: string, k: "twP99" | "trP99" | "taP99") => ({
        label,
        values: s.timeline.bins.map((b) => [s.timeline.startMs / 1000 + b.t, b[k]] as [number, number]),
    });
    return {
        tables: [
            {
                title: `HAProxy request timers (${s.requests} logged requests, ms)`,
                header: ["timer", "meaning", "p50", "p90", "p99", "max", "requests that reached it"],
                rows: s.timers.map((t) => [t.name, t.meaning, ...[t.p50, t.p90, t.p99, t.max].map((x) => x.toFixed(0)), String(t.reached)]),
                note:
                    `From HAProxy's HTTP log (option httplog), per frontend: ${Object.entries(s.frontends)
                        .map(([f, n]) => `${f} ${n}`)
                        .join(", ")}; ` +
                    `largest queues seen: server ${s.maxQueue.server}, backend ${s.maxQueue.backend}` +
                    (s.unparsed ? `; ${s.unparsed} other lines` : "") +
                    ".",
            },
            {
                title: "HAProxy termination states",
                header: ["state", "requests", "meaning"],
                rows: s.termination.map((t) => [t.state, String(t.count), t.meaning]),
            },
            { title: "HAProxy status codes", header: ["status", "requests"], rows: s.status.map((x) => [x.code, String(x.count)]) },
        ],
        panels: s.timeline.bins.length
            ? [
                  {
                      id: "haproxy-timers",
                      title: "HAProxy timers over time: p99 of queue time (Tw), server response (Tr), total (Ta), ms",
                      unit: "ms" as const,
                      series: [series("Tw p99 (queue)", "twP99"), series("Tr p99 (server)", "trP99"), series("Ta p99 (total)", "taP99")],
                  },
              ]
            : [],
    };
}

/** Peak memory and CPU of each sampled host, for the facts and a table. */
function hostSampleTable(h: HostSamples | undefined): ReportTable[] {
    if (!h) return [];
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    const rows = Object.entries(h.hosts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, x]) => {
            const peak = x.samples.reduce((p, s) => (s.memoryBytes > p.memoryBytes ? s : p), x.samples[0]);
            const first = x.samples[0];
            const last = x.samples[x.samples.length - 1];
            const cores = last.t > first.t ? (last.cpuNs - first.cpuNs) / 1e6 / (last.t - first.t) : 0;
            return [
                name,
                x.role,
                mib(peak.memoryBytes),
                x.limitBytes === undefined ? "none" : mib(x.limitBytes),
                mib(peak.anonBytes),
                mib(peak.kernelBytes),
                mib(peak.socketBytes),
                cores.toFixed(2),
                String(last.oomKills - first.oomKills),
                String(x.samples.length),
            ];
        });
    return [
        {
            title: "Each host's own memory and CPU (sampled through the run)",
            header: [
                "host",
                "role",
                "peak memory",
                "limit",
                "user (anon) at peak",
                "kernel at peak",
                "socket buffers at peak",
                "CPU cores (mean)",
                "OOM kills",
                "readings",
            ],
            rows,
            note:
                `${h.source}, every ${h.intervalS} s.` +
                (h.unreadable.length ? ` Not sampled: ${h.unreadable.map((u) => `${u.host} (${u.error})`).join("; ")}.` : ""),
        },
    ];
}

/** The run page's facts: verdict, load, results, and every value that could not be read, as unknown. Pure. */
export function runFacts(run: RunRecord, row: LedgerRow, timeline: Pick<Timeline, "peakInFlight">, extra: [string, string][] = []): [string, string][] {
    const ms = (x: number | null) => (x === null ? "-" : `${x.toFixed(1)} ms`);
    return [
        ["verdict", `${row.verdict} (${row.why})`],
        ["stack / tier", `${row.stack} / ${row.tier}`],
        ["preset", row.preset],
        ["started", row.startedAt],
        ["wall time", `${row.durationS} s`],
        ["load", `${row.clients} clients: ${describeSettings(run.settings)}`],
        ["requests", `${row.requests} (errors ${row.errors}, ${row.errorPct.toFixed(2)} %)`],
        ["latency", `p50 ${ms(row.p50Ms)}, p99 ${ms(row.p99Ms)}, max ${ms(row.maxMs)}`],
        ["peak requests in flight (clients)", String(timeline.peakInFlight)],
        [
            "servers down in HAProxy at the end",
            run.serversDown === "unknown"
                ? "unknown (HAProxy's statistics could not be read after the run)"
                : run.serversDown.length
                  ? run.serversDown.join(", ")
                  : "none",
        ],
        ...(run.images && Object.keys(run.images).length
            ? [
                  [
                      "host images",
                      Object.entries(run.images)
                          .map(([host, image]) => `${host} ${image}`)
                          .join(", "),
                  ] as [string, string],
              ]
            : []),
        ...(run.versions.tlsLibrary ? [["LB's TLS library", run.versions.tlsLibrary] as [string, string]] : []),
        ...(run.memory ? [["LB memory", describeMemory(run.memory)] as [string, string]] : []),
        ...(run.lbEvents?.length ? [["LB events", run.lbEvents.map((e) => `${e.tS}s ${e.event}`).join("; ")] as [string, string]] : []),
        ...(row.unknown?.length ? [["unknown (could not be read)", row.unknown.join("; ")] as [string, string]] : []),
        ...extra,
    ];
}

export async function buildRunReport(dir: string): Promise<BuiltReport> {
    const t0 = performance.now();
    const run = readRecord(join(dir, "run.json"), RunRecordSchema);
    const config = YAML.parse(read(dir, "config.yaml") ?? "{}") ?? {};
    const timeline = await runTimeline(dir);
    const metrics = metricsPanels(dir);
    const logs = haproxyLog(dir);
    const row = ledgerRow(run, {
        preset: config.labConfig?.attack?.preset,
        platform: config.labConfig?.platform,
        peakConns: timeline.peakInFlight,
        peakConnsSource: "vegeta",
    });
    const startUnix = Date.parse(timeline.start) / 1000;
    const charts = [...timelineCharts(timeline), ...metricsCharts([...logs.panels, ...metrics.panels, ...hostSamplePanels(run.hostSamples)], startUnix)];
    const facts = runFacts(run, row, timeline, metrics.facts);
    const tables: ReportTable[] = [
        {
            title: "vegeta processes",
            header: ["client", "frontend", "source address", "rate/s", "connections"],
            rows: run.processes.map((p) => [p.client, p.frontend, p.laddr, String(p.ratePerSecond), String(p.connections)]),
        },
        {
            title: "What HAProxy counted per frontend",
            header: ["frontend", "connections", "requests"],
            rows: Object.entries(run.haproxy).map(([f, c]) => [f, String(c?.sessions ?? "unknown"), String(c?.requests ?? "unknown")]),
            note: Object.values(run.haproxy).some((c) => c === undefined)
                ? "unknown: HAProxy's statistics were not read both before and after the run."
                : undefined,
        },
        ...logs.tables,
        ...hostSampleTable(run.hostSamples),
        {
            title: "Versions",
            header: ["tool", "version"],
            rows: [
                ...Object.entries(run.versions).filter((e): e is [string, string] => typeof e[1] === "string"),
                // What each host ran, read on it (Debian release, kernel, role packages).
                ...Object.entries(run.versions.hosts ?? {}).map(([host, v]) => [
                    `host ${host}`,
                    Object.entries(v)
                        .map(([k, x]) => `${k} ${x}`)
                        .join(", "),
                ]),
            ],
        },
    ];
    const texts: ReportText[] = [
        ...[
            "report.txt",
            ...readdirSync(dir)
                .filter((f) => /^report-.+\.txt$/.test(f))
                .sort(),
        ].flatMap((f) => {
            const t = read(dir, f);
            return t ? [{ title: `vegeta report (${f === "report.txt" ? "all frontends, merged" : f.slice(7, -4)})`, text: t }] : [];
        }),
        ...(run.oom
            ? [
                  {
                      title:
                          `Out of memory (bench:oom): ${run.oom.killed === "unknown" ? "OOM kill unknown" : run.oom.killed ? "HAProxy OOM-killed" : "no OOM kill"} ` +
                          `(${run.oom.by}) at ${run.oom.heldAtOom ?? "unknown"} connections (HAProxy's count, last reading) in ${run.oom.memoryMiB} MiB, planner ${run.oom.predicted}`,
                      text: JSON.stringify(run.oom, null, 2),
                  },
              ]
            : []),
        ...(run.failedProcesses.length ? [{ title: "Failed vegeta processes", text: JSON.stringify(run.failedProcesses, null, 2) }] : []),
        ...(run.allowances
            ? [
                  {
                      title: `Allowance counters (what the platform dropped)${run.allowances.exceeded ? ": INVALID RUN" : run.allowances.unreadable.length ? ": VALIDITY UNKNOWN" : ""}`,
                      text: [
                          ...describeAllowances(run.allowances),
                          JSON.stringify({ before: run.allowances.before, after: run.allowances.after }, null, 2),
                      ].join("\n"),
                  },
              ]
            : []),
        { title: "Config (settings and the stack's lab config)", text: read(dir, "config.yaml") ?? "(none)" },
        { title: "haproxy.cfg", text: read(dir, "haproxy.cfg") ?? "(none)" },
    ];
    if (metrics.note) tables.push({ title: "Server metrics", header: ["note"], rows: [[metrics.note]] });
    const html = renderReportHtml({
        title: `Run ${run.runId}`,
        subtitle: `c2m-lab attack on stack ${run.stack}`,
        facts,
        figures: await figures(charts),
        tables,
        texts,
        generatedAt: new Date().toISOString(),
    });
    const file = join(dir, "report.html");
    writeFileSync(file, html);
    return { file, ms: performance.now() - t0, figures: charts.length };
}

export function reportName(b: BuiltReport): string {
    return `${basename(b.file)} with ${b.figures} plots in ${b.ms.toFixed(0)} ms → ${b.file}`;
}
