// `lab tipping`: the latency tipping point of a running lab, by ramp then bisection.
import { type Command, Option } from "commander";
import { formatTippingTable } from "../analysis/tippingTable.ts";
import { TIPPING_DEFAULTS } from "../analysis/tippingSearch.ts";
import { TIPPING_STEP_SETTINGS } from "../../components/render/attack.ts";
import type { TippingStepLoad } from "../../components/records/tippingRecord.ts";
import { loadFlags, nonNegativeInt, percent, positiveNumber, stackOption, withLoadOptions } from "./options.ts";

export function addTippingCommand(lab: Command): void {
    const command = lab
        .command("tipping")
        .description("find the latency tipping point: ramp the rate, then bisect between last good and first bad")
        .addOption(stackOption())
        .requiredOption("--start <rate>", "total requests/s of the first (baseline) step, over all clients", positiveNumber("--start"))
        .option("--factor <x>", "rate multiplier between ramp steps", positiveNumber("--factor"), TIPPING_DEFAULTS.factor)
        .option("--tolerance <x>", "stop when the knee is known to ±x (relative)", positiveNumber("--tolerance"), TIPPING_DEFAULTS.tolerance)
        .option("--max-steps <n>", "measured steps at most", positiveNumber("--max-steps"), TIPPING_DEFAULTS.maxSteps)
        .option("--max-rate <rate>", "never offer more than this total rate", positiveNumber("--max-rate"))
        .option("--p99-factor <x>", "bad when p99 > x × the baseline p99", positiveNumber("--p99-factor"), TIPPING_DEFAULTS.p99Factor)
        .option(
            "--p99-floor-ms <ms>",
            "…and p99 > this many ms (a few ms of tail on a low baseline is no knee)",
            nonNegativeInt("--p99-floor-ms"),
            TIPPING_DEFAULTS.p99FloorMs,
        )
        .option("--max-errors <pct>", "bad when more than pct % of requests fail", percent("--max-errors"), TIPPING_DEFAULTS.maxErrorRatio * 100)
        .addOption(new Option("--frontend <name>", "frontend to load").choices(["plain", "tls"]).default(TIPPING_DEFAULTS.frontend));
    // Each step's load: every attack setting but the rate (the search's) and the frontends (--frontend); absent = the lab's own.
    withLoadOptions(command, "each step's ", { omit: ["rate", "frontends"], defaults: TIPPING_STEP_SETTINGS })
        .addHelpText(
            "after",
            `
Examples:
  lab tipping --stack local --start 20                  double from 20/s, bisect to ±5 %
  lab tipping --stack local --start 100 --frontend tls --p99-factor 3 --max-errors 1`,
        )
        .action(async (o) => {
            const { tipping } = await import("../lib/tippingRun.ts");
            const run = await tipping({
                stack: o.stack,
                startRate: o.start,
                factor: o.factor,
                tolerance: o.tolerance,
                maxSteps: o.maxSteps,
                maxRate: o.maxRate,
                p99Factor: o.p99Factor,
                p99FloorMs: o.p99FloorMs,
                maxErrorRatio: o.maxErrors / 100,
                frontend: o.frontend,
                ...(loadFlags(o) as TippingStepLoad),
            });
            console.log(`${formatTippingTable(run.result)}\n→ ${run.dir}`);
            if (run.result.knee === undefined) process.exitCode = 1;
        });
}
