// `lab reap`: remove a stack's leftovers without its state, or tear down every expired stack.
import type { Command } from "commander";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { stackOption } from "./options.ts";

export function addReapCommand(lab: Command): void {
    lab.command("reap")
        .description(
            "remove a stack's leftovers without its state (local: by name; aws: lists what is still tagged lab:stack); " +
                "with --expired, tear down every stack past its TTL (c2m:ttlHours after its last up)",
        )
        .addOption(stackOption())
        .option("--expired", "destroy every stack whose expiresAt has passed, whatever --stack says")
        .action(async (o: { stack: string; expired?: boolean }) => {
            const { reapExpired } = await import("../lib/stackLeases.ts");
            const { reapStack } = await import("../lib/pulumiStack.ts");
            if (o.expired) {
                const reaped = await reapExpired();
                console.log(
                    reaped.length === 0
                        ? "reap: no stack is past its TTL"
                        : reaped.map((r) => `reaped ${r.stack} (expired ${r.expiresAt}), residue ${r.residue}`).join("\n"),
                );
                if (reaped.some((r) => r.residue > 0)) process.exitCode = 1;
                return;
            }
            const left = await reapStack(o.stack);
            console.log(describeResidue(left));
            if (residueCount(left) > 0) process.exitCode = 1;
        });
}
