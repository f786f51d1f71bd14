// bench/scale: ramps a local lab to N concurrent end-to-end connections (client ↔ HAProxy ↔
// pong) through the plain or the TLS frontend, holds them, and prints what was held, the
// errors, the ramp time and the memory each connection costs per part: each host's own cgroup
// (user, kernel and socket memory, CPU; components/platform/local/cgroups.ts), idle lab → middle
// of the hold. Errors: every planned request not answered successfully (unsent, failed, lost
// with a failed or uncollected vegeta process), HAProxy's errors, unreadable final statistics.
// pong holds every request until the bench releases it (POST /release on each pong server), so
// the hold window starts when the target is actually reached, however long the ramp took; the
// `hold` header is only the cap if the bench dies. The ramp adapts to the machine (bench/ramp.ts,
// pure): when more connections are in flight than land, the sending stops and, once they have
// landed, top-ups send the connections still missing at 80 % of the rate that landed; when the
// machine's available memory runs low, the sending stops for good and the ramp holds what it
// reached. The verdict names what limited a run short of its target: the machine's memory, the
// CPU of clients, LB, backends or the machine's other work, or a host's accept queue, and whether
// that was the machine or HAProxy.
//   npm run bench:scale -- --mode plain|tls --conns N [--hold 60] [--rate R] [--stack scale] [--subnet 198.18.64.0/24]
// The last line is one JSON object (mode, target, held, errors, ramp_s, verdict, limit, …).
// Exit status: 0 when the target was held with 0 errors, 2 when not (the verdict says why),
// 1 when interrupted or something was left behind.
import { Command, Option } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { runsRoot } from "../scripts/toolchain/toolchain.ts";
import { teardownStack } from "../scripts/lib/pulumiStack.ts";
import { residueCount } from "../components/platform/platform.ts";
import { newRunId } from "../scripts/lib/attackRun.ts";
import type { Remote } from "../scripts/lib/remote.ts";
import { DEFAULT_RATE, buildLab, checkOptions, machineMemory, planRamp, sample, softnetDrops, stackFileOf, type Lab, type Options } from "./scaleLab.ts";
import { Attacks } from "./scaleAttacks.ts";
import { rampAndHold, releaseAndCollect } from "./scaleHold.ts";
import { haproxyErrors, printTable, report } from "./scaleReport.ts";

async function main(o: Options): Promise<void> {
    checkOptions(o);
    const { ratePerClient, rate, rampS, plan } = planRamp(o, machineMemory().totalBytes);
    let stopping = false;
    const onSignal = () => {
        stopping = true;
        process.stderr.write("\ninterrupted: stopping and tearing down\n");
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const dir = join(runsRoot(), `scale-${newRunId(o.stack)}`);
    mkdirSync(dir, { recursive: true });
    const [load1Start] = loadavg();
    let remote: Remote | undefined;
    try {
        const built = await buildLab(o, ratePerClient, rampS);
        remote = built.remote;
        if (stopping) throw new Error("interrupted before the attack");
        const t0 = Date.now();
        const idleStats = await built.readStats();
        if (idleStats instanceof Error) throw new Error(`HAProxy statistics unreadable before the attack: ${idleStats.message}`);
        const lab: Lab = { ...built, t0, baseline: sample({ ...built, t0 }, idleStats) };
        const attacks = new Attacks(o.stack, t0);
        const drops0 = softnetDrops();
        attacks.launch({}, { rate, durationS: rampS });
        const ramp = await rampAndHold(lab, plan, rate, attacks, () => stopping);
        const drops1 = softnetDrops();
        const collected = await releaseAndCollect(lab, attacks, () => stopping);
        const drops2 = softnetDrops();
        const result = report(
            lab,
            ramp,
            attacks,
            plan,
            { rate, rampS },
            {
                collected,
                haproxyErrors: await haproxyErrors(lab),
                load1Start,
                interrupted: stopping,
                softnetDrops: { ramp_hold: drops1 - drops0, collect: drops2 - drops1 },
            },
        );
        writeFileSync(
            join(dir, "samples.json"),
            JSON.stringify(
                ramp.samples.map(({ point, ...s }) => ({ ...s, inFlight: point.inFlight, memAvailableBytes: point.memAvailableBytes })),
                null,
                1,
            ),
        );
        writeFileSync(join(dir, "scale.json"), JSON.stringify(result, null, 2));
        printTable(result);
        console.log(JSON.stringify(result));
        if (result.verdict !== "held") process.exitCode = 2;
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await remote?.close();
        const left = await teardownStack(o.stack, stackFileOf(o.stack));
        if (residueCount(left) > 0 || stopping) process.exitCode = 1;
    }
}

new Command("bench:scale")
    .addOption(new Option("--mode <mode>", "frontend").choices(["plain", "tls"]).default("plain"))
    .requiredOption("--conns <n>", "concurrent end-to-end connections to reach", (v) => Number(v))
    .option("--hold <s>", "seconds to hold them", (v) => Number(v), 60)
    .option("--rate <r>", `new connections per second during the ramp, all clients (default ${DEFAULT_RATE.plain} plain, ${DEFAULT_RATE.tls} TLS)`, (v) =>
        Number(v),
    )
    .option("--stack <name>", "stack name", "scale")
    .option("--subnet <cidr>", "the lab's subnet (a /24 inside 198.18.0.0/15)", "198.18.64.0/24")
    .action((o: Options) => main(o))
    .parseAsync(process.argv)
    // An attack given up on still has timers: the bench ends here, its lab torn down.
    .then(() => process.exit(process.exitCode ?? 0))
    .catch((err: Error) => {
        console.error(`bench:scale: ${err.message}`);
        process.exit(1);
    });
