// The one way a stack's config is read, by the program (pulumi.Config), the CLI and the
// planner (Pulumi.<stack>.yaml): raw c2m:* keys → schema → the platform's machine limits →
// capacity plan (computed once, handed on) → plan checks. Errors name the config key.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { ConfigError, LabConfigSchema, parseSchema, type LabConfig } from "./config.ts";
import { planCapacity, type CapacityPlan } from "./plan/capacity.ts";
import { checkPlan } from "./plan/sizing.ts";
import { platformFor } from "./platform/registry.ts";
import type { Platform, PlannedConfig } from "./platform/platform.ts";

/** Stack config keys without their "c2m:" prefix, as given (unchecked). */
export type RawConfig = Record<string, unknown>;

export interface LoadedConfig extends PlannedConfig {
    readonly platform: Platform;
}

/** Stacks that have a config file in `root`. */
export function stackFiles(root: string): string[] {
    return readdirSync(root)
        .filter((f) => /^Pulumi\..+\.yaml$/.test(f))
        .map((f) => f.slice("Pulumi.".length, -".yaml".length));
}

function readStackFile(root: string, stack: string): { file: string; config: Record<string, unknown> } {
    const file = join(root, `Pulumi.${stack}.yaml`);
    if (!existsSync(file)) throw new Error(`no stack config ${file}; stacks here: ${stackFiles(root).join(", ")}`);
    try {
        return { file, config: YAML.parse(readFileSync(file, "utf8"))?.config ?? {} };
    } catch (err) {
        throw new Error(`${file}: not valid YAML: ${(err as Error).message}`);
    }
}

/** The c2m:* keys of Pulumi.<stack>.yaml in `root`; any other key is refused. */
export function readConfigFile(root: string, stack: string): RawConfig {
    const { file, config } = readStackFile(root, stack);
    const raw: RawConfig = {};
    for (const [key, value] of Object.entries(config)) {
        const [namespace, name] = key.split(":");
        if (namespace !== "c2m" || !name) throw new Error(`${file}: unknown config key ${key} (lab keys are c2m:<name>)`);
        raw[name] = value;
    }
    return raw;
}

/** What the program reads its config through: `new pulumi.Config("c2m")`. */
export interface ConfigReader {
    get(key: string): string | undefined;
    getNumber(key: string): number | undefined;
    getObject<T>(key: string): T | undefined;
}

const OBJECT_KEYS = ["hosts", "plan", "backend", "haproxy", "attack", "local", "aws", "metrics"] as const;

/** The program's c2m:* keys; types and ranges are the schema's to check. */
export function readPulumiConfig(config: ConfigReader): RawConfig {
    const raw: RawConfig = { platform: config.get("platform"), owner: config.get("owner"), ttlHours: config.getNumber("ttlHours") };
    for (const key of OBJECT_KEYS) raw[key] = config.getObject<unknown>(key);
    // c2m:image is one name (a string) or one per role (an object): Pulumi hands either as text.
    const image = config.get("image");
    if (image !== undefined) raw.image = image.trim().startsWith("{") ? JSON.parse(image) : image;
    return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
}

/** The capacity plan of a schema-valid config, refused (every problem listed) when the plan breaks. */
function planned(config: LabConfig): { config: LabConfig; capacity: CapacityPlan } {
    const capacity = planCapacity(config);
    const problems = checkPlan(config, capacity);
    if (problems.length > 0) throw new ConfigError(problems);
    return { config, capacity };
}

/** Schema and plan checks of raw config as given (no machine limits). */
export function parseLabConfig(raw: RawConfig): LabConfig {
    return planned(parseSchema(raw)).config;
}

export interface LoadOptions {
    /** Apply the limits of the machine its platform runs hosts on (default). `lab plan` sizes a tier, not this machine. */
    machineLimits?: boolean;
}

/** The stack's config, validated once, with its platform and capacity plan. */
export function loadConfig(stack: string, raw: RawConfig, options: LoadOptions = {}): LoadedConfig {
    const schema = parseSchema(raw);
    const platform = platformFor(schema);
    const config = options.machineLimits === false ? schema : platform.withMachineLimits(schema);
    return { stack, platform, ...planned(config) };
}

/**
 * What tearing a stack down needs to know (its platform, region): never refused, since a lab must
 * always be removable. Without a file, the defaults (local); keys that no longer pass are dropped.
 */
export function teardownConfig(root: string, stack: string): LabConfig {
    if (!existsSync(join(root, `Pulumi.${stack}.yaml`))) return LabConfigSchema.parse({});
    const raw = Object.fromEntries(
        Object.entries(readStackFile(root, stack).config)
            .filter(([key]) => key.startsWith("c2m:"))
            .map(([key, value]) => [key.slice("c2m:".length), value]),
    );
    const valid = (candidate: RawConfig) => LabConfigSchema.safeParse(candidate).data;
    const region = (raw.aws as { region?: unknown } | null | undefined)?.region;
    return valid(raw) ?? valid({ platform: raw.platform, aws: { region } }) ?? valid({ platform: raw.platform }) ?? LabConfigSchema.parse({});
}
