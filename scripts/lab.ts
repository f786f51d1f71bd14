// The operator CLI: `lab <command>`. Parses flags, then calls one typed function per command.
import { Command, InvalidArgumentError, Option } from "commander";
import { describeResidue, residueCount } from "../components/platform/platform.ts";
import { PRESETS } from "../components/config.ts";
import { formatTippingTable, TIPPING_DEFAULTS } from "./analysis/tippingSearch.ts";
import { parseSet } from "./analysis/sweepMatrix.ts";
import { PARTIAL_EXIT_CODE } from "./lib/exitCodes.ts";
import type { AttackOverrides } from "./lib/attackRun.ts";

// Each command loads its own modules when it runs: a CLI start that loads them all costs ~0.5 s of
// CPU, which every `lab` call (and CI's ~75 of them) would pay for commands it does not run.
const stackOps = () => import("./lib/pulumiStack.ts");
const attackOps = () => import("./lib/attackRun.ts");
const reportOps = () => import("./lib/runReport.ts");
const bootstrap = async () => (await import("./toolchain/installTools.ts")).bootstrap();

const positiveNumber = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number, got "${v}"`);
    return n;
};
const nonNegativeInt = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 0, got "${v}"`);
    return n;
};
const percent = (flag: string) => (v: string) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n >= 100) throw new InvalidArgumentError(`${flag} must be a percentage in [0, 100), got "${v}"`);
    return n;
};
const frontendList = (v: string) => {
    const list = v.split(",").map((f) => f.trim());
    if (list.some((f) => f !== "plain" && f !== "tls")) throw new InvalidArgumentError(`--frontends takes plain, tls or plain,tls, got "${v}"`);
    return list as ("plain" | "tls")[];
};

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const result = await fn();
    process.stderr.write(`${what} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return result;
}

async function down(stack: string, options: { keepStack?: boolean } = {}): Promise<number> {
    const { destroy, reapStack, removeStack, stackResidue } = await stackOps();
    try {
        await timed(`lab down --stack ${stack}`, () => destroy(stack));
    } catch (err) {
        // The state still lists what destroy could not remove: keep it (a second `lab down` retries) and show what is left.
        process.stderr.write(`${await stackResidue(stack).then(describeResidue, (e: Error) => e.message)}\n`);
        throw new Error(
            `${(err as Error).message}; stack ${stack} is kept: \`lab down --stack ${stack}\` retries, ` +
                `\`lab reap --stack ${stack}\` removes its local leftovers by name`,
        );
    }
    if (!options.keepStack) await removeStack(stack);
    // The stack's platform says what is left (an error, never "none", when it cannot tell).
    let residue = await stackResidue(stack);
    if (residueCount(residue) > 0) {
        process.stderr.write(`${describeResidue(residue)}\nreaping leftovers by name…\n`);
        residue = await reapStack(stack);
    }
    console.log(describeResidue(residue));
    return residueCount(residue);
}

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

const stackOption = () => new Option("-s, --stack <name>", "Pulumi stack").default("local");

program
    .command("bootstrap")
    .description("install or build the toolchain into the cache")
    .action(() => bootstrap());

program
    .command("image")
    .description("host images (c2m:image): build Debian root filesystems into the tool cache, or list them")
    .argument("<verb>", "build or list")
    .argument("[names...]", "images to build (debian-12, debian-13, debian-12-emu, debian-13-wolfssl)")
    .addHelpText("after", "\nExamples:\n  lab image build debian-13\n  lab image list")
    .action(async (verb: string, names: string[]) => {
        process.exitCode = await (await import("./commands/image.ts")).imageCommand([verb, ...names]);
    });

program
    .command("doctor")
    .description("show each tool, its version and origin, and what is missing")
    .action(async () => {
        if (!(await (await import("./commands/doctor.ts")).doctor())) process.exitCode = 1;
    });

