// The stack's configuration: one schema, validated once (index.ts and the CLI both call
// parseLabConfig) before any resource is created. Every error names the config key.
import { z } from "zod";
import { checkPlan } from "./render/sizing.ts";

const port = z.number().int().min(1).max(65535);
const count = (min: number, max: number) => z.number().int().min(min).max(max);

export const LAB_NET = "198.18.0.0/15"; // RFC 2544 benchmarking range: the only place load may go

const hosts = z.strictObject({
    haproxy: count(1, 1).default(1),
    backends: count(1, 64).default(2),
    clients: count(1, 64).default(2),
});

const backend = z.strictObject({
    // The seed ran 10 pong servers per backend host on consecutive ports from 8282.
    serversPerHost: count(1, 100).default(10),
    basePort: port.default(8282),
    // 0 disables Node's server-side timeouts; the seed's 120 s default cut long requests.
    requestTimeoutMs: z.number().int().min(0).default(0),
    // Capacity limit (not in the seed; bench/tipping): requests in service at once per pong
    // process (0 = unlimited, extra ones wait in a FIFO queue) and the fixed time each holds its
    // slot. Capacity = backends × serversPerHost × maxConcurrent × 1000 / serviceTimeMs req/s.
    maxConcurrent: z.number().int().min(0).default(0),
    serviceTimeMs: z.number().int().min(0).default(0),
});

const haproxy = z.strictObject({
    maxconn: count(1, 10_000_000).default(4000),
    plainPort: port.default(80),
    tlsPort: port.default(443),
    statsPort: port.default(8404),
    threads: count(1, 256).default(1),
    tls: z.strictObject({
        enabled: z.boolean().default(true),
        curve: z.enum(["P-256", "P-384"]).default("P-256"),
    }).prefault({}),
    timeouts: z.strictObject({
        connectMs: z.number().int().positive().default(5_000),
        clientMs: z.number().int().positive().default(7_200_000),
        serverMs: z.number().int().positive().default(7_200_000),
        queueMs: z.number().int().positive().default(60_000),
    }).prefault({}),
});

export const PRESETS = ["seed", "smoke"] as const;

const attack = z.strictObject({
    preset: z.enum(PRESETS).default("smoke"),
    rate: z.number().int().positive().optional(),
    durationS: z.number().positive().optional(),
    connections: z.number().int().positive().optional(),
    workers: z.number().int().positive().optional(),
    timeoutS: z.number().positive().optional(),
    sleepMs: z.number().int().min(0).optional(),
    times: z.number().int().min(0).optional(),
    bodyBytes: z.number().int().min(0).optional(),
    frontends: z.array(z.enum(["plain", "tls"])).min(1).optional(),
});

const local = z.strictObject({
    // One /24 per local stack inside 198.18.0.0/15, so stacks can coexist.
    subnet: z.string().default("198.18.0.0/24"),
    // Per-process open-file ceiling the kernel lets processes reach (`ulimit -Hn`);
    // detected by `lab up` when absent.
    nofileCeiling: z.number().int().positive().optional(),
});

export const LabConfigSchema = z.strictObject({
    platform: z.enum(["local"]).default("local"),
    owner: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, "lowercase letters, digits, . _ -").default("operator"),
    ttlHours: z.number().positive().max(168).default(4),
    hosts: hosts.prefault({}),
    backend: backend.prefault({}),
    haproxy: haproxy.prefault({}),
    attack: attack.prefault({}),
    local: local.prefault({}),
});

export type LabConfig = z.infer<typeof LabConfigSchema>;

export class ConfigError extends Error {
    readonly problems: string[];
    constructor(problems: string[]) {
        super(`invalid lab configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
        this.problems = problems;
    }
}

/** Validates raw stack config (keys without the "c2m:" prefix) and the plan it implies. */
export function parseLabConfig(raw: Record<string, unknown>): LabConfig {
    const parsed = LabConfigSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => {
            const key = ["c2m", issue.path.map(String).join(".")].filter(Boolean).join(":");
            return `${key}: ${issue.message}`;
        }));
    }
    const problems = checkPlan(parsed.data);
    if (problems.length > 0) throw new ConfigError(problems);
    return parsed.data;
}
