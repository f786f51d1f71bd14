// Entry point of the AWS platform for index.ts: checks the settings (pure, names the key),
// then loads the AWS components only now, so a local stack never loads @pulumi/aws nor
// registers an AWS resource (and needs no AWS provider plugin).
import type { LabConfig } from "../../config.ts";
import type { AwsPlatform } from "./awsPlatform.ts";
import type { Role } from "../../types.ts";
import { awsSettings } from "./settings.ts";
import { expiryFrom } from "../labTags.ts";
import { PINS } from "../../pins.ts";

export async function createAwsPlatform(stack: string, config: LabConfig, hosts: { name: string; role: Role }[],
    now: Date = new Date()): Promise<AwsPlatform> {
    const settings = awsSettings(stack, config);
    const { AwsPlatform } = await import("./awsPlatform.ts");
    return new AwsPlatform("lab", {
        stack,
        owner: config.owner,
        expiresAt: expiryFrom(now, config.ttlHours),
        hosts,
        settings,
        versions: { node: PINS.node, vegeta: PINS.vegeta },
    });
}
