// bench/tippingKnee, two searches on a local lab it builds and tears down:
// --capacity N: backends of a known capacity (pong --max-concurrent with a fixed
//   --service-time-ms: capacity = servers × maxConcurrent × 1000 / serviceTimeMs, all three
//   derived from N); `lab tipping` from a fixed 10/s (CAPACITY_SEARCH: nothing of N goes into the
//   search, its start, its steps or its grid); prints how far the knee is from N. Exits 1 when the search found no knee, 2 when its knee is not within ±10 %
//   of N (the lab itself tipped first: more than it can offer).
// --lb-cpus N: HAProxy's own knee: the LB host pinned to N CPUs (its cgroup's CPU set, N threads),
//   pong unlimited, the other hosts on the CPUs left (or sharing the LB's when none are left: the
//   JSON says shared_cpus). No synthetic capacity; exits 1 when no knee. The knee's attribution
//   (haproxy, client, backend…) says whose it is. --lb-cpu-quota F also caps the LB host's CPU
//   time at F CPUs' worth (its cgroup's CFS quota) and --lb-threads its HAProxy threads: on a
//   machine whose clients need far more CPU per request than HAProxy, this makes HAProxy the
//   narrowest resource, so its knee is the one found (1 thread at F vs 2 threads at 2F).
//   npm run bench:tipping -- [--capacity 240 | --lb-cpus 1|2 [--lb-cpu-quota F] [--lb-threads N]] [--mode plain|tls]
//     [--start N] [--duration 10] [--p99-floor-ms 100] [--confirm-tries 2] [--max-tries 3] [--stack tipping] [--subnet …]
//   A bad step is believed after --confirm-tries bad tries at its rate; a try the machine stalled
//   (the LB below its CPU quota, no other host saturated) is retried without counting.
// The last line is one JSON object: capacity (null with --lb-cpus), knee, steps, tries, stalls, error_pct (|knee − capacity| / capacity × 100), …
import { Command, InvalidArgumentError, Option } from "commander";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import YAML from "yaml";
import { destroy, removeStack, up } from "../scripts/lib/pulumiStack.ts";
import { stackConfigFile, writeGeneratedStack } from "../scripts/lib/stackSettings.ts";
import { describeResidue, residueCount } from "../components/platform/platform.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { tipping, TIPPING_DEFAULTS } from "../scripts/lib/tippingRun.ts";
import { CAPACITY_SEARCH, lbKneeConfig, minCheckableCapacity, reachableKnee, syntheticBackend } from "../scripts/analysis/kneeSetups.ts";
import { DEFAULT_P99_FLOOR_MS } from "../scripts/analysis/tippingSearch.ts";
import { triesCount, formatTippingTable, lbCoresAt } from "../scripts/analysis/tippingTable.ts";
import { cpuListText } from "../scripts/analysis/cpuAttribution.ts";
import { onlineCpus } from "../components/platform/local/limits.ts";

interface Options {
    capacity?: number;
    lbCpus?: number;
    lbCpuQuota?: number;
    lbThreads?: number;
    mode: "plain" | "tls";
    start?: number;
    duration: number;
    maxSteps?: number;
    confirmTries: number;
    maxTries: number;
    p99FloorMs: number;
    stack: string;
    subnet: string;
    serviceMs: number;
    keep?: boolean;
}

/** The default capacity to check when neither --capacity nor --lb-cpus is given. */
const DEFAULT_CAPACITY = 240;
/** First step of an LB knee search: the ramp doubles from there (8 steps reach 25.6k/s). */
const LB_START = 200;

/** Client hosts: each step's rate is a whole number per client, so rates move in steps of this many requests/s. */
const CLIENTS = 2;

async function teardown(stack: string, file: string): Promise<number> {
    try {
        await destroy(stack);
    } catch (err) {
        process.stderr.write(`destroy failed: ${(err as Error).message}\n`);
    }
    await removeStack(stack).catch(() => undefined);
    const left = await reapLocal(stack);
    rmSync(file, { force: true });
    process.stderr.write(`${describeResidue(left)}\n`);
    return residueCount(left);
}

