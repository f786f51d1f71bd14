// `lab compare`: two runs side by side.
import type { Command } from "commander";

export function addCompareCommand(lab: Command): void {
    lab.command("compare")
        .description("two runs side by side: results, then the settings and versions that differ")
        .argument("<a>", "run id (or a unique part of it)")
        .argument("<b>", "run id (or a unique part of it)")
        .addHelpText("after", "\nExamples:\n  lab compare 20261125-225859-local 20261125-230247-local\n  lab compare 225859 230247")
        .action(async (a: string, b: string) => {
            console.log((await import("../lib/ledgerFile.ts")).compareRuns(a, b));
        });
}
