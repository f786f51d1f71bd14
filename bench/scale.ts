// bench/scale: ramps a local lab to N concurrent end-to-end connections (client ↔ HAProxy ↔
// pong) through the plain or the TLS frontend, holds them, and prints what was held, the
// errors, the ramp time and the memory each connection costs per part: each host's own cgroup
// (user, kernel and socket memory, CPU; components/platform/local/cgroups.ts), idle lab → middle
// of the hold. Errors: every planned request not answered successfully (unsent, failed, lost
// with a failed or uncollected vegeta process), HAProxy's errors, unreadable final statistics.
// pong holds every request until the bench releases it (POST /release on each pong server), so
// the hold window starts when the target is actually reached, however long the ramp took; the
// `hold` header is only the cap if the bench dies. vegeta stops at its duration whether or not it
// kept up: once what it sent has landed, top-ups send the connections still missing at 80 % of the
// rate the machine achieved (at most 3). A ramp that stops growing ends short, and the verdict
// names what limited it: the CPU of
// clients, LB, backends or the machine's other work (each host's cgroup, /proc/stat), or a
// host's accept queue (ListenDrops in its namespace) — bench/ramp.ts, pure.
//   npm run bench:scale -- --mode plain|tls --conns N [--hold 60] [--rate R]
// The last line is one JSON object (mode, target, held, errors, ramp_s, verdict, limit, …).
// Exit status: 0 when the target was held with 0 errors, 2 when not (the verdict says why),
// 1 when interrupted or something was left behind.
import { Command, Option } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { REPO_ROOT, runsRoot } from "../scripts/toolchain/toolchain.ts";
import { outputs, teardownStack, up, type StackOutputs } from "../scripts/stack.ts";
import { residueCount } from "../components/platform/platform.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { attack, newRunId, type AttackResult } from "../scripts/attack.ts";
import { backendCounters, frontendCounters } from "../scripts/lib/haproxyStats.ts";
import { BACKEND_NAME, FRONTEND_NAMES } from "../components/render/haproxyConfig.ts";
import { localNames } from "../components/platform/local/scripts.ts";
import { readStackCgroups } from "../components/platform/local/cgroups.ts";
import { pongPorts } from "../components/render/backendScripts.ts";
import { countErrors, perConnection, roleSum, type HostReadings } from "./figures.ts";
import { cpuBetween, heldText, parseListenDrops, parseProcStat, parseStatsBatch, rampState, statsBatchCommand, topUp, verdict,
    type RampPlan, type RampPoint, type RampState, type Sending } from "./ramp.ts";
import { parseStatsCsv, type StatsRow } from "../scripts/lib/haproxyStats.ts";

const STACK = "scale";
const stackFile = join(REPO_ROOT, `Pulumi.${STACK}.yaml`);

interface Options { mode: "plain" | "tls"; conns: number; hold: number; rate?: number }

const sh = (file: string, args: string[]) => spawnSync(file, args, { encoding: "utf8" }).stdout ?? "";

/** Runs a command without blocking the event loop; killed at `timeoutMs`. */
function run(file: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve) => {
        const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        child.stdout.on("data", (d) => { stdout += d; });
        child.stderr.on("data", (d) => { stderr += d; });
        const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, timeoutMs);
        child.on("error", (err) => { clearTimeout(timer); resolve({ code: 127, stdout, stderr: err.message, timedOut }); });
        child.on("close", (code) => { clearTimeout(timer); resolve({ code: code ?? 137, stdout, stderr, timedOut }); });
    });
}

const CLIENTS = 2;
/** No growth for this long while vegeta sends: stalled. */
const STALL_S = 20;
/** No growth for this long once vegeta's sending is over: what it sent has landed. */
const SETTLE_S = 5;
/** Attacks after the first for connections still missing (vegeta stops at its duration, behind its rate or not). */
const MAX_TOP_UPS = 3;
/** After the release, how long the attacks get to collect their results before the bench reports and tears down. */
const ATTACK_WAIT_MS = 8 * 60_000;

