// The platforms, by c2m:platform.
import type { LabConfig } from "../config.ts";
import type { OperatorPlatform, Platform } from "./platform.ts";
import { local } from "./local/local.ts";
import { aws } from "./aws/aws.ts";

const PLATFORMS: Record<LabConfig["platform"], Platform> = { local, aws };

export function platformFor(config: Pick<LabConfig, "platform">): Platform {
    return PLATFORMS[config.platform];
}

/** The part of a platform the operator's commands use (residue, reaping, how up is driven, run readings). */
export function operatorPlatformFor(config: Pick<LabConfig, "platform">): OperatorPlatform {
    return PLATFORMS[config.platform];
}
