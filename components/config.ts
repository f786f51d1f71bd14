// The stack's configuration: the schema only. Reading it, this machine's limits and the plan
// checks are components/loadConfig.ts. Every error names the config key.
import { z } from "zod";
import { hasHostBits, readCidr } from "./platform/addressPlan.ts";
import { MAX_TTL_HOURS } from "./platform/labTags.ts";
import { parseCpuList } from "./cpuList.ts";
import { IMAGE_ROLES, IMAGES } from "./images.ts";

const port = z.number().int().min(1).max(65535);
const count = (min: number, max: number) => z.number().int().min(min).max(max);

const hosts = z.strictObject({
    haproxy: count(1, 1).default(1),
    backends: count(1, 64).default(2),
    clients: count(1, 64).default(2),
    // Its own host for Prometheus (the metrics role); node_exporter then runs on every host.
    // Absent = 0 (no metrics host).
    metrics: count(0, 1).optional(),
});

// The metrics role (when c2m:hosts.metrics is 1): scrape every exporter this often.
// Absent = METRICS_DEFAULTS.
const metrics = z.strictObject({
    scrapeIntervalS: z.number().min(0.5).max(60).default(1),
    retentionHours: z
        .number()
        .int()
        .min(1)
        .max(24 * 30)
        .default(24),
});

const backend = z.strictObject({
    // The seed ran 10 pong servers per backend host on consecutive ports from 8282.
    serversPerHost: count(1, 100).default(10),
    basePort: port.default(8282),
    // 0 disables Node's server-side timeouts; the seed's 120 s default cut long requests.
    requestTimeoutMs: z.number().int().min(0).default(0),
    // Capacity limit (not in the seed; bench/tippingKnee): requests in service at once per pong
    // process (0 = unlimited, extra ones wait in a FIFO queue) and the fixed time each holds its
    // slot. Capacity = backends × serversPerHost × maxConcurrent × 1000 / serviceTimeMs req/s.
    maxConcurrent: z.number().int().min(0).default(0),
    serviceTimeMs: z.number().int().min(0).default(0),
});

// What the lab is sized for: every process count, fd limit, source address and kernel value
// is derived from these (components/plan/capacity.ts).
const plan = z.strictObject({
    /** Concurrent end-to-end connections (client ↔ HAProxy ↔ backend). */
    connections: count(1, 10_000_000).default(4000),
    /** Share of them through the TLS frontend (memory estimates). */
    tlsShare: z.number().min(0).max(1).default(0.5),
    /** Source addresses per client host; derived from the ports needed when absent. */
    sourceAddressesPerClient: count(1, 250).optional(),
});

/** Keys the TLS frontend's self-signed certificate can have (c2m:haproxy.tls.certificate). */
export const CERTIFICATES = ["ecdsa-p256", "ecdsa-p384", "rsa-2048"] as const;
export type Certificate = (typeof CERTIFICATES)[number];

/** The certificate a lab's TLS frontend serves: c2m:haproxy.tls.certificate, else ECDSA on its curve (P-256 by default). */
export function labCertificate(tls: { curve: "P-256" | "P-384"; certificate?: Certificate }): Certificate {
    return tls.certificate ?? (tls.curve === "P-384" ? "ecdsa-p384" : "ecdsa-p256");
}

// HAProxy refuses timers above 2^31-1 ms (~24.8 days) with "timer overflow".
const haproxyTimeout = z.number().int().positive().max(2_147_483_647, "HAProxy timers stop at 2147483647 ms (~24.8 days)");

