// `lab plan`: sizing and cost of a stack's tier for a target of concurrent connections.
// Reads Pulumi.<stack>.yaml (no cloud access, no Pulumi engine), prints the plan, then one
// JSON object as the last line.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { parseLabConfig, type LabConfig } from "../components/config.ts";
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
export function readTierConfig(stack: string, root = REPO_ROOT): LabConfig {
    const file = join(root, `Pulumi.${stack}.yaml`);
    if (!existsSync(file)) throw new Error(`no stack config ${file}`);
    const doc = YAML.parse(readFileSync(file, "utf8")) ?? {};
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        const [namespace, name] = key.split(":");
        if (namespace === "c2m" && name) raw[name] = value;
    }
    return parseLabConfig(raw);
}

export function planStack(stack: string, config: LabConfig, o: PlanOptions = {}): Plan {
    const input = plannerInput(stack, config, { conns: o.conns, tlsShare: o.tlsShare, clients: o.clients });
    // A new target re-derives the addresses per client unless the stack or the flag fixes them.
    if (o.sourceIps !== undefined) input.sourceIpsPerClient = o.sourceIps;
    else if (config.aws.secondaryIpsPerClient === undefined && (o.conns !== undefined || o.clients !== undefined)) {
        input.sourceIpsPerClient = sourceIpsNeeded(Math.ceil(input.conns / input.clients));
    }
    return planTier(input);
}

/** Prints the plan; returns the exit code (1 when the tier cannot hold the target). */
export function plan(stack: string, o: PlanOptions = {}): number {
    const config = readTierConfig(stack);
    const result = planStack(stack, config, o);
    if (config.platform !== "aws") console.log(`(stack ${stack} is ${config.platform}: planned as if on AWS with its c2m:aws settings)`);
    if (!o.json) console.log(formatPlan(result));
    console.log(JSON.stringify(result));
    return result.fits ? 0 : 1;
}
