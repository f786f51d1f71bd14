// `lab up`: create or update a lab; an aws stack is preflighted first.
import type { Command } from "commander";
import { stackOption, timed } from "./options.ts";

export function addUpCommand(lab: Command): void {
    lab.command("up")
        .description("create or update the lab (an aws stack is preflighted first: lab preflight)")
        .addOption(stackOption())
        .action(async (o: { stack: string }) => {
            const { up } = await import("../lib/pulumiStack.ts");
            await timed(`lab up --stack ${o.stack}`, () => up(o.stack));
        });
}
