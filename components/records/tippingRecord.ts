// tipping.json: one tipping-point search (runs/tipping-<id>/tipping.json), its arguments and
// every step's evidence, written by `lab tipping` and read by `lab report`. The search's own
// types (scripts/analysis/tippingSearch.ts) are these.
import { z } from "zod";
import { AttackSettingsSchema } from "../config.ts";

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
    /** …and exceeds this many ms (so a few ms of tail on a low baseline is not a knee); absent = no floor (searches before it existed). */
    p99FloorMs: z.number().min(0).optional(),
    /** …or when more than this share of its requests failed (0.001 = 0.1 %). */
    maxErrorRatio: z.number(),
    /** Never ask for more than this rate (the ramp stops there). */
    maxRate: z.number().optional(),
    /** Rates are offered in whole multiples of this (e.g. 1 request/s per client host); none = any rate. */
    quantum: z.number().optional(),
    /**
     * Bad tries (machine stalls not counted) a step needs before the search believes it is bad: 2 =
     * a bad step is re-run at the same rate and stays bad only when the re-run is bad too; a good
     * try makes the step good. Absent = 1 (searches recorded before tries existed: one try a step).
     */
    confirmTries: z.number().int().min(1).optional(),
    /** Most tries of one step (its confirmations and the retries of machine stalls); absent = confirmTries. */
    maxTries: z.number().int().min(1).optional(),
});
export type TippingOptions = z.infer<typeof TippingOptionsSchema>;

/**
 * How each step's load is sent: any attack setting but the rate (the search's) and the frontends
 * (its one frontend), as the config's schema defines it; absent = the lab's own. Every search
 * gives the seconds of load per step and the per-request timeout (a slower request is an error).
 */
export const TippingStepLoadSchema = AttackSettingsSchema.omit({ rate: true, frontends: true }).partial().required({ durationS: true, timeoutS: true });
export type TippingStepLoad = z.infer<typeof TippingStepLoadSchema>;

/** A search on a lab: the options, its frontend, and its steps' load. */
const TippingArgsSchema = z.strictObject({
    ...TippingOptionsSchema.shape,
    stack: z.string().min(1),
    frontend: z.enum(["plain", "tls"]),
    ...TippingStepLoadSchema.shape,
});
export type TippingArgs = z.infer<typeof TippingArgsSchema>;

/** A search's step load out of its arguments: the attack settings it gives, under their names. */
export const stepLoadOf = (args: TippingArgs): TippingStepLoad => z.object(TippingStepLoadSchema.shape).parse(args);

/** One host's CPU during a step's load (from the metrics host), against what that host may use. */
const HostCpuSchema = z.strictObject({
    host: z.string(),
    role: z.string(),
    /**
     * Cores it used on average over the load: its whole cgroup where the platform samples one (local
     * hosts; what a CPU quota limits), else its lab processes (the metrics role's own excluded).
     * null: unknown (no series, or fewer than 2 readings in the step's window), never read as 0.
     */
    cores: z.number().min(0).nullable(),
    /** Where `cores` comes from (absent in searches recorded before it was said). */
    coresFrom: z.enum(["cgroup", "processes"]).optional(),
    /** Cores it may use: its CPU set (and CPU quota); hosts sharing CPUs share them. */
    allowedCores: z.number().positive(),
    /** Its CPU quota in CPUs' worth, when it has one (absent in searches recorded before it was kept). */
    quotaCores: z.number().positive().optional(),
    /**
     * Its cgroup's highest rate over one reading interval (about 1 s) that overlapped the load, its
     * start-up included (a TLS step's handshakes come first); absent when not sampled.
     */
    peakCores: z.number().min(0).optional(),
    /** How busy its CPU set was (anyone's work, as its node_exporter sees it), in cores. */
    busyCores: z.number().min(0).optional(),
    saturated: z.boolean(),
    /** Why it counts as saturated: its own CPUs, or the CPUs it shares with other hosts. */
    why: z.string().optional(),
});
export type HostCpu = z.infer<typeof HostCpuSchema>;

