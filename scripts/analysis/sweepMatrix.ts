// `lab sweep`, pure parts: `--set key=v1,v2` parsing, the matrix of cells (ordered so the lab
// changes as rarely as possible), each cell's stack config, and the comparison report's table
// and plots. The seed did 500+ runs by hand in a spreadsheet; this is that spreadsheet.
import type { SweepCell, SweepRecord, SweepValue } from "../../components/records/sweepRecord.ts";
import type { LedgerRow } from "../../components/records/ledgerRow.ts";
import type { Chart } from "./reportCharts.ts";

export type { SweepCell, SweepRecord, SweepValue };

/** Keys a sweep may not vary: what the lab is (its platform, its address range), not how it is set up. */
const FIXED_KEYS = ["platform", "local.subnet", "aws.region"];

/**
 * Named matrices (`lab sweep --recipe <name>`), each a seed question. `cores`: "8 → 16 cores did not
 * help" and the 3- vs 6-core runs — HAProxy's CPU time at the seed's 3, 6, 8 and 16 cores scaled by the
 * stack's 1/N (its LB quota over the seed tier's cores), plain against TLS (the CPU cost of TLS per
 * core count). Run it with the load that tops the smallest out (--rate, --duration, --sleep): a cell's
 * errors and p99 against its neighbours say whether more cores helped.
 */
export const SWEEP_RECIPES = {
    cores: (scale: number) => [`local.hostLimits.haproxy.cpuQuota=${[3, 6, 8, 16].map((c) => c / scale).join(",")}`, "attack.frontends=plain,tls"],
} as const;

/** The --set arguments of a recipe for a stack whose LB runs at 1/`scale` of its seed tier. */
export function recipeSets(name: string, scale: number): string[] {
    const recipe = SWEEP_RECIPES[name as keyof typeof SWEEP_RECIPES];
    if (!recipe) throw new Error(`--recipe ${name}: no such recipe (${Object.keys(SWEEP_RECIPES).join(", ")})`);
    if (!(scale >= 1)) throw new Error(`--recipe ${name}: the stack's scale 1/${scale} is not 1/N with N ≥ 1`);
    return recipe(scale);
}

/** One `--set` value: true/false, a number, a "+"-joined list ("plain+tls"), else the text. */
export function parseValue(text: string): SweepValue {
    const one = (t: string): string | number | boolean => {
        if (t === "true" || t === "false") return t === "true";
        return t.trim() !== "" && Number.isFinite(Number(t)) ? Number(t) : t;
    };
    return text.includes("+") ? text.split("+").map(one) : one(text);
}

/** Config keys whose value is a list: a single value given for one is a one-item list ("attack.frontends=plain,tls"). */
export const LIST_KEYS = ["attack.frontends"];