program
    .command("env")
    .description(
        "print shell exports (PATH with the tool cache and Node 22, the state backend, the passphrase file, " +
            "C2M_STACK_SETTINGS: the committed stacks' settings as Pulumi reads them) so that plain `pulumi` works in this shell",
    )
    .addHelpText(
        "after",
        `
Example:
  eval "$(npm run -s lab -- env)"
  pulumi stack select --create local --cwd "$C2M_STACK_SETTINGS"
  pulumi up --stack local --config-file "$C2M_STACK_SETTINGS/Pulumi.local.yaml"`,
    )
    .action(async () => {
        (await stackOps()).committedStackSettings(); // fresh copies: Pulumi writes its salt there, never into the checkout
        process.stdout.write((await import("./toolchain/toolchain.ts")).shellExports());
    });

program
    .command("up")
    .description("create or update the lab (an aws stack is preflighted first: lab preflight)")
    .addOption(stackOption())
    .action(async (o: { stack: string }) => {
        // Before anything is created: an aws stack's account, quota, zone, image, state backend and CIDR.
        await (await import("./lib/awsPreflight.ts")).preflightBeforeUp(o.stack);
        const { up } = await stackOps();
        await timed(`lab up --stack ${o.stack}`, () => up(o.stack));
    });

program
    .command("preflight")
    .description(
        "ask AWS, read-only, whether this account can run an aws stack: identity, vCPU quota " +
            "(L-1216C47A) against the plan, zone offerings, the Debian AMI, a state backend and passphrase the scheduled reaper can use, the operator CIDR",
    )
    .addOption(stackOption())
    .addHelpText("after", "\nExamples:\n  lab preflight --stack aws-smoke\n  lab preflight --stack aws-16c64g   (lab up runs it first for aws stacks)")
    .action(async (o: { stack: string }) => {
        await (await import("./lib/awsPreflight.ts")).preflight(o.stack);
    });

/** The load flags `lab attack` and `lab sweep` share (sweep applies them to every cell). */
function withLoadOptions(command: Command, whose: string): Command {
    for (const option of [
        new Option("--rate <n>", `${whose}requests/s per client host`).argParser(positiveNumber("--rate")),
        new Option("--duration <s>", `${whose}seconds of load`).argParser(positiveNumber("--duration")),
        new Option("--timeout <s>", `${whose}per-request timeout, seconds`).argParser(positiveNumber("--timeout")),
        new Option("--sleep <ms>", `${whose}pong \`sleep\` header`).argParser(nonNegativeInt("--sleep")),
        new Option("--times <n>", `${whose}pong \`times\` header`).argParser(nonNegativeInt("--times")),
        new Option("--frontends <list>", `${whose}frontends: plain,tls`).argParser(frontendList),
    ])
        command.addOption(option);
    return command;
}

withLoadOptions(
    program
        .command("attack")
        .description("run vegeta on every client against the lab's frontends")
        .addOption(stackOption())
        .addOption(new Option("--preset <name>", "attack preset").choices(PRESETS)),
    "",
)
    .addOption(new Option("--workers <n>", "vegeta -workers per process").argParser(positiveNumber("--workers")))
    .addOption(new Option("--cpus <n>", "vegeta -cpus per process").argParser(positiveNumber("--cpus")))
    .addOption(new Option("--connections <n>", "vegeta -connections per client").argParser(positiveNumber("--connections")))
    .option(
        "--allow-partial",
        `exit 0 even when part of the attack failed (a vegeta process failed or its results were lost); otherwise exit ${PARTIAL_EXIT_CODE}`,
    )
    .option("--no-report", "do not write the run's report page (runs/<id>/report.html; written by default)")
    .action(async (o) => {
        const overrides: AttackOverrides = {
            preset: o.preset,
            rate: o.rate,
            durationS: o.duration,
            timeoutS: o.timeout,
            sleepMs: o.sleep,
            times: o.times,
            workers: o.workers,
            cpus: o.cpus,
            connections: o.connections,
            frontends: o.frontends,
        };
        const { attack, attackExit, formatSummary } = await attackOps();
        const result = await attack(o.stack, overrides);
        console.log(formatSummary(result));
        if (o.report !== false) {
            const { buildRunReport, reportName } = await reportOps();
            await buildRunReport(result.dir).then(
                (b) => console.log(reportName(b)),
                (err: Error) => process.stderr.write(`lab attack: no report page: ${err.message}\n`),
            );
        }
        const exit = attackExit(result, { allowPartial: o.allowPartial });
        if (exit.message) process.stderr.write(`lab attack: ${exit.message}\n`);
        if (exit.code !== 0) process.exitCode = exit.code;
    });

