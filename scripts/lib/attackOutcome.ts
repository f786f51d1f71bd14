// How a `lab attack` run ended, for its caller: the exit status (interrupted, partial, a failed
// verdict) and the summary lines `lab attack` prints.
import { describeAllowances } from "../../components/platform/allowances.ts";
import type { LedgerRow } from "../../components/records/ledgerRow.ts";
import type { RunRecord, VegetaSummary } from "../../components/records/runRecord.ts";
import { describeMemory } from "../analysis/memoryVerdict.ts";
import { PARTIAL_EXIT_CODE } from "./exitCodes.ts";

/** The run as written to runs/<id>/run.json, where that directory is, and its ledger row (its verdict) when it was recorded. */
export type AttackResult = RunRecord & { dir: string; row?: LedgerRow };

/** `lab attack`'s exit status when the run's verdict is fail (errors, an OOM kill, no results). */
export const FAILED_VERDICT_EXIT_CODE = 1;

/** `lab attack`'s exit status when part of the attack failed and --allow-partial was not given. */
export { PARTIAL_EXIT_CODE };

/**
 * How `lab attack` ends for a recorded run: 130 when the operator interrupted it; PARTIAL_EXIT_CODE
 * when a vegeta process failed or its results were not collected (the run is recorded all the
 * same), unless the operator allowed a partial run; 0 otherwise. `message` says why, for stderr.
 */
export function attackExit(
    r: Pick<AttackResult, "interrupted" | "failedProcesses" | "processes"> & { dir?: string; row?: Pick<LedgerRow, "verdict" | "why"> },
    o: { allowPartial?: boolean } = {},
): { code: number; message?: string } {
    if (r.interrupted) return { code: 130 };
    if (r.failedProcesses.length === 0) {
        // A failed verdict (errors over the limit, an OOM kill, no results) is a failed command.
        if (r.row?.verdict === "fail") return { code: FAILED_VERDICT_EXIT_CODE, message: `verdict fail: ${r.row.why}${r.dir ? ` (run in ${r.dir})` : ""}` };
        return { code: 0 };
    }
    const parts = r.failedProcesses.map((f) => `${f.client}/${f.frontend}/${f.laddr}`).join(", ");
    const what = `${r.failedProcesses.length} of ${r.processes.length} vegeta processes failed or lost their results (${parts})`;
    if (o.allowPartial) return { code: 0, message: `partial run accepted (--allow-partial): ${what}` };
    return {
        code: PARTIAL_EXIT_CODE,
        message: `part of the attack failed: ${what}; the run is recorded${r.dir ? ` in ${r.dir}` : ""}; ` + `--allow-partial accepts a partial run`,
    };
}

export function formatSummary(r: AttackResult): string {
    const ms = (ns: number | undefined) => (ns === undefined ? "-" : `${(ns / 1e6).toFixed(1)}ms`);
    const line = (name: string, s?: VegetaSummary) =>
        s
            ? `${name.padEnd(7)} requests ${s.requests}  success ${(s.success * 100).toFixed(2)}%  rate ${s.rate.toFixed(1)}/s  ` +
              `p50 ${ms(s.latencies["50th"])}  p90 ${ms(s.latencies["90th"])}  p99 ${ms(s.latencies["99th"])}  max ${ms(s.latencies.max)}`
            : `${name.padEnd(7)} no results`;
    return [
        `run ${r.runId}${r.interrupted ? " (interrupted)" : ""} → ${r.dir}`,
        line("all", r.summary),
        ...Object.entries(r.perFrontend).map(
            ([f, s]) => `${line(f, s)}  haproxy: ${r.haproxy[f]?.requests ?? "?"} requests over ${r.haproxy[f]?.sessions ?? "?"} connections`,
        ),
        ...r.failedProcesses.map((f) => `FAILED vegeta on ${f.client} (${f.frontend}, ${f.laddr}) exit ${f.code}: ${f.stderr}`),
        ...(r.serversDown === "unknown"
            ? ["servers down in HAProxy at the end: unknown (its statistics could not be read after the run)"]
            : r.serversDown?.length
              ? [`DOWN in HAProxy at the end: ${r.serversDown.join(", ")}`]
              : []),
        ...(r.allowances ? describeAllowances(r.allowances) : []),
        ...(r.memory ? [`memory: ${describeMemory(r.memory)}`] : []),
        ...(r.lbEvents ?? []).map((e) => `at ${e.tS}s: ${e.event}`),
        ...(r.row ? [`verdict: ${r.row.verdict}: ${r.row.why}`] : []),
    ].join("\n");
}
