// `lab sweep`: a matrix of config variants on one lab, each cell a ledger run, then one comparison page.
import { type Command, InvalidArgumentError } from "commander";
import { parseSet, recipeSets, type SweepValue } from "../analysis/sweepMatrix.ts";
import { loadFlags, stackOption, withLoadOptions } from "./options.ts";

const collectSet = (value: string, previous: ReturnType<typeof parseSet>[]) => {
    try {
        return [...previous, parseSet(value)];
    } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
    }
};

export function addSweepCommand(lab: Command): void {
    withLoadOptions(
        lab
            .command("sweep")
            .description(
                "a matrix of config variants: each cell one ledger run on this lab (changed in place with lab up), resumable, then one HTML comparison report",
            )
            .addOption(stackOption())
            .option(
                "--set <key=v1,v2>",
                "a config key (no c2m:) and its values; repeat for more keys; a list value joins with + (attack.frontends=plain,tls,plain+tls)",
                collectSet,
                [],
            )
            .option("--resume <sweep>", "go on with a stopped sweep: its id (sweep-…) or directory")
            .option("--recipe <name>", "a named matrix: cores (HAProxy at the seed's 3, 6, 8, 16 cores scaled to the stack's tier, plain vs TLS)"),
        "every cell's ",
    )
        .addHelpText(
            "after",
            `
Examples:
  lab sweep --stack local --set haproxy.threads=1,2 --set attack.frontends=plain,tls --rate 200 --duration 10
  lab sweep --stack local --set haproxy.tls.certificate=ecdsa-p256,rsa-2048 --frontends tls
  lab sweep --resume sweep-20261202-120000-local
  lab sweep --stack local-16c64g --recipe cores --rate 2000 --duration 60 --sleep 1000`,
        )
        .action(async (o) => {
            const attackFlags: Record<string, SweepValue> = {};
            for (const [key, value] of Object.entries(loadFlags(o))) if (value !== undefined) attackFlags[key] = value;
            const { sweep } = await import("../lib/sweepRun.ts");
            let sets = o.set;
            if (o.recipe) {
                // The stack's scale: its LB's CPU quota against its seed tier's cores (local-16c64g at 1 CPU → 1/16).
                const { tierOfStack, SEED_TIERS } = await import("../../components/plan/seedTiers.ts");
                const { loadStackConfig } = await import("../lib/stackSettings.ts");
                const tier = tierOfStack(o.stack);
                const quota = loadStackConfig(o.stack).config.local.hostLimits?.haproxy?.cpuQuota;
                if (!tier || quota === undefined)
                    throw new Error(
                        `--recipe ${o.recipe}: stack ${o.stack} is not a scaled seed tier with an LB CPU quota (local-4c30g, local-16c30g, local-16c64g)`,
                    );
                sets = [...sets, ...recipeSets(o.recipe, SEED_TIERS[tier].cores / quota).map(parseSet)];
            }
            const run = o.resume ? await sweep({ resume: o.resume }) : await sweep({ stack: o.stack, sets, attack: attackFlags });
            const done = run.record.cells.filter((c) => c.status === "done").length;
            console.log(`${run.record.id}: ${done} of ${run.record.cells.length} cells done${run.report ? ` → ${run.report.file}` : ""}`);
            if (run.interrupted) process.exitCode = 130;
            else if (done < run.record.cells.length) process.exitCode = 1;
        });
}
