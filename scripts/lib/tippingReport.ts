// A tipping search's page (`lab report tipping-…`, and written after `lab tipping`):
// runs/tipping-<id>/tipping.html, the search's chart, its steps and tries, and its arguments.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { readRecord } from "../../components/records/io.ts";
import { TippingRecordSchema, type TippingRecord } from "../../components/records/tippingRecord.ts";
import { tippingChart } from "../analysis/reportCharts.ts";
import { renderReportHtml } from "../analysis/reportPage.ts";
import { describeFirst, describeTries, fmtRate, formatCores, formatTries, triesCount } from "../analysis/tippingTable.ts";
import { describeP99Rule, triesOf } from "../analysis/tippingJudge.ts";
import { type BuiltReport, figures } from "./runReport.ts";

/**
 * The tipping page's line on tries: how many measurements the steps took, the rule that decided
 * them, and which way that rule moves the knee (bench/tippingBias.ts measures by how much on the model).
 */
export function tippingTriesFact(t: Pick<TippingRecord, "steps" | "args">): string {
    const { tries, stalls } = triesCount(t.steps);
    const { confirm, max } = triesOf(t.args);
    const rule =
        confirm > 1
            ? `a step is bad only after ${confirm} bad tries (up to ${max}, machine stalls retried without counting): one good try makes it good, which can only raise the knee`
            : "one try a step";
    return `${tries} tries for ${t.steps.length} steps${stalls ? `, ${stalls} machine stall${stalls > 1 ? "s" : ""}` : ""}; ${rule}`;
}

export async function buildTippingReport(dir: string): Promise<BuiltReport> {
    const t0 = performance.now();
    const t = readRecord(join(dir, "tipping.json"), TippingRecordSchema);
    const chart = tippingChart(t, t.args.p99Factor, t.args.p99FloorMs);
    const html = renderReportHtml({
        title: `Tipping point ${t.id}`,
        subtitle: `c2m-lab tipping search on stack ${t.stack}`,
        facts: [
            ["knee", t.knee === undefined ? `none (${t.stopReason})` : `${fmtRate(t.knee)} ± ${((t.uncertainty ?? 0) * 100).toFixed(1)} %`],
            ["bracket", `last good ${t.lastGood === undefined ? "-" : fmtRate(t.lastGood)}, first bad ${t.firstBad === undefined ? "-" : fmtRate(t.firstBad)}`],
            ["why it stopped", t.stopReason],
            ["steps", `${t.steps.length} of ${t.args.durationS} s, ${t.elapsedS.toFixed(0)} s in all`],
            ["tries", tippingTriesFact(t)],
            [
                "limited by",
                t.attribution
                    ? `${t.attribution.bound}: ${t.attribution.note}` + (t.attribution.saturatedFirst ? `; ${describeFirst(t.attribution.saturatedFirst)}` : "")
                    : "not attributed",
            ],
            [
                "rules",
                `bad when ${describeP99Rule(t.args)} (baseline ${t.baselineP99Ms?.toFixed(1)} ms) or errors > ${(t.args.maxErrorRatio * 100).toFixed(2)} %`,
            ],
            [
                "search",
                `start ${fmtRate(t.args.startRate)}, ×${t.args.factor}, tolerance ±${(t.args.tolerance * 100).toFixed(0)} %, frontend ${t.args.frontend}`,
            ],
        ],
        figures: await figures([chart]),
        tables: [
            {
                title: "Evidence",
                header: [
                    "step",
                    "phase",
                    "rate/s",
                    "tries",
                    "each try",
                    "p50 ms",
                    "p99 ms",
                    "errors",
                    "verdict",
                    "why",
                    "CPU cores per host (* saturated)",
                    "clients' lag to send: p99 ms, sent/planned (! behind plan)",
                    "run",
                ],
                rows: t.steps.map((s) => [
                    String(s.step),
                    s.phase,
                    s.rate.toFixed(1),
                    formatTries(s),
                    describeTries(s),
                    s.p50Ms.toFixed(1),
                    s.p99Ms.toFixed(1),
                    `${(s.errorRatio * 100).toFixed(2)} %`,
                    s.good ? "good" : s.unconfirmed ? "BAD? (unconfirmed)" : "BAD",
                    s.reason,
                    s.cpu?.length
                        ? s.cpu.map((h) => `${h.host} ${formatCores(h.cores)}/${h.allowedCores}${h.saturated ? `* (${h.why})` : ""}`).join("; ")
                        : "-",
                    s.send?.length
                        ? s.send
                              .map(
                                  (c) =>
                                      `${c.host} ${c.lagP99Ms.toFixed(1)} (max ${c.lagMaxMs.toFixed(0)}), ${c.sent}/${c.planned}` +
                                      (c.startLagMs >= 1 ? `, started ${c.startLagMs.toFixed(0)} ms late` : "") +
                                      (c.behind ? `! (${c.why})` : ""),
                              )
                              .join("; ")
                        : "-",
                    s.runId ?? "",
                ]),
                note:
                    "Each step is a full run in runs/<run>/ with its own report (lab report <run>). A client behind its plan (or CPU-saturated) " +
                    "at the last good or first bad step makes the knee client-bound, not the LB's.",
            },
        ],
        texts: [{ title: "Search arguments", text: JSON.stringify(t.args, null, 2) }],
        generatedAt: new Date().toISOString(),
    });
    const file = join(dir, "tipping.html");
    writeFileSync(file, html);
    return { file, ms: performance.now() - t0, figures: 1 };
}
