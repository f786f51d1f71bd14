// `lab tipping`: the latency tipping point of a running lab, by ramp then bisection.
import { type Command, Option } from "commander";
import { formatTippingTable } from "../analysis/tippingTable.ts";
import { TIPPING_DEFAULTS } from "../analysis/tippingSearch.ts";
import { nonNegativeInt, percent, positiveNumber, stackOption } from "./options.ts";

export function addTippingCommand(lab: Command): void {
    lab.command("tipping")
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
        .option("--duration <s>", "seconds of load per step", positiveNumber("--duration"), TIPPING_DEFAULTS.durationS)
        .option("--timeout <s>", "per-request timeout (slower = error)", positiveNumber("--timeout"), TIPPING_DEFAULTS.timeoutS)
        .option("--sleep <ms>", "pong `sleep` header during the search", nonNegativeInt("--sleep"), TIPPING_DEFAULTS.sleepMs)
        .option("--times <n>", "pong `times` header during the search", nonNegativeInt("--times"), TIPPING_DEFAULTS.times)
        .addOption(new Option("--frontend <name>", "frontend to load").choices(["plain", "tls"]).default(TIPPING_DEFAULTS.frontend))
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
                durationS: o.duration,
                timeoutS: o.timeout,
                sleepMs: o.sleep,
                times: o.times,
                frontend: o.frontend,
            });
            console.log(`${formatTippingTable(run.result)}\n→ ${run.dir}`);
            if (run.result.knee === undefined) process.exitCode = 1;
        });
}