/** When the ramp is over whatever happens: vegeta on a loaded machine falls behind, give it twice its time and a minute. */
const deadlineFor = (rampS: number) => 2 * rampS + 60;

function writeStackConfig(o: Options, ratePerClient: number, rampS: number): void {
    const clients = CLIENTS;
    // pong holds until released; this is only the cap if the bench dies: the latest release plus a minute.
    const holdMs = Math.ceil((deadlineFor(rampS) + o.hold + 60) * 1000);
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

/** A namespace's TCP sockets in use (/proc/net/sockstat's `inuse` is per network namespace) and its accept-queue drops. */
function netCounters(namespace: string): { inuse: number; listenDrops: number } {
    const text = sh("ip", ["netns", "exec", namespace, "cat", "/proc/net/sockstat", "/proc/net/netstat"]);
    const tcp = /TCP: inuse (\d+)/.exec(text);
    if (!tcp) throw new Error(`namespace ${namespace}: /proc/net/sockstat unreadable`);
    return { inuse: Number(tcp[1]), listenDrops: parseListenDrops(text) };
}

interface Sample {
    t: number;
    /** HAProxy's current sessions; undefined when its statistics could not be read. */
    frontend?: number; backend?: number;
    clientSockets: number; lbSockets: number; backendSockets: number;
    /**
     * End to end. When HAProxy's statistics could not be read (a process at its maxconn does not
     * serve its page either), from the sockets alone, above the idle lab's: client, LB / 2, backend.
     */
    held?: number;
    heldFrom: "stats" | "sockets";
    statsError?: string;
    /** Each host's own cgroup: memory (user, kernel, socket buffers) and CPU. */
    hosts: HostReadings;
    point: RampPoint;
}

type Stats = StatsRow[];

function sample(out: StackOutputs, stats: Stats | Error, mode: Options["mode"], t0: number, idle?: Sample): Sample {
    const names = localNames(STACK);
    const net = Object.fromEntries(out.inventory.filter((h) => h.role !== "metrics").map((h) => [h.name, netCounters(names.namespace(h.name))]));
    const total = (role: string) => out.inventory.filter((h) => h.role === role).reduce((a, h) => a + (net[h.name]?.inuse ?? 0), 0);
    const hosts = readStackCgroups(STACK, out.inventory);
    const machine = parseProcStat(readFileSync("/proc/stat", "utf8"));
    const t = (Date.now() - t0) / 1000;
    const clientSockets = total("client");
    const backendSockets = total("backend");
    const listeners = out.capacityPlan.backend.servers;
    let frontend: number | undefined;
    let backend: number | undefined;
    let held: number | undefined;
    if (!(stats instanceof Error)) {
        frontend = frontendCounters(stats, FRONTEND_NAMES[mode])?.current ?? 0;
        backend = backendCounters(stats, BACKEND_NAME)?.current ?? 0;
        // End to end: a connection counts when it is open on all three sides.
        held = Math.min(frontend, backend, clientSockets, Math.max(0, backendSockets - listeners));
    } else if (idle) {
        held = Math.max(0, Math.min(clientSockets - idle.clientSockets, Math.floor((total("haproxy") - idle.lbSockets) / 2), backendSockets - idle.backendSockets));
    }
    const point: RampPoint = {
        t, held, machineBusyNs: machine.busyNs, cpus: machine.cpus,
        hosts: Object.fromEntries(Object.entries(hosts).map(([name, h]) => [name, { role: h.role, cpuNs: h.reading.cpuNs, listenDrops: net[name]?.listenDrops ?? 0 }])),
    };
    return {
        t, frontend, backend, clientSockets, lbSockets: total("haproxy"), backendSockets, held,
        heldFrom: stats instanceof Error ? "sockets" : "stats", statsError: stats instanceof Error ? stats.message : undefined, hosts, point,
    };
}

/**
 * POST /release to every pong server, from its own host's namespace (as the statistics are read: at
 * load 100 SSH logins timed out during banner exchange): the requests released, and the servers that did not answer.
 */
async function releaseAll(out: StackOutputs): Promise<{ released: number; failed: string[] }> {
    const ports = pongPorts(out.labConfig.backend.basePort, out.capacityPlan.backend.serversPerHost);
    const names = localNames(STACK);
    const targets = out.inventory.filter((h) => h.role === "backend")
        .flatMap((h) => ports.map((p) => ({ namespace: names.namespace(h.name), url: `http://${h.address}:${p}/release` })));
    let released = 0;
    const failed: string[] = [];
    await Promise.all(targets.map(async ({ namespace, url }) => {
        const r = await run("ip", ["netns", "exec", namespace, "curl", "-sS", "-X", "POST", "--connect-timeout", "5", "--max-time", "15", url], 20_000);
        const n = /released (\d+)/.exec(r.stdout);
        if (r.code === 0 && n) released += Number(n[1]);
        else failed.push(`${url}: ${r.timedOut ? "no answer within 20 s" : `curl exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 120)}`}`);
    }));
    return { released, failed };
}