/** The lab and the search of one bench: a synthetic capacity, or the LB's own knee. */
function benchLab(o: Options) {
    if (o.capacity !== undefined && o.lbCpus !== undefined) {
        throw new Error("--capacity builds backends of that capacity, --lb-cpus searches HAProxy's own knee with unlimited backends: give one of them");
    }
    if (o.lbCpus === undefined && (o.lbCpuQuota !== undefined || o.lbThreads !== undefined)) {
        throw new Error("--lb-cpu-quota and --lb-threads shape the LB of an LB knee search: give --lb-cpus too");
    }
    if (o.lbCpus !== undefined) {
        const { layout, config } = lbKneeConfig(o.lbCpus, onlineCpus(), {
            subnet: o.subnet,
            frontend: o.mode,
            clients: CLIENTS,
            threads: o.lbThreads,
            cpuQuota: o.lbCpuQuota,
        });
        return {
            kind: "lb" as const,
            layout,
            capacity: undefined,
            start: o.start ?? LB_START,
            maxSteps: o.maxSteps,
            config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`c2m:${k}`, v])),
            describe:
                `LB knee: haproxy on CPU(s) ${cpuListText(layout.lbCpus)} with ${layout.threads} thread(s)` +
                `${layout.cpuQuota !== undefined ? `, CPU quota ${layout.cpuQuota} CPU` : ""}, clients/backend/metrics on CPU(s) ` +
                `${cpuListText(layout.otherCpus)}${layout.shared ? " (shared with the LB: this machine has no CPU left for them)" : ""}, pong unlimited, frontend ${o.mode}`,
        };
    }
    const capacity = o.capacity ?? DEFAULT_CAPACITY;
    const min = minCheckableCapacity(CLIENTS);
    if (!(capacity >= min))
        throw new Error(
            `--capacity ${capacity}: rates move in steps of ${CLIENTS}/s (one per client), so the smallest capacity checkable within ±10 % is ${min}/s`,
        );
    const pong = syntheticBackend(capacity, { serviceMs: o.serviceMs });
    return {
        kind: "capacity" as const,
        pong,
        capacity: pong.capacity,
        start: o.start ?? CAPACITY_SEARCH.startRate,
        maxSteps: o.maxSteps ?? CAPACITY_SEARCH.maxSteps,
        config: {
            // The metrics host gives each step's CPU per host: the knee is then attributed (backend queue, or a saturated host).
            "c2m:hosts": { haproxy: 1, backends: pong.backends, clients: CLIENTS, metrics: 1 },
            "c2m:backend": { serversPerHost: pong.serversPerHost, maxConcurrent: pong.maxConcurrent, serviceTimeMs: pong.serviceTimeMs },
            "c2m:local": { subnet: o.subnet },
            "c2m:attack": { preset: "smoke", frontends: [o.mode] },
        },
        describe: `${pong.servers} pong servers × maxConcurrent ${pong.maxConcurrent} / ${pong.serviceTimeMs} ms = capacity ${pong.capacity.toFixed(1)}/s, frontend ${o.mode}`,
    };
}

