// bench/scale: ramps a local lab to N concurrent end-to-end connections (client ↔ HAProxy ↔
// pong) through the plain or the TLS frontend, holds them, and prints what was held, the
// errors, the ramp time and the memory each connection costs per part.
//   npm run bench:scale -- --mode plain|tls --conns N [--hold 60] [--rate R]
// The last line is one JSON object (mode, target, held, errors, lb_kb_per_conn, ramp_s, …).
import { Command, Option } from "commander";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import YAML from "yaml";
import { REPO_ROOT } from "../scripts/toolchain/toolchain.ts";
import { outputs, teardownStack, up, type StackOutputs } from "../scripts/stack.ts";
import { residueCount } from "../components/platform/platform.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { attack, fetchStats, newRunId, type AttackResult } from "../scripts/attack.ts";
import { backendCounters, frontendCounters } from "../scripts/lib/haproxyStats.ts";
import { FRONTEND_NAMES } from "../components/render/haproxyConfig.ts";
import { HostHttp } from "../scripts/lib/hostHttp.ts";
import { localNames } from "../components/platform/local/scripts.ts";

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

/** TCP sockets in use in a namespace (/proc/net/sockstat is per network namespace). */
function sockstat(namespace: string): { inuse: number; memPages: number } {
    const text = sh("ip", ["netns", "exec", namespace, "cat", "/proc/net/sockstat"]);
    const tcp = /TCP: inuse (\d+) orphan \d+ tw \d+ alloc \d+ mem (\d+)/.exec(text);
    return { inuse: Number(tcp?.[1] ?? 0), memPages: Number(tcp?.[2] ?? 0) };
}

function meminfo(): Record<string, number> {
    return Object.fromEntries(readFileSync("/proc/meminfo", "utf8").split("\n").filter(Boolean)
        .map((l) => { const [k, v] = l.split(/:\s+/); return [k, Number.parseInt(v, 10) * 1024]; }));
}

/** Resident memory of the processes whose command line matches `pattern`. */
function rssBytes(pattern: string): number {
    return sh("pgrep", ["-f", pattern]).split("\n").filter(Boolean).reduce((sum, pid) => {
        try {
            const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
            return sum + Number(kb ?? 0) * 1024;
        } catch { return sum; }
    }, 0);
}

interface Sample {
    t: number; frontend: number; backend: number; clientSockets: number; lbSockets: number; backendSockets: number;
    held: number; memAvailable: number; slab: number; tcpMemPages: number;
    rss: { haproxy: number; vegeta: number; pong: number };
}

function sample(out: StackOutputs, stats: Awaited<ReturnType<typeof fetchStats>>, mode: Options["mode"], t0: number): Sample {
    const names = localNames(STACK);
    const byRole = (role: string) => out.inventory.filter((h) => h.role === role).map((h) => sockstat(names.namespace(h.name)));
    const total = (xs: { inuse: number }[]) => xs.reduce((a, x) => a + x.inuse, 0);
    const clients = byRole("client");
    const lb = byRole("haproxy");
    const backends = byRole("backend");
    const frontend = frontendCounters(stats, FRONTEND_NAMES[mode])?.current ?? 0;
    const backend = backendCounters(stats, "pong")?.current ?? 0;
    const listeners = out.capacityPlan.backend.servers;
    const mem = meminfo();
    return {
        t: (Date.now() - t0) / 1000, frontend, backend,
        clientSockets: total(clients), lbSockets: total(lb), backendSockets: total(backends),
        // End to end: a connection counts when it is open on all three sides.
        held: Math.min(frontend, backend, total(clients), Math.max(0, total(backends) - listeners)),
        memAvailable: mem.MemAvailable, slab: mem.Slab,
        tcpMemPages: [...clients, ...lb, ...backends].reduce((a, x) => a + x.memPages, 0),
        rss: {
            haproxy: rssBytes(`haproxy -D -f ${names.runDir}/`),
            vegeta: rssBytes(`vegeta attack .*${names.runDir}/`),
            pong: rssBytes(`${names.runDir}/backend-.*/pong.ts`),
        },
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
        await attackDone;
        const stats = await fetchStats(http, out.vips.stats).catch(() => []);
        const backendStats = backendCounters(stats, "pong");
        const vegetaErrors = result ? Math.round((result.summary?.requests ?? 0) * (1 - (result.summary?.success ?? 0))) : o.conns;
        const errors = vegetaErrors + (frontendCounters(stats, FRONTEND_NAMES[o.mode])?.requestErrors ?? 0)
            + (backendStats?.connectionErrors ?? 0) + (backendStats?.responseErrors ?? 0);

        // Memory per connection, by part (deltas from the idle lab, at the middle of the hold).
        const n = Math.max(1, mid.held);
        const sockets = Math.max(1, mid.clientSockets + mid.lbSockets + mid.backendSockets
            - (baseline.clientSockets + baseline.lbSockets + baseline.backendSockets));
        const kernelBytes = (mid.slab - baseline.slab) + (mid.tcpMemPages - baseline.tcpMemPages) * 4096;
        const kb = (bytes: number) => Math.round((bytes / n / 1024) * 10) / 10;
        const kernelPerSocketKb = Math.round((kernelBytes / sockets / 1024) * 10) / 10;
        const haproxyKb = kb(mid.rss.haproxy - baseline.rss.haproxy);
        const report = {
            mode: o.mode, target: o.conns, held, errors, ramp_s: Math.round(rampDone),
            // An interrupted run's figures describe only what happened before Ctrl-C.
            interrupted: stopping,
            lb_kb_per_conn: Math.round((2 * kernelPerSocketKb + haproxyKb) * 10) / 10,
            kernel_kb_per_socket: kernelPerSocketKb,
            haproxy_kb_per_conn: haproxyKb,
            vegeta_kb_per_conn: kb(mid.rss.vegeta - baseline.rss.vegeta),
            backend_kb_per_conn: kb(mid.rss.pong - baseline.rss.pong),
            mem_used_gb: Math.round(((baseline.memAvailable - mid.memAvailable) / 1024 ** 3) * 100) / 100,
            haproxy_processes: out.inventory.length ? out.vips.stats.length : 0,
            source_addresses_per_client: out.inventory.find((h) => h.role === "client")?.sourceAddresses.length ?? 0,
            rate, hold_s: o.hold, requests: result?.summary?.requests ?? 0,
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
    const rows = Object.entries(r).map(([k, v]) => `${k.padEnd(28)} ${v}`);
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
