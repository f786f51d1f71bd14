// The stack's outputs (`pulumi stack output --json --show-secrets`): exactly what index.ts
// exports. Outputs Pulumi adds that this schema does not know are dropped, not refused.
import { z } from "zod";
import { LabConfigSchema } from "../config.ts";
import type { CapacityPlan } from "../plan/capacity.ts";
import type { SameShape } from "./sameShape.ts";

const InventoryHostSchema = z.strictObject({
    name: z.string(),
    role: z.enum(["haproxy", "backend", "client", "metrics"]),
    address: z.string(),
    sourceAddresses: z.array(z.string()),
    workDir: z.string(),
    // hostKey: the host's SSH host key where the platform made it (EC2): ssh checks it (scripts/lib/remote.ts).
    ssh: z.strictObject({ host: z.string(), port: z.number().int(), user: z.string(), binPath: z.string(), hostKey: z.string().optional() }),
});

const count = z.number().int();

const CapacityPlanSchema = z.strictObject({
    connections: count,
    nofileCeiling: z.number(),
    haproxy: z.strictObject({
        processes: count,
        maxconnTotal: count,
        // Defaults: outputs of a lab up before these fields existed still read.
        maxconnSource: z.string().default("not recorded (a lab up before it was)"),
        maxconnPerProcess: count,
        nofile: z.number(),
        // Pulumi drops undefined fields from outputs: the CPU lists are optional.
        cpu: z
            .strictObject({
                hostCpus: z.array(count).optional(),
                cpus: z.array(count).optional(),
                kernelCpus: z.array(count),
                threads: count,
                threadsPerProcess: count,
                why: z.string(),
            })
            .default({ kernelCpus: [], threads: 1, threadsPerProcess: 1, why: "not recorded (a lab up before it was)" }),
    }),
    client: z.strictObject({ connectionsPerClient: count, sourceAddresses: count, connectionsPerAddress: count, nofile: z.number() }),
    backend: z.strictObject({ servers: count, serversPerHost: count, connectionsPerServer: count, nofile: z.number() }),
});
true satisfies SameShape<z.infer<typeof CapacityPlanSchema>, CapacityPlan>;

const MetricsEndpointSchema = z.strictObject({
    prometheus: z.string(),
    haproxyLog: z.string(),
    scrapeIntervalS: z.number().positive(),
});
export type MetricsEndpoint = z.infer<typeof MetricsEndpointSchema>;

export const StackOutputsSchema = z.object({
    inventory: z.array(InventoryHostSchema).min(1),
    vips: z.strictObject({ plain: z.string(), tls: z.string().optional(), stats: z.array(z.string()) }),
    /** Secret: kept in memory, never written to a run directory. */
    sshPrivateKey: z.string(),
    labConfig: LabConfigSchema,
    /** Local stacks only (EC2 hosts are no namespaces). */
    namespacePrefix: z.string().optional(),
    runDir: z.string(),
    haproxyConfig: z.string(),
    haproxyPids: z.string(),
    capacityPlan: CapacityPlanSchema,
    /** Present when the stack has a metrics host. */
    metricsEndpoint: MetricsEndpointSchema.optional(),
    vegetaVersions: z.array(z.string()),
    /** Open-file limit per host name. */
    nofile: z.record(z.string(), z.number()),
    /** The platform's own facts for the operator (EC2: region, instance ids, …); opaque here, as the Platform interface declares it. */
    aws: z.record(z.string(), z.unknown()).optional(),
    expiresAt: z.iso.datetime(),
});
export type StackOutputs = z.infer<typeof StackOutputsSchema>;