const haproxy = z.strictObject({
    /** Total over all HAProxy processes; defaults to c2m:plan.connections. */
    maxconn: count(1, 10_000_000).optional(),
    /** HAProxy processes sharing the listeners (SO_REUSEPORT); derived from the fd ceiling when absent. */
    processes: count(1, 256).optional(),
    plainPort: port.default(80),
    tlsPort: port.default(443),
    statsPort: port.default(8404),
    /**
     * HAProxy threads over all its processes (each process gets its part, at least one). Absent =
     * one per CPU of c2m:haproxy.cpus, or the seed's 3 (nbproc = 3), never every CPU of the host
     * (components/plan/haproxyCpus.ts).
     */
    threads: count(1, 256).optional(),
    /**
     * CPUs HAProxy's threads are pinned to (cpu-map), the host's numbering: an EC2 instance's vCPUs,
     * or the local machine's CPUs inside c2m:local.hostLimits.haproxy.cpus. The host's other CPUs
     * are left to the kernel's network work. Absent = the highest CPUs, at least one left over.
     */
    cpus: z
        .string()
        .superRefine((value, ctx) => {
            const cpus = parseCpuList(value);
            if (!cpus || cpus.length === 0) ctx.addIssue({ code: "custom", message: `"${value}" is not a CPU list like "0", "1-3" or "1,3"` });
        })
        .optional(),
    tls: z
        .strictObject({
            enabled: z.boolean().default(true),
            /** ECDSA curve of the certificate when c2m:haproxy.tls.certificate is absent (the older key). */
            curve: z.enum(["P-256", "P-384"]).default("P-256"),
            /**
             * The TLS frontend's key: ecdsa-p256 (the default: fastest; per-core rates in components/plan/tlsHandshakes.ts),
             * ecdsa-p384, or rsa-2048 (about half P-256's rate). Absent = ECDSA on `curve`, i.e. ecdsa-p256.
             */
            certificate: z.enum(CERTIFICATES).optional(),
            /** Highest TLS version served: TLSv1.2 by default (as the seed's HAProxy 1.6; ~1 KB less per held connection than 1.3). */
            maxVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
        })
        .prefault({})
        .superRefine((tls, ctx) => {
            // P-384 is never a default: given with a certificate that is not ecdsa-p384, the two keys disagree.
            if (tls.certificate !== undefined && tls.curve === "P-384" && tls.certificate !== "ecdsa-p384") {
                ctx.addIssue({
                    code: "custom",
                    path: ["certificate"],
                    message: `${tls.certificate} contradicts c2m:haproxy.tls.curve P-384; set only certificate (ecdsa-p384 for that curve)`,
                });
            }
        }),
    timeouts: z
        .strictObject({
            connectMs: haproxyTimeout.default(5_000),
            clientMs: haproxyTimeout.default(7_200_000),
            serverMs: haproxyTimeout.default(7_200_000),
            queueMs: haproxyTimeout.default(60_000),
        })
        .prefault({}),
});

/**
 * Attack presets (components/render/attack.ts PRESET_SETTINGS): `seed` (the article's published
 * final command), `smoke` (CI), and the seed's milestone runs, each as plain and TLS:
 * `seed-1s-*` (sleep 1 s), `seed-60s-*` (milestone #1, 60 s sleeps) and `seed-20min-*`
 * (milestone #2: 900/s with ~20-minute sleeps, 2.1M sockets at HAProxy).
 */
export const PRESETS = ["seed", "smoke", "seed-1s-plain", "seed-1s-tls", "seed-60s-plain", "seed-60s-tls", "seed-20min-plain", "seed-20min-tls"] as const;

/**
 * One attack's settings, whole: what components/render/attack.ts renders to vegeta, what run.json
 * keeps (components/records/runRecord.ts) and, as the config's attack section, overrides of a
 * preset. Each description is its flag's help: `lab attack`, `lab sweep` and `lab tipping` take
 * every setting as a flag named after it (scripts/lib/settingFlags.ts: holdMs → --hold <ms>),
 * but those whose meta says why not (`noFlag`), and the progress line and the run's report show
 * them all in this order. A new setting is added here, rendered in components/render/attack.ts,
 * and test/unit/settingFlags.test.ts checks the rest.
 */
export const AttackSettingsSchema = z.strictObject({
    // Per client host, as the seed ran -rate per client; split over its vegeta processes.
    rate: z.number().int().positive().meta({ description: "requests/s per client host", unit: "/s per client" }),
    durationS: z.number().positive().describe("seconds of load"),
    // vegeta's default is 30 s (the seed's first pitfall).
    timeoutS: z.number().positive().describe("per-request timeout, seconds (slower = error)"),
    // pong waits 0..sleep+1 ms before each write.
    sleepMs: z.number().int().min(0).describe("pong `sleep` header"),
    // pong's extra writes before the response ends.
    times: z.number().int().min(0).describe("pong `times` header"),
    frontends: z
        .array(z.enum(["plain", "tls"]))
        .min(1)
        .describe("frontends: plain,tls"),
    // Initial workers of each vegeta process.
    workers: z.number().int().positive().describe("vegeta -workers per process"),
    // GOMAXPROCS of each vegeta process; absent = vegeta's default, all cores.
    cpus: z.number().int().min(1).max(1024).optional().describe("vegeta -cpus per process"),
    // Idle-connection cap per client host, split over its processes.
    connections: z.number().int().positive().describe("vegeta -connections per client"),
    // The rig's own header: a fixed wait before the first write; 0 = not sent.
    holdMs: z.number().int().min(0).describe("pong `hold` header (0: not sent)"),
    // The seed's post_smaller.txt.
    bodyBytes: z.number().int().min(0).meta({
        description: "POST body size, bytes",
        noFlag: "each client's body file is written at `lab up`: set c2m:attack.bodyBytes (or a sweep's --set)",
    }),
});
export type AttackSettings = z.infer<typeof AttackSettingsSchema>;