/**
 * One client host's own sending during a step (scripts/analysis/sendLag.ts): how far behind its
 * plan its vegeta processes were. Behind = it could not offer the step's load as planned.
 */
const ClientSendSchema = z.strictObject({
    host: z.string(),
    /** Requests its processes were to send (rate × duration) and the requests they sent. */
    planned: z.number().int().min(0),
    sent: z.number().int().min(0),
    /** How late requests left against vegeta's schedule (request i at i / rate after the first), ms. */
    lagP50Ms: z.number().min(0),
    lagP99Ms: z.number().min(0),
    lagMaxMs: z.number().min(0),
    /** How much later than the run's first request its last-starting process sent its first one, ms. */
    startLagMs: z.number().min(0),
    behind: z.boolean(),
    /** Why it counts as behind its plan. */
    why: z.string().optional(),
});
export type ClientSend = z.infer<typeof ClientSendSchema>;

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
    /** Each host's CPU during the load, when the lab has a metrics host. */
    cpu: z.array(HostCpuSchema).optional(),
    /** Each client's own lag to send during the load (absent in searches recorded before it existed). */
    send: z.array(ClientSendSchema).optional(),
});
export type StepMeasure = z.infer<typeof StepMeasureSchema>;

const PhaseSchema = z.enum(["baseline", "ramp", "bisect"]);
export type Phase = z.infer<typeof PhaseSchema>;

/** One measurement of a step's rate: a step is measured once or more (a bad try is confirmed, a stall retried). */
const StepTrySchema = z.strictObject({
    ...StepMeasureSchema.shape,
    /** 1 for the first try of its step. */
    try: z.number().int().positive(),
    good: z.boolean(),
    reason: z.string(),
    /**
     * Set on a bad try the machine, not the lab, made bad: the LB below its CPU quota while no other
     * host was saturated or behind its plan. It is retried and never counts as a bad try.
     */
    stall: z.string().optional(),
});
export type StepTry = z.infer<typeof StepTrySchema>;

const StepVerdictSchema = z.strictObject({
    ...StepMeasureSchema.shape,
    step: z.number().int().positive(),
    phase: PhaseSchema,
    good: z.boolean(),
    reason: z.string(),
    /**
     * Every try of this step in order (absent in searches recorded before tries existed: one try).
     * The step's own figures are its deciding try's: the good one, else the least bad counted one.
     */
    tries: z.array(StepTrySchema).optional(),
    /** Present (true) on a bad step whose tries ran out before enough of them were bad (machine stalls). */
    unconfirmed: z.boolean().optional(),
});
export type StepVerdict = z.infer<typeof StepVerdictSchema>;

/** What limited the knee, from the hosts' CPU at the steps around it. */
export const BOUNDS = ["client", "haproxy", "backend", "metrics", "none", "unknown"] as const;
const AttributionSchema = z.strictObject({
    /**
     * client: a client host was saturated (its CPU) or behind its plan to send at the last good or
     * first bad step (the knee is not the LB's); haproxy / backend: that role's host was CPU-saturated
     * (and no client was either); none: no host was saturated and every client kept its plan (the
     * knee is not a CPU limit: a backend's own capacity, the network, a config limit); unknown: no
     * CPU was measured (no metrics host) and no client was behind.
     */
    bound: z.enum(BOUNDS),
    /** The host saturated (or, for a client, behind its plan) at the lowest rate, and where. */
    saturatedFirst: z
        .strictObject({
            host: z.string(),
            role: z.string(),
            step: z.number().int(),
            rate: z.number(),
            /** What it was there: its CPU, and/or (a client) how far behind its plan it sent. */
            why: z.string().optional(),
        })
        .optional(),
    note: z.string(),
});
export type Attribution = z.infer<typeof AttributionSchema>;

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
    /** Measurements in all (a step's confirmations and retries included) and how many were machine stalls; absent before tries existed. */
    tries: z.number().int().min(0).optional(),
    stalls: z.number().int().min(0).optional(),
    /** Which host limited the knee (absent in searches recorded before attribution existed). */
    attribution: AttributionSchema.optional(),
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
