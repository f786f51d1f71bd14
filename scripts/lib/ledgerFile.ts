// After each attack: the run's client-side timeline (timeline.json, from the vegeta results)
// and its row in the run ledger (runs/ledger.jsonl). `lab runs` lists the ledger; `lab compare`
// shows two runs side by side.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import YAML from "yaml";
import { appendRecordLine, readRecord } from "../../components/records/io.ts";
import { LedgerRowSchema } from "../../components/records/ledgerRow.ts";
import { RunRecordSchema, type RunRecord } from "../../components/records/runRecord.ts";
import type { MetricsEndpoint, StackOutputs } from "../../components/records/stackOutputs.ts";
import { labEnv, runsRoot } from "../toolchain/toolchain.ts";
import { IN_FLIGHT_COUNT, readTimeline, type Timeline } from "../analysis/timeline.ts";
import { pullHaproxyLog, pullRunMetrics } from "./metricsPull.ts";
import { Remote, type LabAccess } from "./remote.ts";
import { findRun, formatCompare, formatRuns, ledgerRow, parseLedger, type LedgerRow } from "../analysis/ledgerRows.ts";

export const LEDGER_FILE = "ledger.jsonl";

export function ledgerPath(runsDir: string): string {
    return join(runsDir, LEDGER_FILE);
}

/** The ledger's rows; a line that is not a valid row is reported on stderr and skipped. */
export function readLedger(runsDir = runsRoot()): LedgerRow[] {
    const file = ledgerPath(runsDir);
    if (!existsSync(file)) return [];
    const { rows, problems } = parseLedger(readFileSync(file, "utf8"), file);
    for (const p of problems) process.stderr.write(`ledger: ${p}\n`);
    return rows;
}

export function resultFiles(dir: string): string[] {
    const results = join(dir, "results");
    return existsSync(results)
        ? readdirSync(results)
              .filter((f) => f.endsWith(".bin"))
              .sort()
              .map((f) => join(results, f))
        : [];
}