/** The config's attack section: a preset and any of its settings overridden. */
const attack = z.strictObject({
    preset: z.enum(PRESETS).default("smoke"),
    ...AttackSettingsSchema.partial().shape,
});

// One local host's limits (c2m:local.hostLimits.<role>). Whether its CPUs exist is a fact of the
// machine, checked by machineProblems with the facts the loader passes in; the schema stays pure.
const hostLimits = z
    .strictObject({
        cpus: z
            .string()
            .superRefine((value, ctx) => {
                const cpus = parseCpuList(value);
                if (!cpus || cpus.length === 0) ctx.addIssue({ code: "custom", message: `"${value}" is not a CPU list like "0", "0-1" or "0,2"` });
            })
            .optional(),
        cpuQuota: z.number().positive().max(1024).optional(),
        memoryMiB: z
            .number()
            .int()
            .positive()
            .max(16 * 1024 * 1024)
            .optional(),
    })
    .superRefine((v, ctx) => {
        const n = v.cpus === undefined ? undefined : parseCpuList(v.cpus)?.length;
        if (v.cpuQuota !== undefined && n !== undefined && v.cpuQuota > n) {
            ctx.addIssue({ code: "custom", path: ["cpuQuota"], message: `${v.cpuQuota} CPUs' worth of time is more than the ${n} CPU(s) of cpus "${v.cpus}"` });
        }
    });

const local = z.strictObject({
    // One /24 per local stack inside 198.18.0.0/15, so stacks can coexist.
    subnet: z.string().default("198.18.0.0/24"),
    // Per-process open-file ceiling the kernel lets processes reach (`ulimit -Hn`);
    // detected by `lab up` when absent.
    nofileCeiling: z.number().int().positive().optional(),
    /** Memory of the machine all local hosts share; detected by `lab up` when absent. */
    memoryBytes: z.number().int().positive().optional(),
    /**
     * Per role, limits of each of its hosts, enforced by the host's cgroup (every process started
     * over its SSH): a CPU list, CPU time in CPUs' worth, memory. A scaled-down tier (Pulumi.local-*.yaml).
     */
    hostLimits: z
        .strictObject({
            haproxy: hostLimits.optional(),
            backend: hostLimits.optional(),
            client: hostLimits.optional(),
            metrics: hostLimits.optional(),
        })
        .optional(),
});

/** An IPv4 CIDR block with no host bits set, no wider than /8: SSH is only let in from it. */
export const operatorCidr = z.string().superRefine((value, ctx) => {
    const block = readCidr(value);
    if (!block) {
        ctx.addIssue({ code: "custom", message: `"${value}" is not an IPv4 CIDR block like 203.0.113.7/32` });
        return;
    }
    if (block.prefix < 8) {
        ctx.addIssue({
            code: "custom",
            message: `"${value}" would open SSH to ${block.prefix === 0 ? "the whole internet" : "a huge range"}; give your own address, e.g. 203.0.113.7/32`,
        });
        return;
    }
    if (hasHostBits(block)) ctx.addIssue({ code: "custom", message: `"${value}" has host bits set` });
});

