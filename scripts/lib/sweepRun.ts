// `lab sweep`: a matrix of config variants, each cell one ledger run on one lab. Lab keys
// (haproxy.threads, haproxy.tls.certificate, …) are set in a copy of the stack's settings and applied
// in place with `lab up` (the stack's own file is never written); attack keys (attack.frontends, attack.rate, …) only change the cell's
// attack. The state (runs/sweep-<id>/sweep.json) is saved after every cell: `lab sweep --resume`
// goes on after Ctrl-C or a failure. It ends with one comparison page (sweep.html): the cells'
// results side by side, plots with the varied keys as axes, one click to each cell's own report.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import YAML from "yaml";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { readRecord, writeRecord } from "../../components/records/io.ts";
import { SweepRecordSchema, type SweepRecord, type SweepValue } from "../../components/records/sweepRecord.ts";
import { attack, newRunId, type AttackOverrides } from "./attackRun.ts";
import { attackExit } from "./attackOutcome.ts";
import { stackConfigFile } from "./stackSettings.ts";
import { up } from "./pulumiStack.ts";
import { readLedger } from "./ledgerFile.ts";
import { buildRunReport, type BuiltReport } from "./runReport.ts";
import { runsRoot } from "../toolchain/toolchain.ts";
import { renderSvg } from "./plot.ts";
import { renderReportHtml } from "../analysis/reportPage.ts";
import {
    attackOverrides,
    cellLabel,
    cellRawConfig,
    comparisonTable,
    fmtValue,
    isAttackKey,
    labPart,
    sweepCells,
    sweepCharts,
} from "../analysis/sweepMatrix.ts";

export interface SweepArgs {
    stack: string;
    sets: { key: string; values: SweepValue[] }[];
    /** Attack settings of every cell (the sweep's --rate, --duration, … flags). */
    attack: Record<string, SweepValue>;
}

export interface SweepRun {
    dir: string;
    record: SweepRecord;
    interrupted: boolean;
    report?: BuiltReport;
}

const stackFile = (stack: string) => stackConfigFile(stack);
/** The stack file as it was when the sweep began, kept in the sweep's directory: every cell's settings start from it. */
const ORIGINAL = "stack-config.yaml";

/** Each cell's config through the same checks as a stack file: every problem of every cell, before anything runs. */
export function checkCells(record: Pick<SweepRecord, "cells" | "keys" | "attack">, stackConfig: Record<string, unknown>): string[] {
    const keys = record.keys.map((k) => k.key);
    return record.cells.flatMap((c) => {
        try {
            parseLabConfig(cellRawConfig(stackConfig, c.values, record.attack));
            return [];
        } catch (err) {
            return [`cell ${c.index + 1} (${cellLabel(c, keys)}): ${(err as Error).message.replace(/\n\s*/g, " ")}`];
        }
    });
}

/** The stack file's text with a cell's lab keys set (comments and other keys kept). */
export function stackFileWith(original: string, values: Record<string, SweepValue>): string {
    const doc = YAML.parseDocument(original);
    for (const [key, value] of Object.entries(values)) {
        if (isAttackKey(key)) continue;
        const [top, ...path] = key.split(".");
        doc.setIn(["config", `c2m:${top}`, ...path], value);
    }
    return doc.toString();
}

function save(dir: string, record: SweepRecord): void {
    writeRecord(join(dir, "sweep.json"), SweepRecordSchema, record);
}

/** A sweep directory from a path, a runs/ entry or a unique part of its id. */
export function resolveSweepDir(ref: string, runsDir = runsRoot()): string {
    if (existsSync(join(ref, "sweep.json"))) return ref;
    if (existsSync(join(runsDir, ref, "sweep.json"))) return join(runsDir, ref);
    throw new Error(`no sweep ${ref} (a runs/sweep-… directory with a sweep.json)`);
}

