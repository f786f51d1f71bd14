// `lab attack`: vegeta on every client against the lab's frontends, then the run's report page.
import { type Command, Option } from "commander";
import { PRESETS } from "../../components/config.ts";
import { PARTIAL_EXIT_CODE } from "../lib/exitCodes.ts";
import type { AttackOverrides } from "../lib/attackRun.ts";
import { loadFlags, stackOption, withLoadOptions } from "./options.ts";

export function addAttackCommand(lab: Command): void {
    withLoadOptions(
        lab
            .command("attack")
            .description("run vegeta on every client against the lab's frontends")
            .addOption(stackOption())
            .addOption(new Option("--preset <name>", "attack preset").choices(PRESETS)),
        "",
    )
        .option(
            "--allow-partial",
            `exit 0 even when part of the attack failed (a vegeta process failed or its results were lost); otherwise exit ${PARTIAL_EXIT_CODE}`,
        )
        .option("--no-report", "do not write the run's report page (runs/<id>/report.html; written by default)")
        .action(async (o) => {
            const overrides: AttackOverrides = { preset: o.preset, ...loadFlags(o) };
            const { attack } = await import("../lib/attackRun.ts");
            const { attackExit, formatSummary } = await import("../lib/attackOutcome.ts");
            const result = await attack(o.stack, overrides);
            console.log(formatSummary(result));
            if (o.report !== false) {
                const { buildRunReport, reportName } = await import("../lib/runReport.ts");
                await buildRunReport(result.dir).then(
                    (b) => console.log(reportName(b)),
                    (err: Error) => process.stderr.write(`lab attack: no report page: ${err.message}\n`),
                );
            }
            const exit = attackExit(result, { allowPartial: o.allowPartial });
            if (exit.message) process.stderr.write(`lab attack: ${exit.message}\n`);
            if (exit.code !== 0) process.exitCode = exit.code;
        });
}
