// `lab down`: destroy a lab, remove its stack, and check nothing is left.
import type { Command } from "commander";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { stackOption, timed } from "./options.ts";

/** Destroys the stack's lab and removes the stack; returns how many leftovers remain (0: none). */
export async function down(stack: string, options: { keepStack?: boolean } = {}): Promise<number> {
    const { destroy, reapStack, removeStack, stackResidue } = await import("../lib/pulumiStack.ts");
    try {
        await timed(`lab down --stack ${stack}`, () => destroy(stack));
    } catch (err) {
        // The state still lists what destroy could not remove: keep it (a second `lab down` retries) and show what is left.
        process.stderr.write(`${await stackResidue(stack).then(describeResidue, (e: Error) => e.message)}\n`);
        throw new Error(
            `${(err as Error).message}; stack ${stack} is kept: \`lab down --stack ${stack}\` retries, ` +
                `\`lab reap --stack ${stack}\` removes its local leftovers by name`,
        );
    }
    if (!options.keepStack) await removeStack(stack);
    // The stack's platform says what is left (an error, never "none", when it cannot tell).
    let residue = await stackResidue(stack);
    if (residueCount(residue) > 0) {
        process.stderr.write(`${describeResidue(residue)}\nreaping leftovers by name…\n`);
        residue = await reapStack(stack);
    }
    console.log(describeResidue(residue));
    return residueCount(residue);
}

export function addDownCommand(lab: Command): void {
    lab.command("down")
        .description("destroy the lab and check nothing is left")
        .addOption(stackOption())
        .option("--keep-stack", "keep the (empty) stack and its history")
        .action(async (o: { stack: string; keepStack?: boolean }) => {
            if ((await down(o.stack, o)) > 0) process.exitCode = 1;
        });
}
