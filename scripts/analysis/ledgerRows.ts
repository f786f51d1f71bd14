// The run ledger (runs/ledger.jsonl): one row per attack, the seed's hand-kept results table
// ("J'ai maintenu un tableau de tous les résultats"). Building a row, parsing the file and
// printing lists and comparisons are pure; scripts/lib/ledgerFile.ts does the file I/O.
import { describeMemory, memoryFails } from "./memoryVerdict.ts";
import { checkNetworkRate, type VegetaTraffic } from "../../components/plan/networkRate.ts";
import { PRESET_SETTINGS, type AttackSettings } from "../../components/render/attack.ts";
import { parseRecord } from "../../components/records/io.ts";
import { LedgerRowSchema, type LedgerRow } from "../../components/records/ledgerRow.ts";
import type { RunRecord } from "../../components/records/runRecord.ts";

export type { LedgerRow };

/** Share of failed requests above which a run's verdict is "fail" (the tipping rule's default). */
const FAIL_ERROR_RATIO = 0.001;

export function presetLabel(preset: string | undefined, settings: AttackSettings): string {
    if (!preset || !(preset in PRESET_SETTINGS)) return "custom";
    const base = PRESET_SETTINGS[preset as keyof typeof PRESET_SETTINGS] as unknown as Record<string, unknown>;
    const same = Object.entries(base).every(([k, v]) => JSON.stringify((settings as unknown as Record<string, unknown>)[k]) === JSON.stringify(v));
    return same ? preset : `${preset}+`;
}

export function tierOf(stack: string, platform: string | undefined): string {
    const aws = /^aws-(.+)$/.exec(stack);
    return aws ? aws[1] : (platform ?? "local");
}

