// bench/scale: ramps a local lab to N concurrent end-to-end connections (client ↔ HAProxy ↔
// pong) through the plain or the TLS frontend, holds them, and prints what was held, the
// errors, the ramp time and the memory each connection costs per part: each host's own cgroup
// (user, kernel and socket memory, CPU; components/platform/local/cgroups.ts), idle lab → middle
// of the hold. Errors: every planned request not answered successfully (unsent, failed, lost
// with a failed or uncollected vegeta process), HAProxy's errors, unreadable final statistics.
//   npm run bench:scale -- --mode plain|tls --conns N [--hold 60] [--rate R]
// The last line is one JSON object (mode, target, held, errors, lb_kb_per_conn, ramp_s, …).
import { Command, Option } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import YAML from "yaml";
import { REPO_ROOT } from "../scripts/toolchain/toolchain.ts";
import { outputs, teardownStack, up, type StackOutputs } from "../scripts/stack.ts";
import { residueCount } from "../components/platform/platform.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { attack, fetchStats, newRunId, type AttackResult } from "../scripts/attack.ts";
import { backendCounters, frontendCounters } from "../scripts/lib/haproxyStats.ts";
import { BACKEND_NAME, FRONTEND_NAMES } from "../components/render/haproxyConfig.ts";
import { HostHttp } from "../scripts/lib/hostHttp.ts";
import { localNames } from "../components/platform/local/scripts.ts";
import { readStackCgroups } from "../components/platform/local/cgroups.ts";
import { countErrors, perConnection, roleSum, type HostReadings } from "./figures.ts";

const STACK = "scale";
const stackFile = join(REPO_ROOT, `Pulumi.${STACK}.yaml`);

interface Options { mode: "plain" | "tls"; conns: number; hold: number; rate?: number }

const sh = (file: string, args: string[]) => spawnSync(file, args, { encoding: "utf8" }).stdout ?? "";

const CLIENTS = 2;

function writeStackConfig(o: Options, ratePerClient: number, rampS: number): void {
    const clients = CLIENTS;
    const holdMs = Math.ceil((rampS + o.hold + 20) * 1000);
    const config = {
        "c2m:hosts": { haproxy: 1, backends: 2, clients },
        "c2m:plan": { connections: o.conns, tlsShare: o.mode === "tls" ? 1 : 0 },
        "c2m:backend": { serversPerHost: 2 },
        "c2m:local": { subnet: "198.18.64.0/24" },
        "c2m:attack": {
            preset: "smoke", rate: ratePerClient, durationS: rampS, holdMs, sleepMs: 0, times: 0,
            timeoutS: Math.ceil(holdMs / 1000) + 120, frontends: [o.mode], workers: 100, connections: o.conns,
        },
    };
    writeFileSync(stackFile, `# written by bench/scale; removed when it ends\n${YAML.stringify({ config })}`);
}

/** TCP sockets in use in a namespace (/proc/net/sockstat's `inuse` is per network namespace; its `mem` is not). */
function sockstat(namespace: string): { inuse: number } {
    const text = sh("ip", ["netns", "exec", namespace, "cat", "/proc/net/sockstat"]);
    const tcp = /TCP: inuse (\d+)/.exec(text);
    return { inuse: Number(tcp?.[1] ?? 0) };
}

interface Sample {
    t: number; frontend: number; backend: number; clientSockets: number; lbSockets: number; backendSockets: number;
    held: number;
    /** Each host's own cgroup: memory (user, kernel, socket buffers) and CPU. */
    hosts: HostReadings;
}

function sample(out: StackOutputs, stats: Awaited<ReturnType<typeof fetchStats>>, mode: Options["mode"], t0: number): Sample {
    const names = localNames(STACK);
    const byRole = (role: string) => out.inventory.filter((h) => h.role === role).map((h) => sockstat(names.namespace(h.name)));
    const total = (xs: { inuse: number }[]) => xs.reduce((a, x) => a + x.inuse, 0);
    const clients = byRole("client");
    const lb = byRole("haproxy");
    const backends = byRole("backend");
    const frontend = frontendCounters(stats, FRONTEND_NAMES[mode])?.current ?? 0;
    const backend = backendCounters(stats, BACKEND_NAME)?.current ?? 0;
    const listeners = out.capacityPlan.backend.servers;
    return {
        t: (Date.now() - t0) / 1000, frontend, backend,
        clientSockets: total(clients), lbSockets: total(lb), backendSockets: total(backends),
        // End to end: a connection counts when it is open on all three sides.
        held: Math.min(frontend, backend, total(clients), Math.max(0, total(backends) - listeners)),
        hosts: readStackCgroups(STACK, out.inventory),
    };
}

