// `lab tipping`: the automatic tipping-point search on a running lab. Each step is a normal
// `lab attack` (runs/<id>/, ledger row) at one total rate; the pure search
// (scripts/analysis/tipping.ts) picks the next rate and judges each step.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeRecord } from "../components/records/io.ts";
import { TippingRecordSchema, type TippingArgs } from "../components/records/tippingRecord.ts";
import { attack, attackExit, newRunId } from "./attack.ts";
import { outputs } from "./stack.ts";
import { buildTippingReport, reportName } from "./report.ts";
import { runsRoot } from "./toolchain/toolchain.ts";
import {
    DEFAULT_TIPPING, fmtRate, formatTippingTable, searchTippingPoint, summarise, validateTippingOptions,
    type StepMeasure, type StepVerdict, type TippingResult,
} from "./analysis/tipping.ts";

export type { TippingArgs };

export const TIPPING_DEFAULTS: Omit<TippingArgs, "stack" | "startRate"> = {
    ...DEFAULT_TIPPING, durationS: 10, frontend: "plain", sleepMs: 0, times: 0, timeoutS: 30,
};

export interface TippingRun { id: string; dir: string; args: TippingArgs; result: TippingResult; elapsedS: number }

/** Rough wall time of one step: the load, the drain of an overloaded step, setup and collection. */
function stepBudgetS(a: TippingArgs): number {
    return a.durationS * 1.5 + 8;
}

export async function tipping(args: TippingArgs, runsDir = runsRoot(),
    log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<TippingRun> {
    const problems = validateTippingOptions(args);
    if (problems.length) throw new Error(`lab tipping: ${problems.join("; ")}`);
    const out = await outputs(args.stack);
    const clients = out.inventory.filter((h) => h.role === "client").length;
    if (clients === 0) throw new Error(`stack ${args.stack} has no client hosts`);
    const id = `tipping-${newRunId(args.stack)}`;
    const dir = join(runsDir, id);
    mkdirSync(dir, { recursive: true });
    const t0 = Date.now();
    log(`tipping ${id}: start ${fmtRate(args.startRate)} ×${args.factor}, ≤ ${args.maxSteps} steps of ${args.durationS} s, ` +
        `bad when p99 > ${args.p99Factor}× baseline or errors > ${(args.maxErrorRatio * 100).toFixed(2)} %, ` +
        `stop within ±${(args.tolerance * 100).toFixed(0)} %; ${clients} clients, frontend ${args.frontend}`);

    const measure = async (rate: number, step: { index: number; phase: string }): Promise<StepMeasure> => {
        const elapsed = (Date.now() - t0) / 1000;
        const left = args.maxSteps - step.index + 1;
        log(`tipping step ${step.index}/≤${args.maxSteps} (${step.phase}): ${fmtRate(rate)} total (${fmtRate(rate / clients)} per client) ` +
            `for ${args.durationS} s — ${elapsed.toFixed(0)} s elapsed, ETA ≤ ${(left * stepBudgetS(args)).toFixed(0)} s`);
        const r = await attack(args.stack, {
            rate: Math.round(rate / clients), durationS: args.durationS, frontends: [args.frontend],
            sleepMs: args.sleepMs, times: args.times, timeoutS: args.timeoutS,
        }, runsDir);
        if (r.interrupted) throw new Error(`interrupted during step ${step.index} (run ${r.runId})`);
        // A step some clients did not (fully) send measured less load than it names: no knee from it.
        const exit = attackExit(r);
        if (exit.code !== 0) throw new Error(`step ${step.index} (run ${r.runId}): ${exit.message}`);
        const offered = r.processes.reduce((sum, p) => sum + p.ratePerSecond, 0);
        const s = r.summary;
        const m: StepMeasure = s
            ? { rate: offered, p50Ms: s.latencies["50th"] / 1e6, p99Ms: s.latencies["99th"] / 1e6, errorRatio: 1 - s.success,
                requests: s.requests, throughput: s.throughput, runId: r.runId }
            : { rate: offered, p50Ms: 0, p99Ms: 0, errorRatio: 1, requests: 0, runId: r.runId };
        return m;
    };

    let result: TippingResult;
    const measured: StepVerdict[] = [];
    try {
        // vegeta's -rate is a whole number per client host: rates move in steps of one per client.
        result = await searchTippingPoint(measure, { ...args, quantum: args.quantum ?? clients }, (s) => {
            measured.push(s);
            log(`  → ${s.good ? "good" : "BAD"}: ${fmtRate(s.rate)} p50 ${s.p50Ms.toFixed(1)} ms p99 ${s.p99Ms.toFixed(1)} ms ` +
                `errors ${(s.errorRatio * 100).toFixed(2)} % (${s.reason}) [run ${s.runId}]`);
        });
    } catch (err) {
        // Interrupted (or failed) mid-search: the steps measured so far stay with the search.
        const partial = { ...summarise(measured, args), converged: false, stopReason: (err as Error).message };
        writeRecord(join(dir, "tipping.json"), TippingRecordSchema, { id, stack: args.stack, args, elapsedS: (Date.now() - t0) / 1000, interrupted: true, ...partial });
        writeFileSync(join(dir, "tipping.txt"), `${formatTippingTable(partial)}\n`);
        throw new Error(`${(err as Error).message}; ${measured.length} steps measured so far: ${join(dir, "tipping.txt")}`);
    } finally {
        writeFileSync(join(dir, "args.json"), JSON.stringify(args, null, 2));
    }
    const elapsedS = (Date.now() - t0) / 1000;
    writeRecord(join(dir, "tipping.json"), TippingRecordSchema, { id, stack: args.stack, args, elapsedS, ...result });
    writeFileSync(join(dir, "tipping.txt"), `${formatTippingTable(result)}\n`);
    const page = await buildTippingReport(dir).catch((err: Error) => { log(`tipping: no plot (${err.message})`); return undefined; });
    if (page) log(`tipping: ${reportName(page)}`);
    return { id, dir, args, result, elapsedS };
}
