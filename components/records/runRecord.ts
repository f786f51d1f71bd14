// run.json: what `lab attack` wrote for one run (runs/<id>/run.json), read back by the ledger,
// the report and the tipping search.
import { z } from "zod";
import type { AttackSettings } from "../render/attack.ts";
import type { SameShape } from "./sameShape.ts";

const FrontendSchema = z.enum(["plain", "tls"]);

const AttackSettingsSchema = z.strictObject({
    rate: z.number().positive(),
    durationS: z.number().positive(),
    connections: z.number().int().positive(),
    workers: z.number().int().positive(),
    cpus: z.number().int().positive().optional(),
    timeoutS: z.number().positive(),
    sleepMs: z.number().int().min(0),
    times: z.number().int().min(0),
    holdMs: z.number().int().min(0),
    bodyBytes: z.number().int().min(0),
    frontends: z.array(FrontendSchema).min(1),
});
true satisfies SameShape<z.infer<typeof AttackSettingsSchema>, AttackSettings>;

/** `vegeta report -type=json`: the fields the lab reads are typed, vegeta's others are kept as they are. */
export const VegetaSummarySchema = z.looseObject({
    requests: z.number().int().min(0),
    success: z.number().min(0).max(1),
    rate: z.number(),
    throughput: z.number(),
    /** Nanoseconds. */
    latencies: z.looseObject({
        mean: z.number(), "50th": z.number(), "90th": z.number(), "95th": z.number(), "99th": z.number(), max: z.number(),
    }),
    status_codes: z.record(z.string(), z.number()),
    errors: z.array(z.string()).nullable(),
});
export type VegetaSummary = z.infer<typeof VegetaSummarySchema>;

/** One vegeta process of the run: a client, a frontend, a source address. */
const ProcessSchema = z.strictObject({
    client: z.string(),
    frontend: FrontendSchema,
    laddr: z.string(),
    ratePerSecond: z.number().min(0),
    connections: z.number().int().min(0),
});

/** A vegeta process that failed or whose results could not be collected (lost client, …). */
const FailedProcessSchema = z.strictObject({
    client: z.string(),
    frontend: FrontendSchema,
    laddr: z.string(),
    code: z.number().int(),
    stderr: z.string(),
});

/** HAProxy's counters of the pong backend when the run ended, summed over its processes. */
const BackendCountersSchema = z.strictObject({
    sessionsTotal: z.number(), current: z.number(), connectionErrors: z.number(), responseErrors: z.number(),
    serversUp: z.number().int(), servers: z.number().int(),
});

export const RunRecordSchema = z.strictObject({
    runId: z.string().min(1),
    stack: z.string().min(1),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime(),
    /** Stopped by the operator (Ctrl-C): the results are what was gathered until then. */
    interrupted: z.boolean(),
    settings: AttackSettingsSchema,
    processes: z.array(ProcessSchema),
    versions: z.strictObject({ pulumi: z.string(), node: z.string(), vegeta: z.string(), haproxy: z.string() }),
    /** Every result file merged; absent when no process returned results. */
    summary: VegetaSummarySchema.optional(),
    perFrontend: z.record(z.string(), VegetaSummarySchema.optional()),
    /** What HAProxy itself counted on each frontend during the run. */
    haproxy: z.record(z.string(), z.strictObject({ sessions: z.number(), requests: z.number() }).optional()),
    backend: BackendCountersSchema.optional(),
    /** Backend servers HAProxy's health checks had taken out (not UP) when the run ended. */
    serversDown: z.array(z.string()),
    failedProcesses: z.array(FailedProcessSchema),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;