function progress(s: Sample, prev: Sample | undefined, state: RampState, unreadInARow: number, target: number): string {
    const cpu = prev ? cpuBetween(prev.point, s.point) : undefined;
    const cpuText = cpu ? `, CPU ${Math.round(cpu.busyShare * 100)} % of ${cpu.cpus} (client ${cpu.roles.client ?? 0}, ` +
        `lb ${cpu.roles.haproxy ?? 0}, backend ${cpu.roles.backend ?? 0}, outside the lab ${cpu.outside})` : "";
    const phase = state.phase === "ramping" ? "ramping" : state.phase === "reached" ? "holding" : `holding what the ramp reached (${state.why})`;
    const counters = s.heldFrom === "sockets" ? "" : ` (frontend ${s.frontend}, backend ${s.backend})`;
    const heldShown = s.heldFrom === "stats" ? String(s.held) : `${s.held} from sockets, ${heldText(undefined, s.statsError, unreadInARow)}`;
    return `scale: t=${s.t.toFixed(0)}s held ${heldShown} of ${target}${counters}, ` +
        `sockets client/lb/backend ${s.clientSockets}/${s.lbSockets}/${s.backendSockets}${cpuText}, ${phase}\n`;
}

async function main(o: Options): Promise<void> {
    if (!Number.isInteger(o.conns) || o.conns < 1) throw new Error(`--conns must be a whole number ≥ 1, got ${o.conns}`);
    if (!Number.isFinite(o.hold) || o.hold < 1) throw new Error(`--hold must be ≥ 1 s, got ${o.hold}`);
    if (o.rate !== undefined && !(Number.isFinite(o.rate) && o.rate >= 1)) throw new Error(`--rate must be ≥ 1/s, got ${o.rate}`);
    // Full TLS handshakes on two cores shared by client, HAProxy and backend are the limit.
    const ratePerClient = Math.ceil((o.rate ?? (o.mode === "tls" ? 500 : 2000)) / CLIENTS);
    const rate = ratePerClient * CLIENTS;
    // Exactly the target: vegeta sends rate × duration requests, each held open by pong until released.
    const rampS = o.conns / rate;
    const plan: RampPlan = { target: o.conns, stallS: STALL_S, settleS: SETTLE_S, deadlineS: deadlineFor(rampS) };
    let stopping = false;
    const onSignal = () => {
        stopping = true;
        process.stderr.write("\ninterrupted: stopping and tearing down\n");
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const runId = `scale-${newRunId(STACK)}`;
    const dir = join(runsRoot(), runId);
    mkdirSync(dir, { recursive: true });
    const samples: Sample[] = [];
    let attackOver = false;
    const [load1Start] = loadavg();
    try {
        await reapLocal(STACK);
        writeStackConfig(o, ratePerClient, rampS);
        await up(STACK);
        if (stopping) throw new Error("interrupted before the attack");
        const out = await outputs(STACK);
        // Every HAProxy process's statistics in one command run in the LB host's namespace (bench/ramp.ts
        // statsBatchCommand), as the sockets and drops are read: this bench is local, and an SSH login per
        // read (sshd, key exchange) is what a saturated 2-core machine fails first ("timed out during banner exchange").
        const lb = out.inventory.find((h) => h.role === "haproxy")!;
        const lbNamespace = localNames(STACK).namespace(lb.name);
        const statsCmd = statsBatchCommand(out.vips.stats);
        const statsTimeoutMs = 20_000;
        const readStats = async (): Promise<Stats | Error> => {
            const r = await run("ip", ["netns", "exec", lbNamespace, "bash", "-c", statsCmd], statsTimeoutMs);
            if (r.timedOut) return new Error(`no answer from ${lb.name}'s statistics pages within ${statsTimeoutMs / 1000} s`);
            if (r.code !== 0) return new Error(`reading ${lb.name}'s statistics exited ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
            try { return parseStatsBatch(r.stdout, out.vips.stats, parseStatsCsv); } catch (err) { return err as Error; }
        };
        const t0 = Date.now();
        const first = await readStats();
        if (first instanceof Error) throw new Error(`HAProxy statistics unreadable before the attack: ${first.message}`);
        const baseline = sample(out, first, o.mode, t0);
        // The first attack sends the whole plan; a machine that falls behind leaves vegeta's
        // unsent requests at its duration: top-ups (bench/ramp.ts topUp) send the connections
        // still missing at the rate the machine showed it can keep up with.
        const sendings: Sending[] = [];
        const results: (AttackResult | undefined)[] = [];
        const running = new Set<Promise<void>>();
        const launch = (overrides: { rate?: number; durationS?: number }, total: { rate: number; durationS: number }) => {
            const i = results.push(undefined) - 1;
            sendings.push({ startT: (Date.now() - t0) / 1000, ...total });
            const p: Promise<void> = attack(STACK, overrides, runsRoot())
                .then((r) => { results[i] = r; }, (err: Error) => { process.stderr.write(`attack ${i + 1} failed: ${err.message}\n`); })
                .finally(() => { running.delete(p); attackOver = running.size === 0; });
            running.add(p);
            attackOver = false;
        };
        launch({}, { rate, durationS: rampS });
        const attackDone = async () => { while (running.size) await Promise.all([...running]); };
        let state: RampState = { phase: "ramping" };
        let rampEnd = Number.NaN;
        let unreadInARow = 0;
        let statsUnread = 0;
        let attackEndedEarly = false;
        while (!stopping) {
            await new Promise((r) => setTimeout(r, 1000));
            const s = sample(out, await readStats(), o.mode, t0, baseline);
            if (s.heldFrom === "sockets") { unreadInARow++; statsUnread++; } else unreadInARow = 0;
            samples.push(s);
            if (state.phase === "ramping") {
                const last = sendings.at(-1)!;
                state = rampState(samples.map((x) => x.point), plan, last.startT + last.durationS, last.startT);
                if (state.phase === "stopped" && state.why === "ended") {
                    const more = topUp(samples.map((x) => x.point), o.conns, sendings, { maxTopUps: MAX_TOP_UPS, planRate: rate });
                    if (more) {
                        // Exactly the missing count (an overshoot past the plan would fill HAProxy's maxconn): a
                        // whole rate per client (the config's rate is an integer) no higher than its share, for share / rate s.
                        const share = Math.ceil(more.count / CLIENTS);
                        const perClient = Math.max(1, Math.min(share, Math.floor(more.rate / CLIENTS)));
                        const durationS = Math.ceil((share / perClient) * 10) / 10;
                        process.stderr.write(`scale: vegeta's sending is over, ${more.count} connections missing: top-up ${sendings.length} ` +
                            `at ${perClient * CLIENTS}/s for ${durationS}s (backed off to 80 % of what the machine achieved)\n`);
                        launch({ rate: perClient, durationS }, { rate: perClient * CLIENTS, durationS });
                        state = { phase: "ramping" };
                    }
                }
                if (state.phase !== "ramping") {
                    rampEnd = state.t;
                    if (state.phase === "stopped") {
                        process.stderr.write(`scale: the ramp ${state.why === "stalled" ? "stalled" : state.why === "ended" ? "ended" : "hit its deadline"} ` +
                            `short of ${o.conns} at t=${state.t.toFixed(0)}s; holding what it reached\n`);
                        // vegeta is not stopped: it sends no more than planned, and what it had not sent by its
                        // duration counts as unsent errors (a stopped vegeta loses its in-flight results).
                    }
                }
            }
            process.stderr.write(progress(s, samples.at(-2) ?? baseline, state, unreadInARow, o.conns));
            if (!Number.isNaN(rampEnd) && s.t >= rampEnd + o.hold) break;
            // Nothing is held once the attack is over (vegeta waits for every held request): a failed attack.
            if (attackOver && Number.isNaN(rampEnd)) {
                rampEnd = s.t;
                attackEndedEarly = true;
                process.stderr.write("scale: the attack ended during the ramp; nothing left to hold\n");
                break;
            }
        }
        const holdEnd = rampEnd + o.hold;
        const hold = samples.filter((s) => s.t >= rampEnd && s.t <= holdEnd);
        const readable = hold.filter((s) => s.held !== undefined);
        const held = readable.length ? Math.min(...readable.map((s) => s.held!)) : null;
        const mid = readable[Math.floor(readable.length / 2)] ?? samples.at(-1) ?? baseline;

        // The hold window is over: every pong server lets its held requests finish, until vegeta has them all.
        process.stderr.write("releasing the held requests on every pong server…\n");
        let released = 0;
        // The attacks collect and decode vegeta's results after it exits: give them a bounded time (an attack
        // still running then is reported as lost, its requests as errors) so the lab is always torn down.
        const givingUpAt = Date.now() + ATTACK_WAIT_MS;
        for (let i = 0; !attackOver && !stopping && Date.now() < givingUpAt; i++) {
            const r = await releaseAll(out);
            released += r.released;
            for (const f of r.failed) process.stderr.write(`release failed, retrying: ${f}\n`);
            process.stderr.write(`released ${r.released} held requests${attackOver ? "" : "; waiting for vegeta to collect them"}\n`);
            await Promise.race([attackDone(), new Promise((res) => setTimeout(res, i === 0 ? 20_000 : 10_000))]);
        }
        if (!attackOver) process.stderr.write(`scale: ${running.size} attack(s) still running after ${ATTACK_WAIT_MS / 60_000} min (or interrupted): their results count as lost\n`);
        // Unreadable final statistics are not "0 errors": countErrors counts them.
        let finalStats = await readStats();
        if (finalStats instanceof Error) finalStats = await readStats();
        if (finalStats instanceof Error) process.stderr.write(`final HAProxy statistics unreadable: ${finalStats.message}\n`);
        const stats = finalStats instanceof Error ? undefined : finalStats;
        const backendStats = stats && backendCounters(stats, BACKEND_NAME);
        const frontendStats = stats && frontendCounters(stats, FRONTEND_NAMES[o.mode]);
        const haproxyErrors = stats && frontendStats && backendStats
            ? frontendStats.requestErrors + backendStats.connectionErrors + backendStats.responseErrors : undefined;
        // Planned: the target (the first attack's rate × duration; top-ups only send what is missing).
        // Every attack's requests and failures count; one that returned nothing makes the count unknown (all planned).
        const planned = Math.round(ratePerClient * rampS) * CLIENTS;
        const got = results.filter((r): r is AttackResult => r !== undefined);
        const merged = got.length < results.length ? undefined : {
            summary: {
                requests: got.reduce((a, r) => a + (r.summary?.requests ?? 0), 0),
                success: got.reduce((a, r) => a + (r.summary?.requests ?? 0) * (r.summary?.success ?? 0), 0) /
                    Math.max(1, got.reduce((a, r) => a + (r.summary?.requests ?? 0), 0)),
            },
            processes: got.flatMap((r) => r.processes), failedProcesses: got.flatMap((r) => r.failedProcesses),
        };
        const count = countErrors(planned, merged, haproxyErrors);
        const judged = verdict({
            target: o.conns, held, errors: count.errors, points: [baseline, ...samples].map((s) => s.point), rampFrom: 0,
            rampTo: Number.isNaN(rampEnd) ? Infinity : rampEnd,
        });

        // Memory per connection, by part: each host's own cgroup, idle lab → middle of the hold.
        const figures = mid.held ? perConnection(baseline.hosts, mid.hosts, mid.held)
            : Object.fromEntries(Object.keys(perConnection(baseline.hosts, baseline.hosts, 1)).map((k) => [k, null]));
        const [load1End] = loadavg();
        const report = {
            mode: o.mode, target: o.conns, held, errors: count.errors,
            // Time to reach the target (or to the ramp's end when it stopped short), against the plan.
            ramp_s: Number.isNaN(rampEnd) ? null : Math.round(rampEnd), planned_ramp_s: Math.round(rampS),
            // New end-to-end connections per second the machine actually sustained over the ramp (a --rate it can keep up with).
            achieved_rate: Number.isNaN(rampEnd) || rampEnd <= 0 ? null : Math.round((samples.filter((s) => s.t <= rampEnd && s.held !== undefined).at(-1)?.held ?? 0) / rampEnd),
            ramp_end: attackEndedEarly ? "attack_ended" : state.phase === "ramping" ? "interrupted" : state.phase === "reached" ? "reached" : state.why,
            verdict: judged.verdict, limit: judged.limit, verdict_note: judged.note,
            load1_start: Math.round(load1Start * 100) / 100, load1_end: Math.round(load1End * 100) / 100,
            // An interrupted run's figures describe only what happened before Ctrl-C.
            interrupted: stopping,
            ...figures,
            // Whole lab: every host's cgroup (user + kernel + socket memory).
            mem_used_gb: Math.round(((["haproxy", "client", "backend"] as const)
                .reduce((sum, role) => sum + roleSum(mid.hosts, role, (x) => x.memoryBytes) - roleSum(baseline.hosts, role, (x) => x.memoryBytes), 0) / 1024 ** 3) * 100) / 100,
            haproxy_processes: out.inventory.length ? out.vips.stats.length : 0,
            source_addresses_per_client: out.inventory.find((h) => h.role === "client")?.sourceAddresses.length ?? 0,
            rate, hold_s: o.hold, requests: count.requests, planned_requests: count.planned, error_causes: count.causes,
            released, stats_unread: statsUnread, ramp_cpu: judged.ramp_cpu, listen_drops: judged.listen_drops,
            attacks: sendings.map((x, i) => ({ start_s: Math.round(x.startT), rate: x.rate, duration_s: x.durationS, run: results[i]?.runId ?? null })),
            p50_ms: results[0]?.summary ? Math.round(results[0].summary.latencies["50th"] / 1e6) : null,
        };
        writeFileSync(join(dir, "samples.json"), JSON.stringify(samples.map(({ point: _p, ...s }) => s), null, 1));
        writeFileSync(join(dir, "scale.json"), JSON.stringify(report, null, 2));
        printTable(report);
        console.log(JSON.stringify(report));
        if (judged.verdict !== "held") process.exitCode = 2;
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
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
    // An attack given up on still has timers: the bench ends here, its lab torn down.
    .then(() => process.exit(process.exitCode ?? 0))
    .catch((err: Error) => { console.error(`bench:scale: ${err.message}`); process.exit(1); });
