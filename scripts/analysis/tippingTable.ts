// The tipping search as text: the evidence table `lab tipping` prints, rates, tries and each step's
// clients. Pure.
import type { Attribution, ClientSend, StepVerdict, TippingResult } from "../../components/records/tippingRecord.ts";
export function fmtRate(r: number): string {
    return `${r >= 100 ? r.toFixed(0) : r.toFixed(1)}/s`;
}

/** A step's clients as the evidence table shows them: p99 lag to send (ms), the share sent when short, ! when behind its plan. */
export function formatSend(send: ClientSend[] | undefined): string {
    if (!send?.length) return "-";
    return send
        .map(
            (c) =>
                `${c.host} ${c.lagP99Ms.toFixed(1)}` +
                (c.planned > 0 && c.sent < c.planned ? `/${((c.sent / c.planned) * 100).toFixed(0)}%` : "") +
                (c.behind ? "!" : ""),
        )
        .join(" ");
}

/** The evidence table printed with the knee. */
export function formatTippingTable(r: TippingResult): string {
    // With CPU measured: each host's cores used (an asterisk when saturated), before the reason;
    // with the clients' sending recorded: each client's p99 lag to send (! when behind its plan).
    const withCpu = r.steps.some((s) => s.cpu?.length);
    const withSend = r.steps.some((s) => s.send?.length);
    const withTries = r.steps.some((s) => (s.tries?.length ?? 1) > 1);
    const header = [
        "step",
        "phase",
        "rate/s",
        ...(withTries ? ["tries"] : []),
        "p50 ms",
        "p99 ms",
        "p99/base",
        "errors",
        "verdict",
        ...(withCpu ? ["cpu (cores, * saturated)"] : []),
        ...(withSend ? ["send lag p99 ms (! behind plan)"] : []),
        "why",
    ];
    const rows = r.steps.map((s) => [
        String(s.step),
        s.phase,
        s.rate.toFixed(1),
        ...(withTries ? [formatTries(s)] : []),
        s.p50Ms.toFixed(1),
        s.p99Ms.toFixed(1),
        r.baselineP99Ms ? (s.p99Ms / r.baselineP99Ms).toFixed(2) : "-",
        pct(s.errorRatio),
        s.good ? "good" : s.unconfirmed ? "BAD?" : "BAD",
        ...(withCpu ? [s.cpu?.length ? s.cpu.map((h) => `${h.host} ${formatCores(h.cores)}${h.saturated ? "*" : ""}`).join(" ") : "-"] : []),
        ...(withSend ? [formatSend(s.send)] : []),
        s.reason,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
    const { tries, stalls } = triesCount(r.steps);
    const measured =
        `${r.steps.length} steps` + (tries > r.steps.length ? ` (${tries} tries${stalls ? `, ${stalls} machine stall${stalls > 1 ? "s" : ""}` : ""})` : "");
    const knee =
        r.knee === undefined
            ? `no knee: ${r.stopReason}`
            : `knee ≈ ${fmtRate(r.knee)} (±${((r.uncertainty ?? 0) * 100).toFixed(1)} %: last good ${fmtRate(r.lastGood!)}, first bad ${fmtRate(r.firstBad!)}) after ${measured} — ${r.stopReason}`;
    const bound = r.attribution
        ? [
              `limited by: ${r.attribution.bound} — ${r.attribution.note}` +
                  (r.attribution.saturatedFirst ? `; ${describeFirst(r.attribution.saturatedFirst)}` : ""),
          ]
        : [];
    return [line(header), ...rows.map(line), "", knee, ...bound].join("\n");
}

/** A step's tries as the table shows them: "1", "2", "3 (1 stall)". */
export function formatTries(s: Pick<StepVerdict, "tries">): string {
    const n = s.tries?.length ?? 1;
    const stalls = s.tries?.filter((t) => t.stall).length ?? 0;
    return `${n}${stalls ? ` (${stalls} stall${stalls > 1 ? "s" : ""})` : ""}`;
}

/** Every try of a step, as the tipping page lists them: "1: p99 300.0 ms, 0.00 % errors, stall; 2: p99 12.0 ms, 0.00 % errors, good". */
export function describeTries(s: Pick<StepVerdict, "tries" | "p99Ms" | "errorRatio" | "good">): string {
    const tries = s.tries?.length ? s.tries : [{ try: 1, p99Ms: s.p99Ms, errorRatio: s.errorRatio, good: s.good, stall: undefined }];
    return tries
        .map((t) => `${t.try}: p99 ${t.p99Ms.toFixed(1)} ms, ${pct(t.errorRatio)} errors, ${t.stall ? "machine stall (not counted)" : t.good ? "good" : "bad"}`)
        .join("; ");
}

/** "first saturated: client-0 at 400/s (step 3: why)". */
export function describeFirst(f: NonNullable<Attribution["saturatedFirst"]>): string {
    return `first saturated: ${f.host} at ${fmtRate(f.rate)} (step ${f.step}${f.why ? `: ${f.why}` : ""})`;
}

export function pct(ratio: number): string {
    return `${(ratio * 100).toFixed(ratio < 0.01 ? 2 : 1)} %`;
}

/** A host's own cores as the tables show them: "0.42", or "unknown". */
export function formatCores(cores: number | null | undefined): string {
    return cores === null || cores === undefined ? "unknown" : cores.toFixed(2);
}

/** Measurements in all and machine stalls among them (a step without tries recorded was measured once). */
export function triesCount(steps: StepVerdict[]): { tries: number; stalls: number } {
    return {
        tries: steps.reduce((n, s) => n + (s.tries?.length ?? 1), 0),
        stalls: steps.reduce((n, s) => n + (s.tries?.filter((t) => t.stall).length ?? 0), 0),
    };
}

/** The LB host's cores (and its allowance) at the step of a rate, e.g. the first bad one: "0.09/0.1"; null when not measured. */
export function lbCoresAt(r: Pick<TippingResult, "steps">, rate: number | undefined): string | null {
    const lb = r.steps.find((s) => s.rate === rate)?.cpu?.find((h) => h.role === "haproxy");
    return lb ? `${formatCores(lb.cores)}/${lb.allowedCores}` : null;
}