/** `key=v1,v2,…` (the key without "c2m:"). */
export function parseSet(arg: string): { key: string; values: SweepValue[] } {
    const m = /^(?:c2m:)?([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)=(.+)$/.exec(arg.trim());
    if (!m) throw new Error(`--set ${arg}: expected key=value[,value…], e.g. haproxy.threads=1,2`);
    const [, key, list] = m;
    if (FIXED_KEYS.includes(key)) throw new Error(`--set ${arg}: ${key} is what the lab is, not a setting a sweep can change in place`);
    const texts = list.split(",").map((v) => v.trim());
    if (texts.some((v) => v === "")) throw new Error(`--set ${arg}: an empty value`);
    if (new Set(texts).size !== texts.length) throw new Error(`--set ${arg}: a value is given twice`);
    const values = texts.map(parseValue);
    return { key, values: LIST_KEYS.includes(key) ? values.map((v) => (Array.isArray(v) ? v : [v])) : values };
}

/** Attack keys are the attack's own settings (no lab change); every other key is the stack's config (`lab up` in place). */
export const isAttackKey = (key: string) => key.startsWith("attack.");

/**
 * Every combination of the keys' values, lab keys varying slowest (outer) and attack keys
 * fastest, so consecutive cells share the lab's config as long as possible.
 */
export function sweepCells(keys: { key: string; values: SweepValue[] }[]): SweepCell[] {
    const seen = new Set<string>();
    for (const k of keys) {
        if (seen.has(k.key)) throw new Error(`--set ${k.key} is given twice: give all its values in one --set`);
        seen.add(k.key);
    }
    const ordered = [...keys.filter((k) => !isAttackKey(k.key)), ...keys.filter((k) => isAttackKey(k.key))];
    let combos: Record<string, SweepValue>[] = [{}];
    for (const k of ordered) combos = combos.flatMap((c) => k.values.map((v) => ({ ...c, [k.key]: v })));
    return combos.map((values, index) => ({ index, values, status: "pending" as const }));
}

/** A cell's varied lab keys applied to a stack file's config (keys "c2m:<top>"; nested objects merged, the rest untouched). */
export function applyToStackConfig(config: Record<string, unknown>, values: Record<string, SweepValue>): Record<string, unknown> {
    const out = structuredClone(config);
    for (const [key, value] of Object.entries(values)) {
        if (isAttackKey(key)) continue;
        const [top, ...path] = key.split(".");
        const topKey = `c2m:${top}`;
        if (path.length === 0) {
            out[topKey] = value;
            continue;
        }
        if (typeof out[topKey] !== "object" || out[topKey] === null) out[topKey] = {};
        const root = out[topKey] as Record<string, unknown>;
        let node = root;
        for (const p of path.slice(0, -1)) {
            if (typeof node[p] !== "object" || node[p] === null) node[p] = {};
            node = node[p] as Record<string, unknown>;
        }
        node[path.at(-1)!] = value;
    }
    return out;
}

/** The raw config (keys without "c2m:", as the config loader checks it) of a cell: the stack file's, its lab keys, then the sweep's and the cell's attack settings. */
export function cellRawConfig(
    config: Record<string, unknown>,
    values: Record<string, SweepValue>,
    attack: Record<string, SweepValue>,
): Record<string, unknown> {
    const raw: Record<string, unknown> = Object.fromEntries(Object.entries(applyToStackConfig(config, values)).map(([k, v]) => [k.replace(/^c2m:/, ""), v]));
    raw.attack = { ...(raw.attack as Record<string, unknown> | undefined), ...attack, ...attackOverrides(values) };
    return raw;
}

/** The cell's attack keys as `lab attack` overrides (attack.rate → rate). */
export function attackOverrides(values: Record<string, SweepValue>): Record<string, SweepValue> {
    return Object.fromEntries(
        Object.entries(values)
            .filter(([k]) => isAttackKey(k))
            .map(([k, v]) => [k.slice("attack.".length), v]),
    );
}

/** The lab part of a cell (what `lab up` must apply), comparable between cells. */
export function labPart(values: Record<string, SweepValue>): string {
    return JSON.stringify(
        Object.entries(values)
            .filter(([k]) => !isAttackKey(k))
            .sort(([a], [b]) => a.localeCompare(b)),
    );
}

export const fmtValue = (v: SweepValue | undefined) => (v === undefined ? "-" : Array.isArray(v) ? v.join("+") : String(v));

/** "haproxy.threads=2, attack.frontends=tls" */
export function cellLabel(c: SweepCell, keys: string[]): string {
    return keys.map((k) => `${k}=${fmtValue(c.values[k])}`).join(", ");
}

/** The comparison table: one row per cell, the varied keys first, then its run's results; the run id links to its report. */
export function comparisonTable(r: SweepRecord, rows: Map<string, LedgerRow>): { header: string[]; rows: string[][]; links: (string | undefined)[][] } {
    const keys = r.keys.map((k) => k.key);
    const num = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? "-" : x.toFixed(d));
    const header = [...keys, "status", "run", "requests", "p50 ms", "p99 ms", "max ms", "errors", "peak conns", "verdict"];
    const body = r.cells.map((c) => {
        const row = c.runId ? rows.get(c.runId) : undefined;
        return [
            ...keys.map((k) => fmtValue(c.values[k])),
            c.status + (c.error ? `: ${c.error}` : ""),
            c.runId ?? "-",
            row ? String(row.requests) : "-",
            num(row?.p50Ms),
            num(row?.p99Ms),
            num(row?.maxMs),
            row ? `${row.errorPct.toFixed(2)} %` : "-",
            row?.peakConns === null || row?.peakConns === undefined ? "-" : String(row.peakConns),
            row ? `${row.verdict}: ${row.why}` : "-",
        ];
    });
    const runCol = keys.length + 1;
    const links = r.cells.map((c) => header.map((_, i) => (i === runCol && c.runId ? `../${c.runId}/report.html` : undefined)));
    return { header, rows: body, links };
}

const WIDTH = 760;

/**
 * The sweep's plots: p50/p99, requests per second achieved and errors per cell, the varied keys
 * as axes (one key: the x axis; two: x and colour; more: one bar per cell, coloured by the first).
 */
export function sweepCharts(r: SweepRecord, rows: Map<string, LedgerRow>): Chart[] {
    const keys = r.keys.map((k) => k.key);
    const points = r.cells.flatMap((c) => {
        const row = c.runId ? rows.get(c.runId) : undefined;
        if (!row) return [];
        return [
            {
                cell: cellLabel(c, keys),
                x: keys.length <= 2 ? fmtValue(c.values[keys[0]]) : cellLabel(c, keys),
                colour: fmtValue(c.values[keys.length === 2 ? keys[1] : keys[0]]),
                p50: row.p50Ms ?? 0,
                p99: row.p99Ms ?? 0,
                rps: row.durationS > 0 ? Math.round((row.requests / row.durationS) * 10) / 10 : 0,
                errors: row.errorPct,
            },
        ];
    });
    const xTitle = keys.length <= 2 ? keys[0] : "cell";
    const colourTitle = keys.length === 2 ? keys[1] : keys[0];
    const bars = (id: string, title: string, field: string, yTitle: string): Chart => ({
        id,
        title,
        spec: {
            $schema: "https://vega.github.io/schema/vega-lite/v6.json",
            title,
            width: WIDTH,
            height: 240,
            background: "white",
            data: { values: points },
            mark: { type: "bar" },
            encoding: {
                x: { field: "x", type: "nominal", title: xTitle, axis: { labelAngle: keys.length > 2 ? -30 : 0 } },
                y: { field, type: "quantitative", title: yTitle },
                color: { field: "colour", type: "nominal", title: colourTitle },
                ...(keys.length === 2 ? { xOffset: { field: "colour", type: "nominal" } } : {}),
                tooltip: [{ field: "cell" }, { field }],
            },
            config: { font: "sans-serif" },
        },
    });
    return [
        bars("sweep-p99", "p99 latency per cell (ms)", "p99", "p99 (ms)"),
        bars("sweep-p50", "p50 latency per cell (ms)", "p50", "p50 (ms)"),
        bars("sweep-rps", "Requests per second per cell (all requests over the run)", "rps", "requests/s"),
        bars("sweep-errors", "Errors per cell (%)", "errors", "errors (%)"),
    ];
}