export function ledgerRow(
    run: RunRecord,
    extra: { preset?: string; platform?: string; peakConns?: number; peakConnsSource?: LedgerRow["peakConnsSource"] },
): LedgerRow {
    const s = run.summary;
    const requests = s?.requests ?? 0;
    const errors = s ? Math.round(requests * (1 - s.success)) : 0;
    const errorRatio = requests > 0 ? errors / requests : 1;
    const ms = (ns: number | undefined) => (ns === undefined ? null : Math.round(ns / 1e4) / 100);
    let verdict: LedgerRow["verdict"] = "pass";
    let why = `errors ${(errorRatio * 100).toFixed(2)} % ≤ ${FAIL_ERROR_RATIO * 100} %`;
    const unknown = unknownValues(run);
    if (run.oom) {
        // bench:oom: the ramp ends on purpose (OOM kill or no more growth); that is its outcome.
        const held = run.oom.heldAtOom === null ? "an unknown number of" : String(run.oom.heldAtOom);
        const at = `at ${held} connections in ${run.oom.memoryMiB} MiB (planner: ${run.oom.predicted})`;
        if (run.oom.killed === "unknown") {
            verdict = "unknown";
            why = `whether HAProxy was OOM-killed is unknown (${run.oom.by}; its processes could not be listed) ${at}`;
        } else {
            verdict = run.oom.killed ? "fail" : "pass";
            why = `${run.oom.killed ? "OOM-killed" : "not OOM-killed"} (${run.oom.by}) ${at}`;
        }
    } else if (run.interrupted) {
        verdict = "interrupted";
        why = "stopped by the operator";
    } else if (run.allowances?.exceeded) {
        verdict = "invalid";
        why = `the platform dropped traffic: ${run.allowances.increases.map((i) => `${i.host} ${i.counter} +${i.after - i.before}`).join(", ")}`;
    } else if (run.failedProcesses.length > 0) {
        verdict = "fail";
        why = `${run.failedProcesses.length} vegeta processes failed`;
    } else if (requests === 0) {
        verdict = "fail";
        why = "no results";
    } else if (errorRatio > FAIL_ERROR_RATIO) {
        verdict = "fail";
        why = `errors ${(errorRatio * 100).toFixed(2)} % > ${FAIL_ERROR_RATIO * 100} %`;
    } else if (!run.allowances || run.allowances.unreadable.length > 0) {
        // A pass says the platform dropped nothing: without every host's counters read twice, nobody knows.
        verdict = "unknown";
        why = `${why}, but whether the platform dropped traffic is unknown: ${
            !run.allowances ? "no allowance counters recorded" : `allowance counters unreadable on ${run.allowances.unreadable.join(", ")}`
        }`;
    }
    const m = run.memory;
    if (m && !run.oom && verdict !== "interrupted") {
        // Every attack's verdict includes the LB's memory: an OOM kill fails it whatever vegeta saw.
        if (memoryFails(m)) {
            verdict = "fail";
            why = `${describeMemory(m)}; ${why}`;
        } else {
            why = `${why}; ${describeMemory(m)}`;
            if (m.oomKills === "unknown" && verdict === "pass") verdict = "unknown";
        }
    }
    // Milestone #2's network rate (components/plan/networkRate.ts): a preset sized for one fails the run when it is not reached.
    const network = checkNetworkRate(extra.preset, run.settings, new Set(run.processes.map((p) => p.client)).size, s as VegetaTraffic | undefined);
    if (network && !run.oom && verdict !== "interrupted") {
        why = `${why}; ${network.line}`;
        if (!network.ok && verdict !== "invalid") verdict = "fail";
    }
    const mib = (b: number | null) => (b === null ? null : Math.round((b / 2 ** 20) * 10) / 10);
    return {
        id: run.runId,
        stack: run.stack,
        tier: tierOf(run.stack, extra.platform),
        preset: presetLabel(extra.preset, run.settings),
        startedAt: new Date(run.startedAt).toISOString(),
        durationS: Math.round((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 100) / 10,
        rate: run.settings.rate,
        clients: new Set(run.processes.map((p) => p.client)).size,
        frontends: run.settings.frontends,
        ...(run.certificate ? { certificate: run.certificate } : {}),
        ...(run.images ? { image: imageSummary(run.images) } : {}),
        ...(/^HAProxy version (\S+)/.exec(run.versions.haproxy) ? { haproxy: /^HAProxy version (\S+)/.exec(run.versions.haproxy)![1] } : {}),
        ...(run.versions.tlsLibrary ? { tlsLibrary: run.versions.tlsLibrary } : {}),
        requests,
        errors,
        errorPct: requests > 0 ? Math.round(errorRatio * 1e4) / 100 : 100,
        p50Ms: ms(s?.latencies["50th"]),
        p99Ms: ms(s?.latencies["99th"]),
        maxMs: ms(s?.latencies.max),
        peakConns: extra.peakConns ?? null,
        peakConnsSource: extra.peakConns === undefined ? "none" : (extra.peakConnsSource ?? "vegeta"),
        verdict,
        why,
        ...(m
            ? {
                  lbPeakMiB: mib(m.peakBytes),
                  lbLimitMiB: mib(m.limitBytes),
                  kbPerConnPredicted: m.kbPerConnPredicted,
                  kbPerConnMeasured: m.kbPerConnMeasured,
                  headroomPct: m.headroomPct,
                  oomKills: m.oomKills,
              }
            : {}),
        ...(unknown.length ? { unknown } : {}),
    };
}

/** One image for every host ("debian-13"), else each distinct one with its hosts ("debian-13: haproxy-0; machine: metrics-0"). Pure. */
export function imageSummary(images: Record<string, string>): string {
    const by = new Map<string, string[]>();
    for (const [host, image] of Object.entries(images)) by.set(image, [...(by.get(image) ?? []), host]);
    return by.size === 1 ? [...by.keys()][0] : [...by].map(([image, hosts]) => `${image}: ${hosts.join(" ")}`).join("; ");
}

/** What the run could not read, each with why: the ledger, `lab runs` and the report show them. Pure. */
export function unknownValues(run: RunRecord): string[] {
    return [
        ...(!run.allowances
            ? ["allowance counters (not recorded)"]
            : run.allowances.unreadable.map((u) => `allowance counters of ${u} (unreadable before or after the run)`)),
        ...(run.serversDown === "unknown" ? ["servers down at the end (HAProxy's statistics unreadable after the run)"] : []),
        ...(run.oom?.killed === "unknown" ? ["whether HAProxy was OOM-killed (its cgroup.procs unreadable, no kill counted or logged)"] : []),
        ...(run.oom && run.oom.heldAtOom === null ? ["connections held at the OOM kill (no HAProxy statistics read before it)"] : []),
    ];
}

/**
 * Every valid row of a ledger file's text, and one problem per line that is not a row. A torn
 * line (a run killed while appending) or a hand-edited one must not hide every other run.
 */
export function parseLedger(text: string, source = "ledger.jsonl"): { rows: LedgerRow[]; problems: string[] } {
    const rows: LedgerRow[] = [];
    const problems: string[] = [];
    text.split("\n").forEach((line, i) => {
        if (line.trim() === "") return;
        const where = `${source}:${i + 1}`;
        try {
            rows.push(parseRecord(line, LedgerRowSchema, where));
        } catch (err) {
            problems.push(`${(err as Error).message} (line skipped)`);
        }
    });
    return { rows, problems };
}

/** A run by exact id, else by a unique prefix or substring ("230247", "dev5"). */
export function findRun(rows: LedgerRow[], ref: string): LedgerRow {
    const exact = rows.filter((r) => r.id === ref);
    if (exact.length) return exact[exact.length - 1];
    const matches = rows.filter((r) => r.id.startsWith(ref));
    const found = matches.length ? matches : rows.filter((r) => r.id.includes(ref));
    if (found.length === 1) return found[0];
    if (found.length === 0) throw new Error(`no run matches "${ref}" in the ledger`);
    throw new Error(
        `"${ref}" matches ${found.length} runs (${found
            .slice(0, 4)
            .map((r) => r.id)
            .join(", ")}${found.length > 4 ? ", …" : ""}); give more of the id`,
    );
}

const num = (x: number | null, d = 1) => (x === null ? "-" : x.toFixed(d));

function table(header: string[], rows: string[][]): string {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) =>
        cells
            .map((c, i) => c.padEnd(widths[i]))
            .join("  ")
            .trimEnd();
    return [line(header), ...rows.map(line)].join("\n");
}

