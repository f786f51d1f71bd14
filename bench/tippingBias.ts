// bench/tippingBias: how far the tipping search's retry rule moves the knee, measured on the model
// (scripts/analysis/tippingModel.ts: a queue of known capacity, with per-try noise), not on a lab.
// A bad try is believed only when a second try at its rate is bad too (one good try of up to four
// makes the step good): with noise, a step just above the knee gets two chances to look good, so
// the knee can only move up. Each seeded capacity is searched twice with the same noise draws —
// one try a step, then the default rule — from bench:tipping's fixed start (10/s, 2 clients: rates
// in steps of 2/s); the difference of the two is the rule's own bias, apart from the threshold's
// (a queue needs some overload before its p99 doubles).
//   node bench/tippingBias.ts [--capacities 100] [--seed 1] [--lo 20] [--hi 2000]
// Prints a table, then one JSON line per noise level.
import { Command, InvalidArgumentError } from "commander";
import { CAPACITY_SEARCH } from "../scripts/analysis/kneeSetups.ts";
import { DEFAULT_TIPPING, type TippingOptions } from "../scripts/analysis/tippingSearch.ts";
import { errorSummary, searchModel, seededCapacities, type QueueNoise } from "../scripts/analysis/tippingModel.ts";

/** Noise levels measured: each try's capacity ±c %, its p99 ±10 %. */
export const NOISE_LEVELS: QueueNoise[] = [
    { capacity: 0, p99: 0.1 },
    { capacity: 0.05, p99: 0.1 },
    { capacity: 0.1, p99: 0.1 },
    { capacity: 0.2, p99: 0.1 },
];

export interface BiasRow {
    capacity_noise_pct: number;
    p99_noise_pct: number;
    capacities: number;
    /** One try a step: mean signed error, mean |error|, worst error (%), knees not found, mean tries a search. */
    one_try: ReturnType<typeof errorSummary>;
    /** The default rule (confirm 2 bad tries, up to 4). */
    confirmed: ReturnType<typeof errorSummary>;
    /** Paired by capacity and noise: the default rule's knee minus one try's, % of the capacity — mean and largest. */
    retry_bias_mean_pct: number;
    retry_bias_max_pct: number;
}

/** Both rules on the same capacities and noise draws. */
export async function measureBias(o: { capacities: number; seed: number; lo: number; hi: number }, levels = NOISE_LEVELS): Promise<BiasRow[]> {
    const capacities = seededCapacities(o.capacities, o.lo, o.hi, o.seed);
    const base: TippingOptions = { ...DEFAULT_TIPPING, ...CAPACITY_SEARCH, quantum: 2 };
    const rows: BiasRow[] = [];
    for (const noise of levels) {
        const one = await searchModel(capacities, { ...base, confirmTries: 1, maxTries: 1 }, noise, o.seed * 1000);
        const confirmed = await searchModel(capacities, base, noise, o.seed * 1000);
        const diffs = one.flatMap((r, i) => (r.errorPct !== undefined && confirmed[i].errorPct !== undefined ? [confirmed[i].errorPct! - r.errorPct] : []));
        rows.push({
            capacity_noise_pct: (noise.capacity ?? 0) * 100,
            p99_noise_pct: (noise.p99 ?? 0) * 100,
            capacities: capacities.length,
            one_try: errorSummary(one),
            confirmed: errorSummary(confirmed),
            retry_bias_mean_pct: diffs.reduce((a, x) => a + x, 0) / Math.max(1, diffs.length),
            retry_bias_max_pct: diffs.reduce((a, x) => Math.max(a, x), -Infinity),
        });
    }
    return rows;
}

const f1 = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(1)}` : "-");

export function formatBias(rows: BiasRow[]): string {
    const header =
        "| capacity noise | one try: mean · mean abs · worst (%) | confirmed: mean · mean abs · worst (%) | retry rule's bias: mean · largest (%) | tries a search (one · confirmed) |";
    const lines = rows.map(
        (r) =>
            `| ±${r.capacity_noise_pct} % | ${f1(r.one_try.meanPct)} · ${r.one_try.meanAbsPct.toFixed(1)} · ${f1(r.one_try.worstPct)}` +
            `${r.one_try.missing ? ` (${r.one_try.missing} not found)` : ""} | ${f1(r.confirmed.meanPct)} · ${r.confirmed.meanAbsPct.toFixed(1)} · ${f1(r.confirmed.worstPct)}` +
            `${r.confirmed.missing ? ` (${r.confirmed.missing} not found)` : ""} | ${f1(r.retry_bias_mean_pct)} · ${f1(r.retry_bias_max_pct)} | ${r.one_try.meanTries.toFixed(1)} · ${r.confirmed.meanTries.toFixed(1)} |`,
    );
    return [header, "|---|---|---|---|---|", ...lines].join("\n");
}

const count = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError(`${flag} must be a positive number, got "${v}"`);
    return n;
};

if (import.meta.main) {
    new Command("bench:tipping-bias")
        .option("--capacities <n>", "seeded capacities, log-uniform between --lo and --hi", count("--capacities"), 100)
        .option("--seed <n>", "seed of the capacities and the noise", count("--seed"), 1)
        .option("--lo <rate>", "lowest capacity, requests/s", count("--lo"), 20)
        .option("--hi <rate>", "highest capacity, requests/s", count("--hi"), 2000)
        .action(async (o: { capacities: number; seed: number; lo: number; hi: number }) => {
            const rows = await measureBias(o);
            console.log(
                `tipping search on the queue model, ${o.capacities} capacities ${o.lo}-${o.hi}/s (seed ${o.seed}), from ${CAPACITY_SEARCH.startRate}/s, ` +
                    `p99 noise ±10 % a try; error = (knee − capacity) / capacity`,
            );
            console.log(formatBias(rows));
            for (const r of rows) console.log(JSON.stringify(r));
        })
        .parseAsync(process.argv)
        .catch((err: Error) => {
            console.error(`bench:tipping-bias: ${err.message}`);
            process.exit(1);
        });
}
