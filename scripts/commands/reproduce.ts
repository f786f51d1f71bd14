// `lab reproduce`: the seed's experiment on each tier, up to down, and the page that compares.
import { type Command, InvalidArgumentError } from "commander";
import { positiveNumber } from "./options.ts";

export function addReproduceCommand(lab: Command): void {
    lab.command("reproduce")
        .description(
            "the seed's experiment on each tier: up, the 2.1M-socket goal (1/N), down; " +
                "the seed's figure, the planner's and the measured side by side (runs/reproduce-…/reproduce.html); the last line is one JSON object",
        )
        .option("--tiers <list>", "tier stacks, comma-separated", "local-4c30g,local-16c30g,local-16c64g")
        .option("--scale <1/N>", "memory, CPU, connections and ramp rate divided by N", "1/16")
        .option("--hold <s>", "seconds pong holds every request open", positiveNumber("--hold"))
        .option("--ramp <s>", "seconds of ramp instead of the seed's rate (short CI runs)", positiveNumber("--ramp"))
        .addHelpText(
            "after",
            `
Examples:
  lab reproduce                                      the three local tiers at 1/16 (~25 min)
  lab reproduce --tiers local-16c64g --scale 1/256 --hold 5 --ramp 15`,
        )
        .action(async (o: { tiers: string; scale: string; hold?: number; ramp?: number }) => {
            const { reproduce, reproduceJsonLine, parseScale, DEFAULT_HOLD_S } = await import("../lib/reproduceRun.ts");
            let scale: number;
            try {
                scale = parseScale(o.scale);
            } catch (err) {
                throw new InvalidArgumentError((err as Error).message);
            }
            const run = await reproduce({
                tiers: o.tiers
                    .split(",")
                    .map((t) => t.trim())
                    .filter(Boolean),
                scale,
                holdS: o.hold ?? DEFAULT_HOLD_S,
                rampS: o.ramp,
            });
            console.log(`${run.tiers.map((t) => t.verdict).join("\n")}\n→ ${run.page}`);
            console.log(reproduceJsonLine(run.tiers));
            if (run.interrupted) process.exitCode = 130;
            else if (run.residue > 0 || run.tiers.some((t) => t.error)) process.exitCode = 1;
        });
}
