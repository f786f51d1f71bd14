// `lab report`: one self-contained offline HTML page for a run, a tipping search or a sweep.
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";

export function addReportCommand(lab: Command): void {
    lab.command("report")
        .description("one self-contained offline HTML page for a run (or a tipping search), plots included")
        .argument("<run>", "run id, a unique part of it, a runs/ directory, or a tipping-… id")
        .option("--check", "open it in headless Chromium and check every plot rendered")
        .addHelpText(
            "after",
            "\nExamples:\n  lab report 20261125-225859-local     → runs/20261125-225859-local/report.html\n  lab report tipping-20261125-230857-dev5 --check",
        )
        .action(async (ref: string, o: { check?: boolean }) => {
            const { buildRunReport, reportName, resolveRunDir } = await import("../lib/runReport.ts");
            const { buildTippingReport } = await import("../lib/tippingReport.ts");
            const { buildSweepReport, resolveSweepDir } = await import("../lib/sweepRun.ts");
            const sweepDir = (() => {
                try {
                    return resolveSweepDir(ref);
                } catch {
                    return undefined;
                }
            })();
            // A sweep's comparison page, a tipping search's page, or a run's page.
            const dir = sweepDir ?? resolveRunDir(ref);
            const tippingOnly = existsSync(join(dir, "tipping.json")) && !existsSync(join(dir, "run.json"));
            const built = sweepDir ? await buildSweepReport(sweepDir) : tippingOnly ? await buildTippingReport(dir) : await buildRunReport(dir);
            console.log(reportName(built));
            if (o.check) {
                const { dumpDom } = await import("../lib/chromium.ts");
                const rendered = /data-plots-rendered="(\d+)\/(\d+)"/.exec(await dumpDom(built.file));
                console.log(`chromium: ${rendered ? `${rendered[1]} of ${rendered[2]} plots rendered` : "the page's check did not run"}`);
                if (!rendered || rendered[1] !== rendered[2]) process.exitCode = 1;
            }
        });
}