async function main(o: Options): Promise<void> {
    if (["local", "e2e", "scale"].includes(o.stack)) throw new Error(`stack ${o.stack} belongs to someone else; pick another --stack`);
    const file = stackConfigFile(o.stack); // generated: in the cache, never the checkout
    if (existsSync(file) && !readFileSync(file, "utf8").startsWith("# written by bench/tippingKnee")) {
        throw new Error(`${file} exists and was not written by bench/tippingKnee; pick another --stack`);
    }
    const bench = benchLab(o);
    const start = bench.start;
    process.stderr.write(
        `bench/tippingKnee: ${bench.describe}; search from ${start.toFixed(1)}/s; stack ${o.stack} on ${o.subnet}; load ${loadavg()[0].toFixed(2)}\n`,
    );
    let stopping = false;
    const onSignal = () => {
        stopping = true;
    };
    process.on("SIGINT", onSignal);
    try {
        await reapLocal(o.stack);
        writeGeneratedStack(o.stack, `# written by bench/tippingKnee; removed when it ends\n${YAML.stringify({ config: bench.config })}`);
        const t0 = Date.now();
        await up(o.stack);
        const upS = (Date.now() - t0) / 1000;
        const load0 = loadavg()[0];
        const run = await tipping({
            ...TIPPING_DEFAULTS,
            stack: o.stack,
            startRate: start,
            durationS: o.duration,
            frontend: o.mode,
            p99FloorMs: o.p99FloorMs,
            ...(bench.maxSteps !== undefined ? { maxSteps: bench.maxSteps } : {}),
            confirmTries: o.confirmTries,
            maxTries: Math.max(o.maxTries, o.confirmTries),
        });
        const r = run.result;
        console.log(formatTippingTable(r));
        const round = (x: number | undefined, d = 1) => (x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);
        const capacity = bench.capacity;
        const behind = r.steps.filter((s) => s.send?.some((c) => c.behind)).map((s) => s.step);
        const { tries, stalls } = triesCount(r.steps);
        console.log(
            JSON.stringify({
                capacity: round(capacity),
                knee: round(r.knee),
                steps: r.steps.length,
                tries,
                stalls,
                unconfirmed_steps: r.steps.filter((s) => s.unconfirmed).map((s) => s.step),
                error_pct: r.knee === undefined || capacity === undefined ? null : round((Math.abs(r.knee - capacity) / capacity) * 100, 2),
                last_good: round(r.lastGood),
                first_bad: round(r.firstBad),
                uncertainty_pct: round((r.uncertainty ?? NaN) * 100, 2),
                within_10pct: capacity === undefined ? null : r.knee !== undefined && Math.abs(r.knee - capacity) / capacity <= 0.1,
                bound: r.attribution?.bound ?? null,
                saturated_first: r.attribution?.saturatedFirst ?? null,
                steps_with_client_behind: behind,
                mode: o.mode,
                ...(bench.kind === "lb"
                    ? {
                          lb_cpus: bench.layout.lbCpus.length,
                          lb_cpu_list: cpuListText(bench.layout.lbCpus),
                          others_cpu_list: cpuListText(bench.layout.otherCpus),
                          shared_cpus: bench.layout.shared,
                          haproxy_threads: bench.layout.threads,
                          lb_cpu_quota: bench.layout.cpuQuota ?? null,
                          lb_cores_at_first_bad: lbCoresAt(r, r.firstBad),
                      }
                    : {}),
                baseline_p99_ms: round(r.baselineP99Ms),
                p99_floor_ms: o.p99FloorMs,
                converged: r.converged,
                stop: r.stopReason,
                start: round(start),
                step_s: o.duration,
                ...(bench.kind === "capacity"
                    ? { servers: bench.pong.servers, max_concurrent: bench.pong.maxConcurrent, service_time_ms: bench.pong.serviceTimeMs }
                    : {}),
                search_s: Math.round(run.elapsedS),
                up_s: Math.round(upS),
                load1_start: round(load0, 2),
                load1_end: round(loadavg()[0], 2),
                runs: run.dir,
            }),
        );
        if (r.knee === undefined) {
            process.stderr.write(`bench/tippingKnee: no knee found (${r.stopReason})\n`);
            process.exitCode = 1;
        } else if (capacity !== undefined && Math.abs(r.knee - capacity) / capacity > 0.1) {
            // Something else tipped first: on a shared machine, usually the CPU of the clients, HAProxy or pong.
            process.stderr.write(
                `bench/tippingKnee: the knee ${r.knee.toFixed(1)}/s is not within ±10 % of the backend's ${capacity.toFixed(1)}/s: ` +
                    `the lab tipped before its backend (${r.attribution ? `limited by ${r.attribution.bound}: ${r.attribution.note}` : "a capacity beyond what this lab can offer?"})\n`,
            );
            process.exitCode = 2;
        } else if (bench.kind === "lb") {
            process.stderr.write(
                `bench/tippingKnee: knee ${r.knee.toFixed(0)}/s with the LB on ${bench.layout.lbCpus.length} CPU(s), ${o.mode}: ` +
                    `${r.attribution ? `limited by ${r.attribution.bound}: ${r.attribution.note}` : "not attributed"}\n`,
            );
        }
    } finally {
        process.off("SIGINT", onSignal);
        if (!o.keep) {
            const left = await teardown(o.stack, file);
            if (left > 0 || stopping) process.exitCode = 1;
        }
    }
}

