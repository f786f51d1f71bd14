// `lab runs`: the run ledger, one row per attack.
import type { Command } from "commander";
import { positiveNumber } from "./options.ts";

export function addRunsCommand(lab: Command): void {
    lab.command("runs")
        .description("list the run ledger (runs/ledger.jsonl, or $C2M_RUNS_DIR/ledger.jsonl): one row per attack")
        .option("-s, --stack <name>", "only this stack's runs")
        .option("--last <n>", "only the last n runs", positiveNumber("--last"))
        .option("--backfill", "first add runs/<id>/ directories that have no ledger row yet")
        .addHelpText("after", "\nExamples:\n  lab runs\n  lab runs --stack local --last 10\n  lab runs --backfill")
        .action(async (o: { stack?: string; last?: number; backfill?: boolean }) => {
            const { backfillLedger, listRuns } = await import("../lib/ledgerFile.ts");
            if (o.backfill) process.stderr.write(`ledger: ${await backfillLedger()} runs added\n`);
            console.log(listRuns(o));
        });
}
