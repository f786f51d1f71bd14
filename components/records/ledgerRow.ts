// One line of the run ledger (runs/ledger.jsonl): a row per attack, the seed's hand-kept
// results table. Built by scripts/analysis/ledgerRows.ts, appended after each attack, read by
// `lab runs`, `lab compare` and `lab report`.
import { z } from "zod";
import { CERTIFICATES } from "../config.ts";

export const LedgerRowSchema = z.strictObject({
    id: z.string().min(1),
    stack: z.string().min(1),
    /** Hardware tier: the stack's platform, or its AWS tier (aws-16c64g → 16c64g). */
    tier: z.string(),
    /** The attack preset, with "+" when settings were overridden. */
    preset: z.string(),
    startedAt: z.iso.datetime(),
    durationS: z.number(),
    /** Requests/s per client host (as configured) and client hosts. */
    rate: z.number(),
    clients: z.number().int().min(0),
    frontends: z.array(z.enum(["plain", "tls"])),
    /** The TLS frontend's certificate key (ecdsa-p256, rsa-2048, …) when the run attacked it and recorded it. */
    certificate: z.enum(CERTIFICATES).optional(),
    /** The hosts' image (c2m:image), and HAProxy's version and TLS library on the LB; absent in older rows. */
    image: z.string().optional(),
    haproxy: z.string().optional(),
    tlsLibrary: z.string().optional(),
    requests: z.number().int().min(0),
    errors: z.number().int().min(0),
    errorPct: z.number(),
    p50Ms: z.number().nullable(),
    p99Ms: z.number().nullable(),
    maxMs: z.number().nullable(),
    /** Most concurrent connections seen (server side from metrics when recorded, else requests in flight at the clients). */
    peakConns: z.number().nullable(),
    peakConnsSource: z.enum(["metrics", "vegeta", "none"]),
    /**
     * invalid: the platform dropped traffic during the run (allowance counters rose), whatever vegeta
     * saw. unknown: the run would pass, but a value its verdict needs could not be read (a host's
     * allowance counters, whether bench:oom's HAProxy was killed): `why` names it.
     */
    verdict: z.enum(["pass", "fail", "interrupted", "invalid", "unknown"]),
    why: z.string(),
    /** The LB's memory (run.json memory): peak and limit, MiB; KB per held connection predicted and measured; headroom %; OOM kills. Absent in older rows. */
    lbPeakMiB: z.number().nullable().optional(),
    lbLimitMiB: z.number().nullable().optional(),
    kbPerConnPredicted: z.number().optional(),
    kbPerConnMeasured: z.number().nullable().optional(),
    headroomPct: z.number().nullable().optional(),
    oomKills: z.union([z.number().int().min(0), z.literal("unknown")]).optional(),
    /** Values of the run that could not be read, each with why (the verdict needs some of them; absent: none, or an older row). */
    unknown: z.array(z.string()).optional(),
});
export type LedgerRow = z.infer<typeof LedgerRowSchema>;
