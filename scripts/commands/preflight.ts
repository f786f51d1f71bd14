// `lab preflight`: whether this AWS account can run an aws stack, asked read-only.
import type { Command } from "commander";
import { stackOption } from "./options.ts";

export function addPreflightCommand(lab: Command): void {
    lab.command("preflight")
        .description(
            "ask AWS, read-only, whether this account can run an aws stack: identity, vCPU quota " +
                "(L-1216C47A) against the plan, zone offerings, the Debian AMI, a state backend and passphrase the scheduled reaper can use, the operator CIDR",
        )
        .addOption(stackOption())
        .addHelpText("after", "\nExamples:\n  lab preflight --stack aws-smoke\n  lab preflight --stack aws-16c64g   (lab up runs it first for aws stacks)")
        .action(async (o: { stack: string }) => {
            await (await import("../lib/awsPreflight.ts")).preflight(o.stack);
        });
}