// EC2 tiers (platform aws). Counts per role are c2m:hosts; types and addresses are here.
const aws = z.strictObject({
    region: z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region like us-east-1")
        .default("us-east-1"),
    /** Where SSH may come from (required for platform aws): the operator's address, e.g. 203.0.113.7/32. */
    operatorCidr: operatorCidr.optional(),
    instanceTypes: z
        .strictObject({
            haproxy: z
                .string()
                .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type like m6i.4xlarge")
                .default("m6i.4xlarge"),
            backend: z
                .string()
                .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type like c6i.2xlarge")
                .default("c6i.2xlarge"),
            client: z
                .string()
                .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type like c6i.8xlarge")
                .default("c6i.8xlarge"),
            metrics: z
                .string()
                .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type like c6i.large")
                .optional(),
        })
        .prefault({}),
    /** Secondary private IPs per client (source addresses = 1 + this); derived from c2m:plan when absent. */
    secondaryIpsPerClient: count(0, 49).optional(),
    /** Most open files the plan may give one process (each host's limit is its role's nofile, up to this): the seed ran nofile 4M. */
    nofileCeiling: count(65_536, 1 << 30).default(4_194_304),
    /** The lab refuses to start (and the policy pack rejects it) above this many US dollars per hour. */
    budgetUsdPerHour: z.number().positive().max(1000).default(60),
    rootVolumeGb: count(8, 1024).default(16),
    /**
     * AMI of every instance: Debian 12, the local hosts' release (components/platform/aws/image.ts).
     * Absent = Debian's public SSM parameter read at the first up, then kept in the stack (an instance
     * re-created later gets the same image); set, the fleet follows it (changing it replaces the fleet).
     */
    ami: z
        .string()
        .regex(/^ami-[0-9a-f]{8,17}$/, "an AMI id like ami-0123456789abcdef0")
        .optional(),
});

// c2m:image: the OS image hosts run (components/images.ts): one name for every role that can run
// one (haproxy, backend, client), or one per role. machine = the platform's own software, as before.
const imageName = z.enum(IMAGES);
const image = z.union([
    imageName,
    z.strictObject(
        Object.fromEntries(IMAGE_ROLES.map((r) => [r, imageName.optional()])) as Record<(typeof IMAGE_ROLES)[number], z.ZodOptional<typeof imageName>>,
    ),
]);

export const LabConfigSchema = z.strictObject({
    platform: z.enum(["local", "aws"]).default("local"),
    image: image.default("machine"),
    owner: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, "lowercase letters, digits, . _ -")
        .default("operator"),
    ttlHours: z.number().positive().max(MAX_TTL_HOURS).default(4),
    hosts: hosts.prefault({}),
    plan: plan.prefault({}),
    backend: backend.prefault({}),
    haproxy: haproxy.prefault({}),
    attack: attack.prefault({}),
    local: local.prefault({}),
    aws: aws.prefault({}),
    metrics: metrics.optional(),
});

export const METRICS_DEFAULTS = metrics.parse({});
/** EC2 type of the metrics host when c2m:aws.instanceTypes.metrics is absent. */
export const METRICS_INSTANCE_TYPE = "c6i.large";

export type LabConfig = z.infer<typeof LabConfigSchema>;

export class ConfigError extends Error {
    readonly problems: string[];
    constructor(problems: string[]) {
        super(`invalid lab configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
        this.problems = problems;
    }
}

/** Facts of the machine local hosts run on, read by the platform and handed to the config checks. */
export interface MachineFacts {
    /** CPUs online (/sys/devices/system/cpu/online). */
    readonly onlineCpus: readonly number[];
}

/** What a schema-valid config asks of this machine that it does not have, each naming its key. Pure. */
export function machineProblems(config: LabConfig, machine: MachineFacts): string[] {
    return Object.entries(config.local.hostLimits ?? {}).flatMap(([role, limits]) => {
        const missing = (limits?.cpus === undefined ? [] : (parseCpuList(limits.cpus) ?? [])).filter((c) => !machine.onlineCpus.includes(c));
        return missing.length === 0
            ? []
            : [
                  `c2m:local.hostLimits.${role}.cpus: CPU(s) ${missing.join(",")} of "${limits!.cpus}" ` +
                      `do not exist on this machine (CPUs ${machine.onlineCpus.join(",")})`,
              ];
    });
}

/** Checks raw stack config (keys without the "c2m:" prefix) against the schema; defaults filled in. */
export function parseSchema(raw: Record<string, unknown>): LabConfig {
    const parsed = LabConfigSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    throw new ConfigError(
        parsed.error.issues.map((issue) => {
            const key = ["c2m", issue.path.map(String).join(".")].filter(Boolean).join(":");
            return `${key}: ${issue.message}`;
        }),
    );
}