/** The run's timeline, decoded once from its .bin files and kept as timeline.json (rebuilt when it was counted the old way). */
export async function runTimeline(dir: string): Promise<Timeline> {
    const file = join(dir, "timeline.json");
    if (existsSync(file)) {
        const kept = JSON.parse(readFileSync(file, "utf8")) as Timeline;
        // Written before every end was counted: its in-flight bins fell to 0 after the last start.
        if (kept.inFlightCount === IN_FLIGHT_COUNT || resultFiles(dir).length === 0) return kept;
    }
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

/** Pulls the run's server metrics from the stack's metrics host; a failure is reported, not thrown. */
async function pullMetricsFor(dir: string, run: RunRecord, endpoint: MetricsEndpoint, lab: LabAccess, log: (l: string) => void): Promise<void> {
    if (existsSync(join(dir, "metrics.json"))) return;
    // Prometheus and the log sink are reached from the metrics host, through its SSH connection.
    const remote = Remote.forLab(lab, { env: labEnv() });
    try {
        const m = await pullRunMetrics(dir, endpoint, Date.parse(run.startedAt) / 1000, Date.parse(run.finishedAt) / 1000, remote);
        log(
            `metrics: ${m.panels.reduce((n, p) => n + p.series.length, 0)} series from ${m.source}; metrics role used ` +
                `${m.overhead.cpuPctMean.toFixed(1)} % CPU (max ${m.overhead.cpuPctMax.toFixed(1)} %), ${(m.overhead.rssBytesMax / 2 ** 20).toFixed(0)} MiB`,
        );
        const s = await pullHaproxyLog(dir, endpoint.haproxyLog, Date.parse(run.startedAt), Date.parse(run.finishedAt) + 2000, remote);
        const tw = s.timers.find((t) => t.name === "Tw");
        log(
            `haproxy log: ${s.requests} requests logged (${s.unparsed} other lines), Tw p99 ${tw?.p99 ?? "-"} ms, ` +
                `termination ${s.termination
                    .slice(0, 3)
                    .map((t) => `${t.state}×${t.count}`)
                    .join(" ")}`,
        );
    } catch (err) {
        log(`metrics: run ${basename(dir)} has no server metrics: ${(err as Error).message}`);
    } finally {
        await remote.close();
    }
}

/** The run's row (peak connections from its server metrics when recorded, else from its timeline), appended to the ledger next to it. */
async function appendLedgerRow(dir: string, run: RunRecord, config: { preset?: string; platform?: string }): Promise<LedgerRow> {
    const timeline = await runTimeline(dir);
    const fromMetrics = metricsPeakConns(dir);
    const row = ledgerRow(run, {
        ...config,
        peakConns: fromMetrics ?? (timeline.requests > 0 ? timeline.peakInFlight : undefined),
        peakConnsSource: fromMetrics !== undefined ? "metrics" : "vegeta",
    });
    appendRecordLine(ledgerPath(dirname(dir)), LedgerRowSchema, row);
    return row;
}

const logLine = (l: string) => process.stderr.write(`${l}\n`);

/**
 * After an attack: the run's server metrics (when its stack has a metrics host), its timeline and
 * its ledger row, from what the attack holds in memory. Never throws: a run is kept even if its row is not.
 */
export async function recordRun(
    dir: string,
    run: RunRecord,
    stack: Pick<StackOutputs, "labConfig" | "metricsEndpoint" | "inventory" | "sshPrivateKey">,
    log: (l: string) => void = logLine,
): Promise<LedgerRow | undefined> {
    try {
        if (stack.metricsEndpoint) await pullMetricsFor(dir, run, stack.metricsEndpoint, stack, log);
        return await appendLedgerRow(dir, run, { preset: stack.labConfig.attack.preset, platform: stack.labConfig.platform });
    } catch (err) {
        log(`ledger: run ${basename(dir)} not recorded: ${(err as Error).message}`);
        return undefined;
    }
}

/** The lab config a run directory keeps in config.yaml beside run.json (not validated: only compared and read for its preset and platform). */
function savedLabConfig(dir: string): { platform?: string; attack?: { preset?: string } } | undefined {
    const file = join(dir, "config.yaml");
    return existsSync(file) ? YAML.parse(readFileSync(file, "utf8"))?.labConfig : undefined;
}

/** Records a run directory from its files (runs the ledger missed): no server metrics are pulled. Never throws. */
export async function recordRunDir(dir: string, log: (l: string) => void = logLine): Promise<LedgerRow | undefined> {
    try {
        const run = readRecord(join(dir, "run.json"), RunRecordSchema);
        const config = savedLabConfig(dir);
        return await appendLedgerRow(dir, run, { preset: config?.attack?.preset, platform: config?.platform });
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
    const run = readRecord(file, RunRecordSchema);
    return { settings: run.settings, versions: run.versions, labConfig: savedLabConfig(join(runsDir, id)) };
}

export function compareRuns(refA: string, refB: string, runsDir = runsRoot()): string {
    const rows = readLedger(runsDir);
    const a = findRun(rows, refA);
    const b = findRun(rows, refB);
    return formatCompare(a, b, { a: details(runsDir, a.id), b: details(runsDir, b.id) });
}

/** Records every run directory under runsDir that has a run.json but no ledger row yet (older runs). */
export async function backfillLedger(runsDir = runsRoot()): Promise<number> {
    const known = new Set(readLedger(runsDir).map((r) => r.id));
    const dirs = existsSync(runsDir)
        ? readdirSync(runsDir)
              .filter((d) => !known.has(d) && existsSync(join(runsDir, d, "run.json")))
              .sort()
        : [];
    let added = 0;
    for (const d of dirs) if (await recordRunDir(join(runsDir, d))) added++;
    return added;
}