async function main(o: Options): Promise<void> {
    // Full TLS handshakes on two cores shared by client, HAProxy and backend are the limit.
    const ratePerClient = Math.ceil((o.rate ?? (o.mode === "tls" ? 500 : 2000)) / CLIENTS);
    const rate = ratePerClient * CLIENTS;
    // Exactly the target: vegeta sends rate × duration requests, each held open by pong.
    const rampS = o.conns / rate;
    let stopping = false;
    const onSignal = () => { stopping = true; process.stderr.write("\ninterrupted: stopping and tearing down\n"); };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const runId = `scale-${newRunId(STACK)}`;
    const dir = join(REPO_ROOT, "runs", runId);
    mkdirSync(dir, { recursive: true });
    const samples: Sample[] = [];
    let result: AttackResult | undefined;
    let rampDone = Number.NaN;
    let http: HostHttp | undefined;
    try {
        await reapLocal(STACK);
        writeStackConfig(o, ratePerClient, rampS);
        await up(STACK);
        const out = await outputs(STACK);
        http = HostHttp.open(out); // HAProxy's statistics are read on the LB, over SSH
        const t0 = Date.now();
        const baseline = sample(out, await fetchStats(http, out.vips.stats), o.mode, t0);
        const attackDone = attack(STACK, {}, join(REPO_ROOT, "runs")).then((r) => { result = r; });
        const holdEnd = () => (Number.isNaN(rampDone) ? Infinity : rampDone + o.hold);
        while (!stopping) {
            await new Promise((r) => setTimeout(r, 1000));
            const s = sample(out, await fetchStats(http, out.vips.stats).catch(() => []), o.mode, t0);
            samples.push(s);
            // Ramp over: (nearly) all there, or the attack's ramp has ended and nothing grows any more.
            const recent = samples.slice(-4).map((x) => x.held);
            const flat = recent.length === 4 && Math.max(...recent) - Math.min(...recent) <= o.conns * 0.001;
            if (Number.isNaN(rampDone) && (s.held >= o.conns * 0.995 || (s.t > rampS + 3 && flat) || s.t > rampS * 2 + 60)) rampDone = s.t;
            process.stderr.write(`scale: t=${s.t.toFixed(0)}s held ${s.held} (frontend ${s.frontend}, backend ${s.backend}, ` +
                `sockets client/lb/backend ${s.clientSockets}/${s.lbSockets}/${s.backendSockets})${Number.isNaN(rampDone) ? " ramping" : " holding"}\n`);
            if (s.t >= holdEnd()) break;
        }
        const hold = samples.filter((s) => s.t >= rampDone && s.t <= holdEnd());
        const held = hold.length ? Math.min(...hold.map((s) => s.held)) : 0;
        const mid = hold[Math.floor(hold.length / 2)] ?? samples.at(-1)!;
        process.stderr.write("waiting for the held requests to complete…\n");
        await attackDone.catch((err: Error) => { process.stderr.write(`attack failed: ${err.message}\n`); });
        // Unreadable final statistics are not "0 errors": countErrors counts them.
        const stats = await fetchStats(http, out.vips.stats).catch((err: Error) => {
            process.stderr.write(`final HAProxy statistics unreadable: ${err.message}\n`);
            return undefined;
        });
        const backendStats = stats && backendCounters(stats, BACKEND_NAME);
        const frontendStats = stats && frontendCounters(stats, FRONTEND_NAMES[o.mode]);
        const haproxyErrors = stats && frontendStats && backendStats
            ? frontendStats.requestErrors + backendStats.connectionErrors + backendStats.responseErrors : undefined;
        // What vegeta was told to send: rate × duration on every client.
        const planned = Math.round(ratePerClient * rampS) * CLIENTS;
        const count = countErrors(planned, result, haproxyErrors);

        // Memory per connection, by part: each host's own cgroup, idle lab → middle of the hold.
        const figures = perConnection(baseline.hosts, mid.hosts, mid.held);
        const report = {
            mode: o.mode, target: o.conns, held, errors: count.errors, ramp_s: Math.round(rampDone),
            // An interrupted run's figures describe only what happened before Ctrl-C.
            interrupted: stopping,
            ...figures,
            // Whole lab: every host's cgroup (user + kernel + socket memory).
            mem_used_gb: Math.round(((["haproxy", "client", "backend"] as const)
                .reduce((sum, role) => sum + roleSum(mid.hosts, role, (x) => x.memoryBytes) - roleSum(baseline.hosts, role, (x) => x.memoryBytes), 0) / 1024 ** 3) * 100) / 100,
            haproxy_processes: out.inventory.length ? out.vips.stats.length : 0,
            source_addresses_per_client: out.inventory.find((h) => h.role === "client")?.sourceAddresses.length ?? 0,
            rate, hold_s: o.hold, requests: count.requests, planned_requests: count.planned, error_causes: count.causes,
            p50_ms: result?.summary ? Math.round(result.summary.latencies["50th"] / 1e6) : null,
            attack_run: result?.runId ?? null,
        };
        writeFileSync(join(dir, "samples.json"), JSON.stringify(samples, null, 1));
        writeFileSync(join(dir, "scale.json"), JSON.stringify(report, null, 2));
        printTable(report);
        console.log(JSON.stringify(report));
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        http?.close();
        const left = await teardownStack(STACK, stackFile);
        if (residueCount(left) > 0 || stopping) process.exitCode = 1;
    }
}

function printTable(r: Record<string, unknown>): void {
    const rows = Object.entries(r).map(([k, v]) => `${k.padEnd(28)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`);
    console.log(["bench/scale", ...rows].join("\n"));
}

new Command("bench:scale")
    .addOption(new Option("--mode <mode>", "frontend").choices(["plain", "tls"]).default("plain"))
    .requiredOption("--conns <n>", "concurrent end-to-end connections to reach", (v) => Number(v))
    .option("--hold <s>", "seconds to hold them", (v) => Number(v), 60)
    .option("--rate <r>", "new connections per second during the ramp (all clients)", (v) => Number(v))
    .action((o: Options) => main(o))
    .parseAsync(process.argv)
    .catch((err: Error) => { console.error(`bench:scale: ${err.message}`); process.exit(1); });
