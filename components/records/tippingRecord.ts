// tipping.json: one tipping-point search (runs/tipping-<id>/tipping.json), its arguments and
// every step's evidence, written by `lab tipping` and read by `lab report`. The search's own
// types (scripts/analysis/tipping.ts) are these.
import { z } from "zod";

const TippingOptionsSchema = z.strictObject({
    /** Total request rate of the first step, which also sets the baseline p99. */
    startRate: z.number(),
    /** Rate multiplier between ramp steps while they stay good. */
    factor: z.number(),
    /** Stop when the knee is known to ±tolerance (relative), e.g. 0.1 = ±10 %. */
    tolerance: z.number(),
    /** Hard cap on measured steps (baseline included). */
    maxSteps: z.number(),
    /** A step is bad when its p99 exceeds this multiple of the baseline p99… */
    p99Factor: z.number(),
    /** …or when more than this share of its requests failed (0.001 = 0.1 %). */
    maxErrorRatio: z.number(),
    /** Never ask for more than this rate (the ramp stops there). */
    maxRate: z.number().optional(),
    /** Rates are offered in whole multiples of this (e.g. 1 request/s per client host); none = any rate. */
    quantum: z.number().optional(),
});
export type TippingOptions = z.infer<typeof TippingOptionsSchema>;

/** A search on a lab: the options, and how each step's load is sent. */
const TippingArgsSchema = z.strictObject({
    ...TippingOptionsSchema.shape,
    stack: z.string().min(1),
    /** Seconds of load per step. */
    durationS: z.number().positive(),
    frontend: z.enum(["plain", "tls"]),
    /** pong headers during the search (0 = the backend's own service time only). */
    sleepMs: z.number().int().min(0),
    times: z.number().int().min(0),
    /** Per-request timeout: a request slower than this counts as an error. */
    timeoutS: z.number().positive(),
});
export type TippingArgs = z.infer<typeof TippingArgsSchema>;

/** What one step measured. `rate` is the rate actually offered (after rounding per process). */
const StepMeasureSchema = z.strictObject({
    rate: z.number(),
    p50Ms: z.number(),
    p99Ms: z.number(),
    /** Failed requests / requests, 0..1. */
    errorRatio: z.number(),
    requests: z.number(),
    /** Successful responses per second, when known. */
    throughput: z.number().optional(),
    /** Where the step's raw results are (a run id), when known. */
    runId: z.string().optional(),
});
export type StepMeasure = z.infer<typeof StepMeasureSchema>;

const PhaseSchema = z.enum(["baseline", "ramp", "bisect"]);
export type Phase = z.infer<typeof PhaseSchema>;

const StepVerdictSchema = z.strictObject({
    ...StepMeasureSchema.shape,
    step: z.number().int().positive(),
    phase: PhaseSchema,
    good: z.boolean(),
    reason: z.string(),
});
export type StepVerdict = z.infer<typeof StepVerdictSchema>;

const TippingResultSchema = z.strictObject({
    /** Geometric middle of (last good, first bad]: the estimate, ± `uncertainty`. */
    knee: z.number().optional(),
    uncertainty: z.number().optional(),
    lastGood: z.number().optional(),
    firstBad: z.number().optional(),
    baselineP99Ms: z.number().optional(),
    converged: z.boolean(),
    stopReason: z.string(),
    steps: z.array(StepVerdictSchema),
});
export type TippingResult = z.infer<typeof TippingResultSchema>;

export const TippingRecordSchema = z.strictObject({
    ...TippingResultSchema.shape,
    id: z.string().min(1),
    stack: z.string().min(1),
    args: TippingArgsSchema,
    /** Wall time of the whole search. */
    elapsedS: z.number().min(0),
    /** Present (true) when the search was stopped before it finished: the steps are those measured so far. */
    interrupted: z.boolean().optional(),
});
export type TippingRecord = z.infer<typeof TippingRecordSchema>;