program
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
        const { tipping } = await import("./lib/tippingRun.ts");
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

const collectSet = (value: string, previous: ReturnType<typeof parseSet>[]) => {
    try {
        return [...previous, parseSet(value)];
    } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
    }
};

withLoadOptions(
    program
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
        const attackFlags = Object.fromEntries(
            Object.entries({
                rate: o.rate,
                durationS: o.duration,
                timeoutS: o.timeout,
                sleepMs: o.sleep,
                times: o.times,
                frontends: o.frontends,
            }).filter(([, v]) => v !== undefined),
        );
        const { sweep } = await import("./lib/sweepRun.ts");
        let sets = o.set;
        if (o.recipe) {
            // The stack's scale: its LB's CPU quota against its seed tier's cores (local-16c64g at 1 CPU → 1/16).
            const { recipeSets } = await import("./analysis/sweepMatrix.ts");
            const { tierOfStack, SEED_TIERS } = await import("../components/plan/seedTiers.ts");
            const { loadStackConfig } = await stackOps();
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

program
    .command("reproduce")
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
        const { reproduce, reproduceJsonLine, parseScale, DEFAULT_HOLD_S } = await import("./lib/reproduceRun.ts");
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

program
    .command("runs")
    .description("list the run ledger (runs/ledger.jsonl, or $C2M_RUNS_DIR/ledger.jsonl): one row per attack")
    .option("-s, --stack <name>", "only this stack's runs")
    .option("--last <n>", "only the last n runs", positiveNumber("--last"))
    .option("--backfill", "first add runs/<id>/ directories that have no ledger row yet")
    .addHelpText("after", "\nExamples:\n  lab runs\n  lab runs --stack local --last 10\n  lab runs --backfill")
    .action(async (o: { stack?: string; last?: number; backfill?: boolean }) => {
        const { backfillLedger, listRuns } = await import("./lib/ledgerFile.ts");
        if (o.backfill) process.stderr.write(`ledger: ${await backfillLedger()} runs added\n`);
        console.log(listRuns(o));
    });

program
    .command("compare")
    .description("two runs side by side: results, then the settings and versions that differ")
    .argument("<a>", "run id (or a unique part of it)")
    .argument("<b>", "run id (or a unique part of it)")
    .addHelpText("after", "\nExamples:\n  lab compare 20261125-225859-local 20261125-230247-local\n  lab compare 225859 230247")
    .action(async (a: string, b: string) => {
        console.log((await import("./lib/ledgerFile.ts")).compareRuns(a, b));
    });

program
    .command("report")
    .description("one self-contained offline HTML page for a run (or a tipping search), plots included")
    .argument("<run>", "run id, a unique part of it, a runs/ directory, or a tipping-… id")
    .option("--check", "open it in headless Chromium and check every plot rendered")
    .addHelpText(
        "after",
        "\nExamples:\n  lab report 20261125-225859-local     → runs/20261125-225859-local/report.html\n  lab report tipping-20261125-230857-dev5 --check",
    )
    .action(async (ref: string, o: { check?: boolean }) => {
        const { report, reportName } = await reportOps();
        const { buildSweepReport, resolveSweepDir } = await import("./lib/sweepRun.ts");
        const sweepDir = (() => {
            try {
                return resolveSweepDir(ref);
            } catch {
                return undefined;
            }
        })();
        const built = sweepDir ? await buildSweepReport(sweepDir) : await report(ref);
        console.log(reportName(built));
        if (o.check) {
            const { dumpDom } = await import("./lib/chromium.ts");
            const rendered = /data-plots-rendered="(\d+)\/(\d+)"/.exec(await dumpDom(built.file));
            console.log(`chromium: ${rendered ? `${rendered[1]} of ${rendered[2]} plots rendered` : "the page's check did not run"}`);
            if (!rendered || rendered[1] !== rendered[2]) process.exitCode = 1;
        }
    });

program
    .command("down")
    .description("destroy the lab and check nothing is left")
    .addOption(stackOption())
    .option("--keep-stack", "keep the (empty) stack and its history")
    .action(async (o: { stack: string; keepStack?: boolean }) => {
        if ((await down(o.stack, o)) > 0) process.exitCode = 1;
    });

program
    .command("plan")
    .description("sizing and cost of a stack's tier for N concurrent connections (no cloud access)")
    .addOption(stackOption())
    .option("--conns <n>", "concurrent end-to-end connections client ↔ HAProxy ↔ backend (default: c2m:plan.connections)", positiveNumber("--conns"))
    .option("--tls-share <x>", "share of them through TLS, 0..1 (default: c2m:plan.tlsShare)", Number)
    .option("--clients <n>", "client hosts (default: c2m:hosts.clients)", positiveNumber("--clients"))
    .option("--source-ips <n>", "source addresses per client (default: 1 + c2m:aws.secondaryIpsPerClient)", positiveNumber("--source-ips"))
    .option("--json", "print only the JSON object (always the last line)")
    .addHelpText(
        "after",
        `
Examples:
  lab plan --stack aws-16c64g                        the tier at its planned 1.05M connections (2.1M sockets)
  lab plan --stack aws-16c30g --conns 650000 --tls-share 1
  lab plan --stack aws-16c64g --clients 3 --source-ips 8 --json`,
    )
    .action(async (o: { stack: string; conns?: number; tlsShare?: number; clients?: number; sourceIps?: number; json?: boolean }) => {
        process.exitCode = (await import("./lib/tierPlan.ts")).plan(o.stack, o);
    });

program
    .command("reap")
    .description(
        "remove a stack's leftovers without its state (local: by name; aws: lists what is still tagged lab:stack); " +
            "with --expired, tear down every stack past its TTL (c2m:ttlHours after its last up)",
    )
    .addOption(stackOption())
    .option("--expired", "destroy every stack whose expiresAt has passed, whatever --stack says")
    .action(async (o: { stack: string; expired?: boolean }) => {
        const { reapExpired, reapStack } = await stackOps();
        if (o.expired) {
            const reaped = await reapExpired();
            console.log(
                reaped.length === 0
                    ? "reap: no stack is past its TTL"
                    : reaped.map((r) => `reaped ${r.stack} (expired ${r.expiresAt}), residue ${r.residue}`).join("\n"),
            );
            if (reaped.some((r) => r.residue > 0)) process.exitCode = 1;
            return;
        }
        const left = await reapStack(o.stack);
        console.log(describeResidue(left));
        if (residueCount(left) > 0) process.exitCode = 1;
    });

program
    .command("demo")
    .description("bootstrap, up, a small attack through plain and TLS, HTML report, down")
    .addOption(stackOption())
    .action(async (o: { stack: string }) => {
        await bootstrap();
        const { up } = await stackOps();
        const { attack, attackExit, formatSummary } = await attackOps();
        const { buildRunReport, reportName } = await reportOps();
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

program.parseAsync(process.argv).catch((err: Error) => {
    console.error(`lab: ${err.message}`);
    process.exit(1);
});