/** "plain+tls", with the TLS certificate's key when recorded: "plain+tls(rsa-2048)". */
function frontendsLabel(r: LedgerRow): string {
    return r.frontends.map((f) => (f === "tls" && r.certificate ? `tls(${r.certificate})` : f)).join("+");
}

export function formatRuns(rows: LedgerRow[]): string {
    if (rows.length === 0) return "no runs in the ledger yet (`lab attack` adds one per run)";
    return (
        table(
            ["id", "stack", "tier", "preset", "rate/cl", "clients", "frontends", "requests", "peak conns", "p50 ms", "p99 ms", "errors", "dur s", "verdict"],
            rows.map((r) => [
                r.id,
                r.stack,
                r.tier,
                r.preset,
                num(r.rate, r.rate % 1 ? 1 : 0),
                String(r.clients),
                frontendsLabel(r),
                String(r.requests),
                r.peakConns === null ? "-" : `${r.peakConns}${r.peakConnsSource === "vegeta" ? "*" : ""}`,
                num(r.p50Ms),
                num(r.p99Ms),
                `${r.errorPct.toFixed(2)} %`,
                num(r.durationS),
                r.verdict + (r.unknown?.length ? ` (${r.unknown.length} unknown)` : ""),
            ]),
        ) + (rows.some((r) => r.peakConnsSource === "vegeta") ? "\n* peak requests in flight at the clients (no server metrics recorded)" : "")
    );
}

/** Two runs side by side: the ledger rows, then the settings and versions that differ. */
export function formatCompare(a: LedgerRow, b: LedgerRow, details: { a?: Record<string, unknown>; b?: Record<string, unknown> } = {}): string {
    const fields: [string, (r: LedgerRow) => string][] = [
        ["stack", (r) => r.stack],
        ["tier", (r) => r.tier],
        ["preset", (r) => r.preset],
        ["started", (r) => r.startedAt],
        ["duration s", (r) => num(r.durationS)],
        ["rate/client", (r) => num(r.rate, r.rate % 1 ? 2 : 0)],
        ["clients", (r) => String(r.clients)],
        ["frontends", frontendsLabel],
        ["image", (r) => (r.image ? `${r.image} (HAProxy ${r.haproxy ?? "?"}, ${r.tlsLibrary ?? "?"})` : "-")],
        ["requests", (r) => String(r.requests)],
        ["peak conns", (r) => (r.peakConns === null ? "-" : `${r.peakConns} (${r.peakConnsSource})`)],
        ["p50 ms", (r) => num(r.p50Ms)],
        ["p99 ms", (r) => num(r.p99Ms)],
        ["max ms", (r) => num(r.maxMs)],
        ["errors", (r) => `${r.errors} (${r.errorPct.toFixed(2)} %)`],
        ["verdict", (r) => `${r.verdict}: ${r.why}`],
        ["unknown", (r) => (r.unknown?.length ? r.unknown.join("; ") : "-")],
    ];
    const rows = fields.map(([name, get]) => [name, get(a), get(b), delta(name, a, b)]);
    const flatA = flatten(details.a ?? {});
    const flatB = flatten(details.b ?? {});
    const keys = [...new Set([...Object.keys(flatA), ...Object.keys(flatB)])].sort();
    const differing = keys.filter((k) => flatA[k] !== flatB[k]).map((k) => [k, flatA[k] ?? "-", flatB[k] ?? "-", ""]);
    const out = [table(["", a.id, b.id, "B vs A"], rows)];
    if (details.a || details.b) {
        out.push("", differing.length ? table(["settings / versions that differ", "A", "B", ""], differing) : "same settings and versions");
    }
    return out.join("\n");
}

function delta(name: string, a: LedgerRow, b: LedgerRow): string {
    const pick: Record<string, (r: LedgerRow) => number | null> = {
        "p50 ms": (r) => r.p50Ms,
        "p99 ms": (r) => r.p99Ms,
        "max ms": (r) => r.maxMs,
        requests: (r) => r.requests,
        "peak conns": (r) => r.peakConns,
        "rate/client": (r) => r.rate,
    };
    const f = pick[name];
    if (!f) return "";
    const [x, y] = [f(a), f(b)];
    if (x === null || y === null || x === 0) return "";
    const change = ((y - x) / x) * 100;
    return `${change >= 0 ? "+" : ""}${change.toFixed(1)} %`;
}

function flatten(o: unknown, prefix = ""): Record<string, string> {
    if (o === null || typeof o !== "object" || Array.isArray(o)) return prefix ? { [prefix]: JSON.stringify(o) ?? "undefined" } : {};
    return Object.fromEntries(Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => Object.entries(flatten(v, prefix ? `${prefix}.${k}` : k))));
}
