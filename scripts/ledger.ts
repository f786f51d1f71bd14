// After each attack: the run's client-side timeline (timeline.json, from the vegeta results)
// and its row in the run ledger (runs/ledger.jsonl). `lab runs` lists the ledger; `lab compare`
// shows two runs side by side.
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import YAML from "yaml";
import { labEnv, REPO_ROOT } from "./toolchain/toolchain.ts";
import { readTimeline, type Timeline } from "./analysis/timeline.ts";
import { pullHaproxyLog, pullRunMetrics, type MetricsEndpoint } from "./lib/metricsPull.ts";
import { outputs } from "./stack.ts";
import { findRun, formatCompare, formatRuns, ledgerRow, parseLedger, type LedgerRow, type RunJson } from "./lib/ledger.ts";

export const LEDGER_FILE = "ledger.jsonl";

export function ledgerPath(runsDir: string): string {
    return join(runsDir, LEDGER_FILE);
}

export function readLedger(runsDir = join(REPO_ROOT, "runs")): LedgerRow[] {
    const file = ledgerPath(runsDir);
    return existsSync(file) ? parseLedger(readFileSync(file, "utf8")) : [];
}

export function resultFiles(dir: string): string[] {
    const results = join(dir, "results");
    return existsSync(results) ? readdirSync(results).filter((f) => f.endsWith(".bin")).sort().map((f) => join(results, f)) : [];
}

/** The run's timeline, decoded once from its .bin files and kept as timeline.json. */
export async function runTimeline(dir: string): Promise<Timeline> {
    const file = join(dir, "timeline.json");
    if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Timeline;
    const timeline = await readTimeline(resultFiles(dir), labEnv());
    writeFileSync(file, JSON.stringify(timeline));
    return timeline;
}

/** Peak client connections HAProxy held (CurrConns) from recorded server metrics (metrics.json), when the run has them. */
export function metricsPeakConns(dir: string): number | undefined {
    const file = join(dir, "metrics.json");
    if (!existsSync(file)) return undefined;
    return (JSON.parse(readFileSync(file, "utf8")) as { peakConns?: number }).peakConns;
}

/** Pulls the run's server metrics when its stack has a metrics host; a failure is reported, not thrown. */
async function pullMetricsFor(dir: string, run: RunJson, config: { labConfig?: { hosts?: { metrics?: number } } }, log: (l: string) => void): Promise<void> {
    if (!config?.labConfig?.hosts?.metrics || existsSync(join(dir, "metrics.json"))) return;
    try {
        const out = await outputs(run.stack) as Awaited<ReturnType<typeof outputs>> & { metricsEndpoint?: MetricsEndpoint };
        if (!out.metricsEndpoint) return;
        const m = await pullRunMetrics(dir, out.metricsEndpoint, Date.parse(run.startedAt) / 1000, Date.parse(run.finishedAt) / 1000);
        log(`metrics: ${m.panels.reduce((n, p) => n + p.series.length, 0)} series from ${m.source}; metrics role used ` +
            `${m.overhead.cpuPctMean.toFixed(1)} % CPU (max ${m.overhead.cpuPctMax.toFixed(1)} %), ${(m.overhead.rssBytesMax / 2 ** 20).toFixed(0)} MiB`);
        if (out.metricsEndpoint.haproxyLog) {
            const s = await pullHaproxyLog(dir, out.metricsEndpoint.haproxyLog, Date.parse(run.startedAt), Date.parse(run.finishedAt) + 2000);
            const tw = s.timers.find((t) => t.name === "Tw");
            log(`haproxy log: ${s.requests} requests logged (${s.unparsed} other lines), Tw p99 ${tw?.p99 ?? "-"} ms, ` +
                `termination ${s.termination.slice(0, 3).map((t) => `${t.state}×${t.count}`).join(" ")}`);
        }
    } catch (err) {
        log(`metrics: run ${basename(dir)} has no server metrics: ${(err as Error).message}`);
    }
}

/** Appends the run in `dir` to the ledger next to it. Never throws: a run is kept even if its row is not. */
export async function recordRun(dir: string, log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<LedgerRow | undefined> {
    try {
        const run = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunJson;
        const config = existsSync(join(dir, "config.yaml")) ? YAML.parse(readFileSync(join(dir, "config.yaml"), "utf8")) : {};
        await pullMetricsFor(dir, run, config, log);
        const timeline = await runTimeline(dir);
        const fromMetrics = metricsPeakConns(dir);
        const row = ledgerRow(run, {
            preset: config?.labConfig?.attack?.preset, platform: config?.labConfig?.platform,
            peakConns: fromMetrics ?? (timeline.requests > 0 ? timeline.peakInFlight : undefined),
            peakConnsSource: fromMetrics !== undefined ? "metrics" : "vegeta",
        });
        appendFileSync(ledgerPath(dirname(dir)), `${JSON.stringify(row)}\n`);
        return row;
    } catch (err) {
        log(`ledger: run ${basename(dir)} not recorded: ${(err as Error).message}`);
        return undefined;
    }
}

export function listRuns(options: { stack?: string; last?: number; runsDir?: string } = {}): string {
    let rows = readLedger(options.runsDir);
    if (options.stack) rows = rows.filter((r) => r.stack === options.stack);
    if (options.last) rows = rows.slice(-options.last);
    return formatRuns(rows);
}

function details(runsDir: string, id: string): Record<string, unknown> | undefined {
    const file = join(runsDir, id, "run.json");
    if (!existsSync(file)) return undefined;
    const run = JSON.parse(readFileSync(file, "utf8"));
    const configFile = join(runsDir, id, "config.yaml");
    const labConfig = existsSync(configFile) ? YAML.parse(readFileSync(configFile, "utf8"))?.labConfig : undefined;
    return { settings: run.settings, versions: run.versions, labConfig };
}

export function compareRuns(refA: string, refB: string, runsDir = join(REPO_ROOT, "runs")): string {
    const rows = readLedger(runsDir);
    const a = findRun(rows, refA);
    const b = findRun(rows, refB);
    return formatCompare(a, b, { a: details(runsDir, a.id), b: details(runsDir, b.id) });
}

/** Records every run directory under runsDir that has a run.json but no ledger row yet (older runs). */
export async function backfillLedger(runsDir = join(REPO_ROOT, "runs")): Promise<number> {
    const known = new Set(readLedger(runsDir).map((r) => r.id));
    const dirs = existsSync(runsDir) ? readdirSync(runsDir).filter((d) => !known.has(d) && existsSync(join(runsDir, d, "run.json"))).sort() : [];
    let added = 0;
    for (const d of dirs) if (await recordRun(join(runsDir, d))) added++;
    return added;
}
