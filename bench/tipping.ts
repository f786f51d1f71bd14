// bench/tipping: builds a local lab whose backends have a known capacity (pong
// --max-concurrent with a fixed --service-time-ms: capacity = servers × maxConcurrent × 1000 /
// serviceTimeMs, all three derived from the capacity asked for), runs `lab tipping` on it from a
// tenth of that capacity (the search never sees it), tears the lab down, and prints how far the
// knee it found is from the capacity. Exits 1 when the search found no knee, 2 when its knee is
// not within ±10 % of the capacity (the lab itself tipped first: more than it can offer).
//   npm run bench:tipping -- [--capacity 240] [--start N] [--duration 10] [--stack tipping] [--subnet …]
// The last line is one JSON object: capacity, knee, steps, error_pct (|knee − capacity| / capacity × 100), …
import { Command } from "commander";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { REPO_ROOT } from "../scripts/toolchain/toolchain.ts";
import { destroy, removeStack, up } from "../scripts/stack.ts";
import { describeResidue, residueCount } from "../components/platform/platform.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { tipping, TIPPING_DEFAULTS } from "../scripts/tipping.ts";
import { formatTippingTable, minCheckableCapacity, startRateFor, syntheticBackend } from "../scripts/analysis/tipping.ts";

interface Options { capacity: number; start?: number; duration: number; stack: string; subnet: string; serviceMs: number; keep?: boolean }

/** Client hosts: each step's rate is a whole number per client, so rates move in steps of this many requests/s. */
const CLIENTS = 2;

async function teardown(stack: string, file: string): Promise<number> {
    try { await destroy(stack); } catch (err) { process.stderr.write(`destroy failed: ${(err as Error).message}\n`); }
    await removeStack(stack).catch(() => undefined);
    const left = await reapLocal(stack);
    rmSync(file, { force: true });
    process.stderr.write(`${describeResidue(left)}\n`);
    return residueCount(left);
}

async function main(o: Options): Promise<void> {
    if (["local", "e2e", "scale"].includes(o.stack)) throw new Error(`stack ${o.stack} belongs to someone else; pick another --stack`);
    const file = join(REPO_ROOT, `Pulumi.${o.stack}.yaml`);
    if (existsSync(file) && !readFileSync(file, "utf8").startsWith("# written by bench/tipping")) {
        throw new Error(`${file} exists and was not written by bench/tipping; pick another --stack`);
    }
    const min = minCheckableCapacity(CLIENTS);
    if (!(o.capacity >= min)) throw new Error(`--capacity ${o.capacity}: rates move in steps of ${CLIENTS}/s (one per client), so the smallest capacity checkable within ±10 % is ${min}/s`);
    const pong = syntheticBackend(o.capacity, { serviceMs: o.serviceMs });
    const start = o.start ?? startRateFor(pong.capacity, CLIENTS);
    const config = {
        // The metrics host gives each step's CPU per host: the knee is then attributed (backend queue, or a saturated host).
        "c2m:hosts": { haproxy: 1, backends: pong.backends, clients: CLIENTS, metrics: 1 },
        "c2m:backend": { serversPerHost: pong.serversPerHost, maxConcurrent: pong.maxConcurrent, serviceTimeMs: pong.serviceTimeMs },
        "c2m:local": { subnet: o.subnet },
        "c2m:attack": { preset: "smoke", frontends: ["plain"] },
    };
    process.stderr.write(`bench/tipping: ${pong.servers} pong servers × maxConcurrent ${pong.maxConcurrent} / ${pong.serviceTimeMs} ms ` +
        `= capacity ${pong.capacity.toFixed(1)}/s; search from ${start.toFixed(1)}/s; stack ${o.stack} on ${o.subnet}; load ${loadavg()[0].toFixed(2)}\n`);
    let stopping = false;
    const onSignal = () => { stopping = true; };
    process.on("SIGINT", onSignal);
    try {
        await reapLocal(o.stack);
        writeFileSync(file, `# written by bench/tipping; removed when it ends\n${YAML.stringify({ config })}`);
        const t0 = Date.now();
        await up(o.stack);
        const upS = (Date.now() - t0) / 1000;
        const load0 = loadavg()[0];
        const run = await tipping({ ...TIPPING_DEFAULTS, stack: o.stack, startRate: start, durationS: o.duration });
        const r = run.result;
        console.log(formatTippingTable(r));
        const round = (x: number | undefined, d = 1) => (x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);
        console.log(JSON.stringify({
            capacity: round(pong.capacity), knee: round(r.knee), steps: r.steps.length,
            error_pct: r.knee === undefined ? null : round((Math.abs(r.knee - pong.capacity) / pong.capacity) * 100, 2),
            last_good: round(r.lastGood), first_bad: round(r.firstBad), uncertainty_pct: round((r.uncertainty ?? NaN) * 100, 2),
            within_10pct: r.knee !== undefined && Math.abs(r.knee - pong.capacity) / pong.capacity <= 0.1,
            bound: r.attribution?.bound ?? null, saturated_first: r.attribution?.saturatedFirst ?? null,
            baseline_p99_ms: round(r.baselineP99Ms), converged: r.converged, stop: r.stopReason, start: round(start), step_s: o.duration,
            servers: pong.servers, max_concurrent: pong.maxConcurrent, service_time_ms: pong.serviceTimeMs,
            search_s: Math.round(run.elapsedS), up_s: Math.round(upS), load1_start: round(load0, 2), load1_end: round(loadavg()[0], 2), runs: run.dir,
        }));
        if (r.knee === undefined) {
            process.stderr.write(`bench/tipping: no knee found (${r.stopReason})\n`);
            process.exitCode = 1;
        } else if (Math.abs(r.knee - pong.capacity) / pong.capacity > 0.1) {
            // Something else tipped first: on a shared machine, usually the CPU of the clients, HAProxy or pong.
            process.stderr.write(`bench/tipping: the knee ${r.knee.toFixed(1)}/s is not within ±10 % of the backend's ${pong.capacity.toFixed(1)}/s: ` +
                `the lab tipped before its backend (${r.attribution ? `limited by ${r.attribution.bound}: ${r.attribution.note}` : "a capacity beyond what this lab can offer?"})\n`);
            process.exitCode = 2;
        }
    } finally {
        process.off("SIGINT", onSignal);
        if (!o.keep) {
            const left = await teardown(o.stack, file);
            if (left > 0 || stopping) process.exitCode = 1;
        }
    }
}

new Command("bench:tipping")
    .option("--capacity <n>", `backend capacity to build, requests/s (at least ${minCheckableCapacity(CLIENTS)})`, Number, 240)
    .option("--start <rate>", "first step's total rate (default: a tenth of the capacity; ≤ 8 steps when the knee is under 16× this)", Number)
    .option("--duration <s>", "seconds of load per step", Number, 10)
    .option("--service-ms <ms>", "pong service time to aim for (maxConcurrent follows)", Number, 200)
    .option("--stack <name>", "its own stack (never local/e2e/scale)", "tipping")
    .option("--subnet <cidr>", "the stack's subnet inside 198.18.0.0/15", "198.18.61.0/24")
    .option("--keep", "leave the lab up afterwards")
    .action((o: Options) => main(o))
    .parseAsync(process.argv)
    .catch((err: Error) => { console.error(`bench:tipping: ${err.message}`); process.exit(1); });
