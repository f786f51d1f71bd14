// sweep.json: one `lab sweep` (runs/sweep-<id>/sweep.json): the config keys it varies, the
// attack every cell runs, and each cell's state and run. Rewritten after every cell, so a sweep
// stopped (Ctrl-C, a failed cell, a killed process) resumes where it was; read by the sweep's
// comparison report.
import { z } from "zod";

/** A config value a sweep sets: what `--set key=v1,v2` parses to (a "+"-joined value is a list). */
const SweepValueSchema = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))]);
export type SweepValue = z.infer<typeof SweepValueSchema>;

const CellSchema = z.strictObject({
    index: z.number().int().min(0),
    /** Config key (no "c2m:" prefix, e.g. haproxy.threads) → value, one per varied key. */
    values: z.record(z.string(), SweepValueSchema),
    /** pending: not run (or stopped midway: run again on resume); done: its run is recorded; failed: its lab up or attack failed (run again on resume). */
    status: z.enum(["pending", "done", "failed"]),
    runId: z.string().optional(),
    error: z.string().optional(),
    finishedAt: z.iso.datetime().optional(),
});
export type SweepCell = z.infer<typeof CellSchema>;

export const SweepRecordSchema = z.strictObject({
    id: z.string().min(1),
    stack: z.string().min(1),
    startedAt: z.iso.datetime(),
    /** Varied keys in the order given, each with its values. */
    keys: z.array(z.strictObject({ key: z.string(), values: z.array(SweepValueSchema).min(1) })).min(1),
    /** Attack settings every cell shares (the sweep's --rate, --duration, … flags). */
    attack: z.record(z.string(), SweepValueSchema),
    cells: z.array(CellSchema).min(1),
});
export type SweepRecord = z.infer<typeof SweepRecordSchema>;