export async function sweep(
    start: SweepArgs | { resume: string },
    runsDir = runsRoot(),
    log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<SweepRun> {
    let dir: string;
    let record: SweepRecord;
    if ("resume" in start) {
        dir = resolveSweepDir(start.resume, runsDir);
        record = readRecord(join(dir, "sweep.json"), SweepRecordSchema);
        log(`sweep ${record.id}: resuming, ${record.cells.filter((c) => c.status === "done").length} of ${record.cells.length} cells done`);
    } else {
        const file = stackFile(start.stack);
        if (!existsSync(file)) throw new Error(`no stack config ${file}`);
        if (start.sets.length === 0) throw new Error("lab sweep needs at least one --set key=v1,v2");
        const cells = sweepCells(start.sets);
        record = {
            id: `sweep-${newRunId(start.stack)}`,
            stack: start.stack,
            startedAt: new Date().toISOString(),
            keys: start.sets,
            attack: start.attack,
            cells,
        };
        const problems = checkCells(record, YAML.parse(readFileSync(file, "utf8"))?.config ?? {});
        if (problems.length) throw new Error(`lab sweep: ${problems.length} of ${cells.length} cells do not fit this lab:\n  ${problems.join("\n  ")}`);
        dir = join(runsDir, record.id);
        mkdirSync(dir, { recursive: true });
        copyFileSync(file, join(dir, ORIGINAL));
        save(dir, record);
        log(`sweep ${record.id}: ${cells.length} cells (${record.keys.map((k) => `${k.key} = ${k.values.map(fmtValue).join(" | ")}`).join("; ")}) → ${dir}`);
    }
    const original = readFileSync(join(dir, ORIGINAL), "utf8");
    const keys = record.keys.map((k) => k.key);
    let stopping = false;
    const onSignal = () => {
        stopping = true;
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let applied: string | undefined; // the lab part last applied with `lab up` (unknown at first: the lab may be in any state)
    try {
        // Each cell not done yet, once per sweep run (a failed one is retried by the next --resume).
        for (const cell of record.cells.filter((c) => c.status !== "done")) {
            if (stopping) break;
            const n = `cell ${cell.index + 1}/${record.cells.length} (${cellLabel(cell, keys)})`;
            const hasLabKeys = Object.keys(cell.values).some((k) => !isAttackKey(k));
            const setStatus = (status: "pending" | "done" | "failed", extra: { runId?: string; error?: string } = {}) => {
                delete cell.runId;
                delete cell.error;
                delete cell.finishedAt;
                Object.assign(cell, { status, ...extra }, status === "pending" ? {} : { finishedAt: new Date().toISOString() });
                save(dir, record);
            };
            if (hasLabKeys && labPart(cell.values) !== applied) {
                log(
                    `${n}: lab up with ${Object.entries(cell.values)
                        .filter(([k]) => !isAttackKey(k))
                        .map(([k, v]) => `${k}=${fmtValue(v)}`)
                        .join(", ")}`,
                );
                try {
                    await up(record.stack, { settings: stackFileWith(original, cell.values) });
                    applied = labPart(cell.values);
                } catch (err) {
                    applied = undefined;
                    if (stopping) {
                        setStatus("pending");
                        break;
                    }
                    setStatus("failed", { error: `lab up: ${(err as Error).message.split("\n")[0]}` });
                    log(`${n}: FAILED at lab up: ${(err as Error).message.split("\n")[0]}`);
                    continue;
                }
            }
            if (stopping) break;
            log(`${n}: attack`);
            const overrides = { ...record.attack, ...attackOverrides(cell.values) } as AttackOverrides;
            let result: Awaited<ReturnType<typeof attack>>;
            try {
                result = await attack(record.stack, overrides, runsDir);
            } catch (err) {
                setStatus("failed", { error: `lab attack: ${(err as Error).message.split("\n")[0]}` });
                log(`${n}: FAILED: ${(err as Error).message.split("\n")[0]}`);
                continue;
            }
            if (result.interrupted) {
                setStatus("pending");
                stopping = true;
                break;
            }
            const exit = attackExit(result);
            if (exit.code !== 0) setStatus("failed", { runId: result.runId, error: exit.message! });
            else setStatus("done", { runId: result.runId });
            await buildRunReport(result.dir).catch((err: Error) => log(`${n}: no run report (${err.message})`));
            log(`${n}: ${cell.status} → run ${result.runId}`);
        }
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        if (applied !== undefined || record.cells.some((c) => Object.keys(c.values).some((k) => !isAttackKey(k)))) {
            log(
                `sweep: Pulumi.${record.stack}.yaml is as it was; the lab itself may still be in the last cell's config (\`lab up --stack ${record.stack}\` brings it back)`,
            );
        }
    }
    const report = await buildSweepReport(dir).catch((err: Error) => {
        log(`sweep: no comparison report (${err.message})`);
        return undefined;
    });
    const left = record.cells.filter((c) => c.status !== "done").length;
    if (stopping) log(`sweep ${record.id}: stopped with ${left} cells left: \`lab sweep --resume ${record.id}\` goes on`);
    return { dir, record, interrupted: stopping, report };
}

/** sweep.html: the comparison page of a sweep (partial while cells are left). */
export async function buildSweepReport(dir: string): Promise<BuiltReport> {
    const t0 = performance.now();
    const record = readRecord(join(dir, "sweep.json"), SweepRecordSchema);
    const rows = new Map(readLedger(dirname(dir)).map((r) => [r.id, r]));
    const charts = sweepCharts(record, rows);
    const figures = await Promise.all(charts.map(async (c) => ({ id: c.id, title: c.title, svg: await renderSvg(c.spec) })));
    const table = comparisonTable(record, rows);
    const done = record.cells.filter((c) => c.status === "done").length;
    const html = renderReportHtml({
        title: `Sweep ${record.id}`,
        subtitle: `c2m-lab sweep on stack ${record.stack}: ${record.keys.map((k) => k.key).join(" × ")}`,
        facts: [
            ["cells", `${done} of ${record.cells.length} done${done < record.cells.length ? ` (\`lab sweep --resume ${record.id}\` runs the rest)` : ""}`],
            ...record.keys.map((k): [string, string] => [k.key, k.values.map(fmtValue).join(", ")]),
            [
                "attack of every cell",
                Object.keys(record.attack).length
                    ? Object.entries(record.attack)
                          .map(([k, v]) => `${k} ${fmtValue(v)}`)
                          .join(", ")
                    : "the stack's own",
            ],
            ["started", record.startedAt],
        ],
        figures,
        tables: [
            {
                title: "Cells",
                header: table.header,
                rows: table.rows,
                links: table.links,
                note: "Each run id opens that cell's own report (runs/<run>/report.html).",
            },
        ],
        texts: [{ title: "sweep.json", text: JSON.stringify(record, null, 2) }],
        generatedAt: new Date().toISOString(),
    });
    const file = join(dir, "sweep.html");
    writeFileSync(file, html);
    return { file, ms: performance.now() - t0, figures: figures.length };
}
