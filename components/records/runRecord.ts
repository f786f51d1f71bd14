// run.json: what `lab attack` wrote for one run (runs/<id>/run.json), read back by the ledger,
// the report and the tipping search.
import { z } from "zod";
import { AttackSettingsSchema, CERTIFICATES } from "../config.ts";
import type { SameShape } from "./sameShape.ts";
import type { AllowanceCheck } from "../platform/allowances.ts";
import type { HostSample } from "../platform/platform.ts";
import type { Role } from "../types.ts";

const FrontendSchema = z.enum(["plain", "tls"]);

/** `vegeta report -type=json`: the fields the lab reads are typed, vegeta's others are kept as they are. */
export const VegetaSummarySchema = z.looseObject({
    requests: z.number().int().min(0),
    success: z.number().min(0).max(1),
    rate: z.number(),
    throughput: z.number(),
    /** Nanoseconds. */
    latencies: z.looseObject({
        mean: z.number(),
        "50th": z.number(),
        "90th": z.number(),
        "95th": z.number(),
        "99th": z.number(),
        max: z.number(),
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
    sessionsTotal: z.number(),
    current: z.number(),
    connectionErrors: z.number(),
    responseErrors: z.number(),
    serversUp: z.number().int(),
    servers: z.number().int(),
});

/** What ended a bench:oom ramp: the kernel's OOM kill, a HAProxy process gone, connections no longer growing, the ramp's end, Ctrl-C. */
export const OOM_ENDINGS = ["oom_kill", "process_gone", "plateau", "ramp_end", "interrupted"] as const;

/** A run that ramped into a memory-limited LB host (bench:oom): whether and how the kernel killed it. */
const OomSchema = z.strictObject({
    host: z.string(),
    memoryMiB: z.number().positive(),
    /** "unknown": no kill was counted or logged, and the host's processes could not be listed (cgroup.procs unreadable) to tell. */
    killed: z.union([z.boolean(), z.literal("unknown")]),
    by: z.enum(OOM_ENDINGS),
    /**
     * End-to-end connections HAProxy counted (its statistics: the least of its frontend's and its
     * backend's current sessions) at its last reading before the sample that saw the ramp end (the
     * kill); null when no reading of HAProxy's statistics succeeded before it. Older runs: the most
     * held by the sockets' count.
     */
    heldAtOom: z.number().int().min(0).nullable(),
    /** When that reading was taken, s before the sample that saw the ramp end (absent in older runs). */
    heldAtOomAgeS: z.number().min(0).optional(),
    /** The most HAProxy counted at any reading of the ramp (the peak, which can come before the last reading). */
    heldPeak: z.number().int().min(0).nullable().optional(),
    /** The planner's connections for that memory (components/plan/costs.ts). */
    predicted: z.number().int().min(0),
    /** The cgroup's OOM kill count, limit hits (failcnt) and peak memory. */
    oomKills: z.number().int().min(0),
    limitHits: z.number().int().min(0),
    peakMemoryBytes: z.number().min(0),
    /** Processes the kernel log says it killed in the host's cgroup. */
    killedProcesses: z.array(z.strictObject({ pid: z.number().int(), task: z.string() })),
    /** HAProxy processes of the host that were gone when the ramp ended; "unknown" when its cgroup.procs could not be read then. */
    goneProcesses: z.union([z.array(z.number().int()), z.literal("unknown")]),
    kernelLog: z.array(z.string()),
});

const CountersSchema = z.record(z.string(), z.number().int().min(0));
/** What the machine under the hosts dropped during the run: the platform's allowance counters before and after (components/platform/allowances.ts). */
const AllowancesSchema = z.strictObject({
    before: z.record(z.string(), CountersSchema),
    after: z.record(z.string(), CountersSchema),
    /** A drop counter rose on some host: the run measured the platform's limit, not the lab's; it is invalid. */
    exceeded: z.boolean(),
    increases: z.array(z.strictObject({ host: z.string(), counter: z.string(), before: z.number(), after: z.number() })),
    unreadable: z.array(z.string()),
});
true satisfies SameShape<z.infer<typeof AllowancesSchema>, AllowanceCheck>;

/** One reading of a host's own memory and CPU (components/platform/platform.ts HostSample). */
const HostSampleSchema = z.strictObject({
    t: z.number(),
    memoryBytes: z.number().min(0),
    anonBytes: z.number().min(0),
    fileBytes: z.number().min(0),
    kernelBytes: z.number().min(0),
    socketBytes: z.number().min(0),
    cpuNs: z.number().min(0),
    oomKills: z.number().int().min(0),
    limitHits: z.number().int().min(0),
});
true satisfies SameShape<z.infer<typeof HostSampleSchema>, HostSample>;

const RoleSchema = z.enum(["haproxy", "backend", "client", "metrics"]);
true satisfies SameShape<z.infer<typeof RoleSchema>, Role>;

/** Each host's memory and CPU through the run, as its platform samples them (platform.hostSampler); absent where the platform has none (AWS) and in older runs. */
const HostSamplesSchema = z.strictObject({
    /** What a reading is of (the platform's words). */
    source: z.string(),
    intervalS: z.number().positive(),
    hosts: z.record(
        z.string(),
        z.strictObject({
            role: RoleSchema,
            /** The host's memory limit (c2m:local.hostLimits), when it has one. */
            limitBytes: z.number().positive().optional(),
            samples: z.array(HostSampleSchema),
        }),
    ),
    /** Hosts whose sampling gave no reading, and why. */
    unreadable: z.array(z.strictObject({ host: z.string(), error: z.string() })),
});
export type HostSamples = z.infer<typeof HostSamplesSchema>;

/**
 * The LB's memory through an attack against its limit and the model (scripts/analysis/memoryVerdict.ts):
 * its peak, what one held connection cost it against the planner's figure, and OOM kills, counted
 * as bench:oom counts them (the host's cgroup locally; the kernel log where hosts have their own kernel).
 */
export const MemoryVerdictSchema = z.strictObject({
    host: z.string(),
    /** The host's memory limit, bytes; null when it has none known (a box: its memory is not sampled). */
    limitBytes: z.number().positive().nullable(),
    idleBytes: z.number().min(0).nullable(),
    peakBytes: z.number().min(0).nullable(),
    /** Its parts at the peak reading: HAProxy's heaps, kernel objects, socket buffers. */
    peakAnonBytes: z.number().min(0).nullable(),
    peakKernelBytes: z.number().min(0).nullable(),
    peakSocketBytes: z.number().min(0).nullable(),
    /** End-to-end connections HAProxy held at its most (its backend's current sessions), from its statistics during the run. */
    heldPeak: z.number().int().min(0),
    /** The connections it had accepted at its most (its frontends' current sessions: held and waiting). */
    acceptedPeak: z.number().int().min(0),
    kbPerConnPredicted: z.number().min(0),
    /** (peak − idle) / the most sessions at its frontends (held ones, and idle or on their way); null when none, memory not sampled, or the LB was killed. */
    kbPerConnMeasured: z.number().min(0).nullable(),
    /** Share of the limit left at the peak, %; null without a limit or a peak. */
    headroomPct: z.number().nullable(),
    oomKills: z.union([z.number().int().min(0), z.literal("unknown")]),
    oomSource: z.enum(["cgroup", "kernel log", "none"]),
});
export type MemoryVerdict = z.infer<typeof MemoryVerdictSchema>;

/** Something the run saw happen to the LB while it ran (servers going down or back, HAProxy gone), seconds from the start. */
const LbEventSchema = z.strictObject({ tS: z.number().min(0), event: z.string() });

export const RunRecordSchema = z.strictObject({
    runId: z.string().min(1),
    stack: z.string().min(1),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime(),
    /** Stopped by the operator (Ctrl-C): the results are what was gathered until then. */
    interrupted: z.boolean(),
    /** The attack's settings, whole, as the config's schema defines them (a new setting needs no change here). */
    settings: AttackSettingsSchema,
    processes: z.array(ProcessSchema),
    versions: z.strictObject({
        pulumi: z.string(),
        node: z.string(),
        vegeta: z.string(),
        haproxy: z.string(),
        /** Each host's Debian release, kernel and role packages as read on it (scripts/lib/hostVersions.ts); absent in older runs. */
        hosts: z.record(z.string(), z.record(z.string(), z.string())).optional(),
        /** The TLS library the LB's HAProxy runs on (`haproxy -vv`: "OpenSSL 3.5.10"); absent in older runs. */
        tlsLibrary: z.string().optional(),
    }),
    /** The image each host ran (c2m:image: machine, debian-12, debian-13, …); absent in older runs. */
    images: z.record(z.string(), z.string()).optional(),
    /** Every result file merged; absent when no process returned results. */
    summary: VegetaSummarySchema.optional(),
    perFrontend: z.record(z.string(), VegetaSummarySchema.optional()),
    /** What HAProxy itself counted on each frontend during the run. */
    haproxy: z.record(z.string(), z.strictObject({ sessions: z.number(), requests: z.number() }).optional()),
    backend: BackendCountersSchema.optional(),
    /**
     * Backend servers HAProxy's health checks had taken out (not UP) when the run ended; "unknown"
     * when its statistics could not be read after the run (never [] for a page not read).
     */
    serversDown: z.union([z.array(z.string()), z.literal("unknown")]),
    failedProcesses: z.array(FailedProcessSchema),
    /** Key of the certificate the TLS frontend served (c2m:haproxy.tls.certificate), when the run attacked it; absent in older runs. */
    certificate: z.enum(CERTIFICATES).optional(),
    /** bench:oom: the LB host's memory limit and how the ramp into it ended. */
    oom: OomSchema.optional(),
    /** The platform's allowance counters of every host but the metrics one, before and after; absent in older runs. */
    allowances: AllowancesSchema.optional(),
    hostSamples: HostSamplesSchema.optional(),
    /** The LB's memory against its limit and the model; absent in older runs. */
    memory: MemoryVerdictSchema.optional(),
    /** What happened to the LB as the run went (absent in older runs; [] when nothing did). */
    lbEvents: z.array(LbEventSchema).optional(),
    /**
     * HAProxy's counts at the first reading after the ramp (vegeta's sending) ended: end to end, at its
     * frontends, and its frontends' sessions so far (TLS: handshakes done). Absent in older runs or when unread.
     */
    rampEnd: z
        .strictObject({ tS: z.number().min(0), held: z.number().int().min(0), accepted: z.number().int().min(0), sessions: z.number().int().min(0) })
        .optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;
