// `lab plan`: sizing and cost of a stack's tier for a target of concurrent connections.
// Reads Pulumi.<stack>.yaml (no cloud access, no Pulumi engine), prints the plan, then one
// JSON object as the last line.
import type { LabConfig } from "../../components/config.ts";
import { loadConfig, readConfigFile, type LoadedConfig } from "../../components/loadConfig.ts";
import { planCapacity, type CapacityPlan } from "../../components/plan/capacity.ts";
import { formatPlan, planTier, refuseImpossible, sourceIpsNeeded, type Plan } from "../../components/plan/planner.ts";
import { plannerInput } from "../../components/platform/aws/settings.ts";
import { REPO_ROOT } from "../toolchain/toolchain.ts";
import { imageOf } from "../../components/images.ts";
import { costsForImage, imagesByHeadroom } from "../../components/plan/imageCosts.ts";
import { availableParallelism, totalmem } from "node:os";
import { attackSettings } from "../../components/render/attack.ts";
import { formatLocalTierPlan, planLocalTier, type LocalTierPlan } from "../../components/plan/localTier.ts";

export interface PlanOptions {
    conns?: number;
    tlsShare?: number;
    clients?: number;
    sourceIps?: number;
    json?: boolean;
}

/** The stack's lab config from its file, without this machine's limits (they are not the tier's). */
export function loadTier(stack: string, root = REPO_ROOT): LoadedConfig {
    return loadConfig(stack, readConfigFile(root, stack), { machineLimits: false });
}

export function readTierConfig(stack: string, root = REPO_ROOT): LabConfig {
    return loadTier(stack, root).config;
}

export function planStack(stack: string, config: LabConfig, o: PlanOptions = {}, capacity?: CapacityPlan): Plan {
    const input = plannerInput(stack, config, capacity ?? planCapacity(config), { conns: o.conns, tlsShare: o.tlsShare, clients: o.clients });
    // A new target re-derives the addresses per client unless the stack or the flag fixes them.
    // The LB's TLS term is its image's own (components/plan/imageCosts.ts); an unmeasured image keeps costs.ts's.
    input.costs = costsForImage(imageOf(config.image, "haproxy"), config.haproxy.tls.maxVersion) ?? input.costs;
    if (o.sourceIps !== undefined) input.sourceIpsPerClient = o.sourceIps;
    else if (config.aws.secondaryIpsPerClient === undefined && (o.conns !== undefined || o.clients !== undefined)) {
        input.sourceIpsPerClient = sourceIpsNeeded(Math.ceil(input.conns / input.clients));
    }
    return planTier(input);
}

/** The seed's three hardware tiers (their stack files): 4 cores/30 GB, 16/30 and 16/64. */
export const SEED_TIERS = ["aws-4c30g", "aws-16c30g", "aws-16c64g"] as const;

/** Each seed tier's LB headroom at the same target (or each tier's own): one line per tier. */
export function seedTierHeadroom(o: Pick<PlanOptions, "conns" | "tlsShare"> = {}, root = REPO_ROOT): string {
    const rows = SEED_TIERS.map((stack) => {
        const p = planStack(stack, readTierConfig(stack, root), o);
        const h = p.lb_headroom;
        return (
            `  ${stack.padEnd(11)} ${p.roles.haproxy.instance_type.padEnd(12)} ${String(p.roles.haproxy.memory_gib).padStart(3)} GiB: ` +
            `holds ~${h.conns_that_fit}, target ${h.target} (${Math.round(p.tls_share * 100)} % TLS), ${h.headroom_pct} % to spare; ${h.dominant}`
        );
    });
    return [`seed tiers, same model${o.conns === undefined ? "" : ` at ${o.conns} connections`}:`, ...rows].join("\n");
}

/** The measured images on this tier's LB, most headroom first, and which one the stack runs (c2m:image). */
export function formatImageHeadroom(image: string, ranked: ReturnType<typeof imagesByHeadroom>): string {
    return [
        `LB headroom by image (c2m:image; this stack: ${image}; docs/results/tls-stacks.md):`,
        ...ranked.map(
            (r) =>
                `  ${r.image.padEnd(18)} ${r.stack}: ${r.headroom.per_conn_kb} KB per connection, holds ~${r.headroom.conns_that_fit}, ` +
                `${r.headroom.headroom_pct} % to spare; ${r.handshakes_per_core_s} handshakes/s per core`,
        ),
        `  most headroom: ${ranked[0]?.image ?? "none measured"}`,
    ].join("\n");
}

/** Exit code of `lab plan` for a target no supported tier could serve (refused in one line, nothing planned). */
export const IMPOSSIBLE_EXIT_CODE = 2;

/**
 * A local stack planned against its own host limits (the LB's cgroup memory and CPU), with the
 * machine's limits as lab up applies them (the fd ceiling sets HAProxy's process count); the ramp is
 * the stack's attack (rate per client × clients).
 */
export function planLocalStack(stack: string, config: LabConfig, processes: number, o: { conns?: number } = {}): LocalTierPlan {
    const settings = attackSettings(config.attack);
    return planLocalTier(stack, config, {
        processes,
        rampPerS: settings.rate * config.hosts.clients,
        machineCpus: availableParallelism(),
        machineMemoryBytes: config.local.memoryBytes ?? totalmem(),
        target: o.conns,
    });
}

/** Prints the plan; returns the exit code (1 when the tier cannot hold the target, 2 when no tier could: one line, no plan). */
export function plan(stack: string, o: PlanOptions = {}): number {
    const { config, capacity, platform } = loadTier(stack);
    if (!platform.pricedByPlanner) {
        // Local: its own limits, not an instance type. The process count is the one lab up would run.
        const withMachine = loadConfig(stack, readConfigFile(REPO_ROOT, stack));
        const local = planLocalStack(stack, withMachine.config, withMachine.capacity.haproxy.processes, { conns: o.conns });
        if (!o.json) console.log(formatLocalTierPlan(local));
        console.log(JSON.stringify(local));
        return local.verdict === "holds" ? 0 : 1;
    }
    const refused = refuseImpossible(o.conns ?? config.plan.connections, o.tlsShare ?? config.plan.tlsShare);
    if (refused) {
        process.stderr.write(`lab plan: ${refused}\n`);
        return IMPOSSIBLE_EXIT_CODE;
    }
    const result = planStack(stack, config, o, capacity);
    if (!platform.pricedByPlanner) console.log(`(stack ${stack} is ${platform.name}: planned as if on AWS with its c2m:aws settings)`);
    const image = imageOf(config.image, "haproxy");
    const ranked = imagesByHeadroom(result.lb_headroom.target, result.tls_share, result.lb_usable_gb, result.tls_certificate, config.haproxy.tls.maxVersion);
    if (!o.json) console.log(`${formatPlan(result)}\n${seedTierHeadroom({ conns: o.conns, tlsShare: o.tlsShare })}\n${formatImageHeadroom(image, ranked)}`);
    console.log(
        JSON.stringify({
            ...result,
            image,
            images_by_headroom: ranked.map((r) => ({
                image: r.image,
                stack: r.stack,
                headroom_pct: r.headroom.headroom_pct,
                conns_that_fit: r.headroom.conns_that_fit,
                per_conn_kb: r.headroom.per_conn_kb,
                handshakes_per_core_s: r.handshakes_per_core_s,
            })),
        }),
    );
    return result.fits ? 0 : 1;
}