const positive = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!(n > 0 && Number.isFinite(n))) throw new InvalidArgumentError(`${flag} must be a positive number, got "${v}"`);
    return n;
};
const nonNegative = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && Number.isFinite(n) && v.trim() !== "")) throw new InvalidArgumentError(`${flag} must be a number ≥ 0, got "${v}"`);
    return n;
};
const wholeCount = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 1)) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1, got "${v}"`);
    return n;
};

new Command("bench:tipping")
    .option(
        "--capacity <n>",
        `backend capacity to build, requests/s (at least ${minCheckableCapacity(CLIENTS)}; default ${DEFAULT_CAPACITY} unless --lb-cpus)`,
        positive("--capacity"),
    )
    .option("--lb-cpus <n>", "instead: HAProxy's own knee, the LB host pinned to this many CPUs (pong unlimited)", wholeCount("--lb-cpus"))
    .option(
        "--lb-cpu-quota <cpus>",
        "with --lb-cpus: cap the LB host's CPU time at this many CPUs' worth (e.g. 0.1), its cgroup's CPU quota",
        positive("--lb-cpu-quota"),
    )
    .option("--lb-threads <n>", "with --lb-cpus: HAProxy threads (default: one per LB CPU)", wholeCount("--lb-threads"))
    .addOption(new Option("--mode <frontend>", "frontend the search loads").choices(["plain", "tls"]).default("plain"))
    .option(
        "--start <rate>",
        `first step's total rate (default ${CAPACITY_SEARCH.startRate}/s with --capacity, never derived from it; ${LB_START}/s with --lb-cpus)`,
        positive("--start"),
    )
    .option("--duration <s>", "seconds of load per step", positive("--duration"), 10)
    .option(
        "--max-steps <n>",
        `most steps (rates) of the search (default ${CAPACITY_SEARCH.maxSteps} with --capacity: knees up to ` +
            `${reachableKnee(CAPACITY_SEARCH)}/s from ${CAPACITY_SEARCH.startRate}/s; 8 with --lb-cpus); a step's tries are counted apart`,
        wholeCount("--max-steps"),
    )
    .option(
        "--confirm-tries <n>",
        "bad tries a step needs before it is believed bad (1: believe the first)",
        wholeCount("--confirm-tries"),
        TIPPING_DEFAULTS.confirmTries,
    )
    .option(
        "--max-tries <n>",
        "most tries of one step, machine stalls (the LB below its quota, nobody else saturated) retried within them",
        wholeCount("--max-tries"),
        TIPPING_DEFAULTS.maxTries,
    )
    .option(
        "--p99-floor-ms <ms>",
        "a step is bad only when its p99 is also above this (tail noise on a low baseline is no knee)",
        nonNegative("--p99-floor-ms"),
        DEFAULT_P99_FLOOR_MS,
    )
    .option("--service-ms <ms>", "pong service time to aim for (maxConcurrent follows)", positive("--service-ms"), 200)
    .option("--stack <name>", "its own stack (never local/e2e/scale)", "tipping")
    .option("--subnet <cidr>", "the stack's subnet inside 198.18.0.0/15", "198.18.61.0/24")
    .option("--keep", "leave the lab up afterwards")
    .addHelpText(
        "after",
        `
Examples:
  npm run bench:tipping -- --capacity 240                      the search finds a 240/s backend within ±10 %
  npm run bench:tipping -- --lb-cpus 1 --mode tls --duration 4 HAProxy's own TLS knee on one CPU
  npm run bench:tipping -- --lb-cpus 1 --lb-cpu-quota 0.1      HAProxy on a tenth of CPU 0, 1 thread
  npm run bench:tipping -- --lb-cpus 1 --lb-cpu-quota 0.2 --lb-threads 2   twice its CPU time, 2 threads`,
    )
    .action((o: Options) => main(o))
    .parseAsync(process.argv)
    .catch((err: Error) => {
        console.error(`bench:tipping: ${err.message}`);
        process.exit(1);
    });
