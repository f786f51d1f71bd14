// `lab demo`: bootstrap, up, a small attack through plain and TLS, its report page, down.
import type { Command } from "commander";
import { bootstrap } from "./bootstrap.ts";
import { down } from "./down.ts";
import { stackOption, timed } from "./options.ts";

export function addDemoCommand(lab: Command): void {
    lab.command("demo")
        .description("bootstrap, up, a small attack through plain and TLS, HTML report, down")
        .addOption(stackOption())
        .action(async (o: { stack: string }) => {
            await bootstrap();
            const { up } = await import("../lib/pulumiStack.ts");
            const { attack } = await import("../lib/attackRun.ts");
            const { attackExit, formatSummary } = await import("../lib/attackOutcome.ts");
            const { buildRunReport, reportName } = await import("../lib/runReport.ts");
            let failed = false;
            // Ctrl-C reaches pulumi/vegeta too and stops them; the demo then still tears down.
            const onInterrupt = () => {
                failed = true;
                process.stderr.write("\ninterrupted: tearing the lab down…\n");
            };
            process.on("SIGINT", onInterrupt);
            try {
                await timed("lab up", () => up(o.stack));
                const result = await attack(o.stack, { preset: "smoke" });
                console.log(formatSummary(result));
                console.log(reportName(await buildRunReport(result.dir)));
                failed = failed || attackExit(result).code !== 0 || (result.summary?.success ?? 0) < 1;
            } finally {
                if ((await down(o.stack)) > 0) failed = true;
                process.off("SIGINT", onInterrupt);
            }
            if (failed) process.exitCode = 1;
        });
}
