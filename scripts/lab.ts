// The operator CLI: `lab <command>`. Each command is a file of scripts/commands/ that declares its
// flags and, when it runs, calls the libraries that do the work (scripts/lib/, scripts/analysis/,
// scripts/toolchain/). A command loads those modules only when it runs: a CLI start that loads them
// all costs ~0.5 s of CPU, which every `lab` call (and CI's ~75 of them) would pay for commands it
// does not run.
import { Command } from "commander";
import { addAttackCommand } from "./commands/attack.ts";
import { addBootstrapCommand } from "./commands/bootstrap.ts";
import { addCompareCommand } from "./commands/compare.ts";
import { addDemoCommand } from "./commands/demo.ts";
import { addDoctorCommand } from "./commands/doctor.ts";
import { addDownCommand } from "./commands/down.ts";
import { addEnvCommand } from "./commands/env.ts";
import { addImageCommand } from "./commands/image.ts";
import { addPlanCommand } from "./commands/plan.ts";
import { addPreflightCommand } from "./commands/preflight.ts";
import { addReapCommand } from "./commands/reap.ts";
import { addReportCommand } from "./commands/report.ts";
import { addReproduceCommand } from "./commands/reproduce.ts";
import { addRunsCommand } from "./commands/runs.ts";
import { addSweepCommand } from "./commands/sweep.ts";
import { addTippingCommand } from "./commands/tipping.ts";
import { addUpCommand } from "./commands/up.ts";

const program = new Command("lab")
    .description("c2m-lab: build a load-balancer lab, attack it, report, tear it down")
    .showHelpAfterError()
    .addHelpText(
        "after",
        `
Examples:
  lab bootstrap                     install/build every tool (idempotent)
  lab up --stack local              create the local lab (namespaces + sshd + roles)
  lab attack --stack local --rate 500 --duration 10
  lab down --stack local            destroy it and check nothing is left
  lab demo                          all of the above, end to end`,
    );

// In the order `lab --help` lists them.
for (const add of [
    addBootstrapCommand,
    addImageCommand,
    addDoctorCommand,
    addEnvCommand,
    addUpCommand,
    addPreflightCommand,
    addAttackCommand,
    addTippingCommand,
    addSweepCommand,
    addReproduceCommand,
    addRunsCommand,
    addCompareCommand,
    addReportCommand,
    addDownCommand,
    addPlanCommand,
    addReapCommand,
    addDemoCommand,
])
    add(program);

program.parseAsync(process.argv).catch((err: Error) => {
    console.error(`lab: ${err.message}`);
    process.exit(1);
});
