// `lab plan`: sizing and cost of a stack's tier for a target of concurrent connections.
// Reads Pulumi.<stack>.yaml (no cloud access, no Pulumi engine), prints the plan, then one
// JSON object as the last line.
import type { LabConfig } from "../components/config.ts";
import { loadConfig, readConfigFile, type LoadedConfig } from "../components/loadConfig.ts";
import { planCapacity, type CapacityPlan } from "../components/plan/capacity.ts";
import { formatPlan, planTier, sourceIpsNeeded, type Plan } from "../components/plan/planner.ts";
import { plannerInput } from "../components/platform/aws/settings.ts";
import { REPO_ROOT } from "./toolchain/toolchain.ts";

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
    if (o.sourceIps !== undefined) input.sourceIpsPerClient = o.sourceIps;
    else if (config.aws.secondaryIpsPerClient === undefined && (o.conns !== undefined || o.clients !== undefined)) {
        input.sourceIpsPerClient = sourceIpsNeeded(Math.ceil(input.conns / input.clients));
    }
    return planTier(input);
}

/** Prints the plan; returns the exit code (1 when the tier cannot hold the target). */
export function plan(stack: string, o: PlanOptions = {}): number {
    const { config, capacity, platform } = loadTier(stack);
    const result = planStack(stack, config, o, capacity);
    if (!platform.pricedByPlanner) console.log(`(stack ${stack} is ${platform.name}: planned as if on AWS with its c2m:aws settings)`);
    if (!o.json) console.log(formatPlan(result));
    console.log(JSON.stringify(result));
    return result.fits ? 0 : 1;
}
