// bench/tipping: builds a local lab whose backends have a known capacity (pong
// --max-concurrent with a fixed --service-time-ms: capacity = servers × maxConcurrent × 1000 /
// serviceTimeMs), runs `lab tipping` on it, tears it down, and prints how far the knee it
// found is from that capacity.
//   npm run bench:tipping -- [--capacity 240] [--start 20] [--duration 10] [--stack tipping]
// The last line is one JSON object: capacity, knee, steps, error_pct (|knee − capacity| / capacity × 100), …
import { Command } from "commander";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { REPO_ROOT } from "../scripts/toolchain/toolchain.ts";
import { destroy, removeStack, up } from "../scripts/stack.ts";
import { describeResidue, residueCount } from "../components/platform/platform.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { tipping, TIPPING_DEFAULTS } from "../scripts/tipping.ts";
import { formatTippingTable } from "../scripts/analysis/tipping.ts";

interface Options { capacity: number; start: number; duration: number; stack: string; subnet: string; serviceMs: number; keep?: boolean }

const HOSTS = { haproxy: 1, backends: 2, clients: 2 };
const SERVERS_PER_HOST = 4;

/** Whole-number pong settings whose capacity is as close to the wanted one as ms allow. */
function capacitySettings(capacity: number, servers: number, serviceMs: number) {
    const maxConcurrent = Math.max(1, Math.round((capacity * serviceMs) / (servers * 1000)));
    const serviceTimeMs = Math.max(1, Math.round((servers * maxConcurrent * 1000) / capacity));
    return { maxConcurrent, serviceTimeMs, capacity: (servers * maxConcurrent * 1000) / serviceTimeMs };
}

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
    const servers = HOSTS.backends * SERVERS_PER_HOST;
    const pong = capacitySettings(o.capacity, servers, o.serviceMs);
    const config = {
        "c2m:hosts": HOSTS,
        "c2m:backend": { serversPerHost: SERVERS_PER_HOST, maxConcurrent: pong.maxConcurrent, serviceTimeMs: pong.serviceTimeMs },
        "c2m:local": { subnet: o.subnet },
        "c2m:attack": { preset: "smoke", frontends: ["plain"] },
    };
    process.stderr.write(`bench/tipping: ${servers} pong servers × maxConcurrent ${pong.maxConcurrent} / ${pong.serviceTimeMs} ms ` +
        `= capacity ${pong.capacity.toFixed(1)}/s; stack ${o.stack} on ${o.subnet}\n`);
    let stopping = false;
    const onSignal = () => { stopping = true; };
    process.on("SIGINT", onSignal);
    try {
        await reapLocal(o.stack);
        writeFileSync(file, `# written by bench/tipping; removed when it ends\n${YAML.stringify({ config })}`);
        const t0 = Date.now();
        await up(o.stack);
        const upS = (Date.now() - t0) / 1000;
        const run = await tipping({ ...TIPPING_DEFAULTS, stack: o.stack, startRate: o.start, durationS: o.duration });
        const r = run.result;
        console.log(formatTippingTable(r));
        const round = (x: number | undefined, d = 1) => (x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);
        console.log(JSON.stringify({
            capacity: round(pong.capacity), knee: round(r.knee), steps: r.steps.length,
            error_pct: r.knee === undefined ? null : round((Math.abs(r.knee - pong.capacity) / pong.capacity) * 100, 2),
            last_good: round(r.lastGood), first_bad: round(r.firstBad), uncertainty_pct: round((r.uncertainty ?? NaN) * 100, 2),
            baseline_p99_ms: round(r.baselineP99Ms), converged: r.converged, start: o.start, step_s: o.duration,
            servers, max_concurrent: pong.maxConcurrent, service_time_ms: pong.serviceTimeMs,
            search_s: Math.round(run.elapsedS), up_s: Math.round(upS), runs: run.dir,
        }));
    } finally {
        process.off("SIGINT", onSignal);
        if (!o.keep) {
            const left = await teardown(o.stack, file);
            if (left > 0 || stopping) process.exitCode = 1;
        }
    }
}

new Command("bench:tipping")
    .option("--capacity <n>", "backend capacity to build, requests/s", Number, 240)
    .option("--start <rate>", "first step's total rate (≤ 8 steps when the knee is under 16× this)", Number, 20)
    .option("--duration <s>", "seconds of load per step", Number, 10)
    .option("--service-ms <ms>", "pong service time to aim for (maxConcurrent follows)", Number, 200)
    .option("--stack <name>", "its own stack (never local/e2e/scale)", "tipping")
    .option("--subnet <cidr>", "the stack's subnet inside 198.18.0.0/15", "198.18.61.0/24")
    .option("--keep", "leave the lab up afterwards")
    .action((o: Options) => main(o))
    .parseAsync(process.argv)
    .catch((err: Error) => { console.error(`bench:tipping: ${err.message}`); process.exit(1); });
