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
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, runsRoot } from "../scripts/toolchain/toolchain.ts";
import { outputs, teardownStack, up, type StackOutputs } from "../scripts/lib/pulumiStack.ts";
import { stackConfigFile, writeGeneratedStack } from "../scripts/lib/stackSettings.ts";
import { residueCount } from "../components/platform/platform.ts";
import { HELD_RAMP_SETTINGS } from "../components/render/attack.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { attack, newRunId, type VegetaSignal } from "../scripts/lib/attackRun.ts";
import { type AttackResult } from "../scripts/lib/attackOutcome.ts";
import { backendCounters, frontendCounters, type StatsRow } from "../scripts/analysis/haproxyStats.ts";
import { Remote } from "../scripts/lib/remote.ts";
import { fetchStats } from "../scripts/lib/runReadings.ts";
import { BACKEND_NAME, FRONTEND_NAMES } from "../components/render/haproxyConfig.ts";
import { localNames } from "../components/platform/local/scripts.ts";
import { readStackCgroups } from "../components/platform/local/cgroups.ts";
import { pongPorts } from "../components/render/backendScripts.ts";
import { countErrors, parseSoftnetDrops, perConnection, readNetCounters, roleSum, type AttackAccount, type HostReadings } from "./figures.ts";
import {
    backOff,
    cpuBetween,
    heldOverWindow,
    heldText,
    maxInFlight,
    memoryFloor,
    parseProcStat,
    rampState,
    sendingsToStop,
    topUp,
    verdict,
    type RampPlan,
    type RampPoint,
    type RampState,
    type Sending,
} from "./ramp.ts";

interface Options {
    mode: "plain" | "tls";
    conns: number;
    hold: number;
    rate?: number;
    stack: string;
    subnet: string;
}

const CLIENTS = 2;
/**
 * Default ramp rates, all clients: what this 2-core machine landed while shared with other work
 * (TLS 243–265/s at load 7–15 with 250–500 planned; plain ~680/s at load 14–35 with 1000 planned,
 * the clients' vegeta using over a core). A higher rate only piles connections up in flight
 * (bench/ramp.ts backOff).
 */
const DEFAULT_RATE = { plain: 700, tls: 250 } as const;
/** No growth for this long while vegeta sends: stalled. */
const STALL_S = 20;
/** No growth for this long once vegeta's sending is over: what it sent has landed. */
const SETTLE_S = 5;
/** A sending that has landed nothing yet is waited for this long past its planned end (RampPlan.startGraceS). */
const START_GRACE_S = 60;
/** Attacks after the first for connections still missing (each back-off is followed by one). */
const MAX_TOP_UPS = 5;
/**
 * After the release, vegeta collects its answers as long as its results grow: it is ended when they
 * have not grown for COLLECT_IDLE_MS, or COLLECT_MAX_MS after the release. At load ~40 the 2-core
 * machine needs minutes to answer 300,000 released requests (pong writes, HAProxy forwards, vegeta
 * records each); a fixed 2 minutes ended vegeta with results still coming in.
 */
const COLLECT_IDLE_MS = 60_000;
const COLLECT_MAX_MS = 15 * 60_000;
/** After vegeta is ended, how long the attacks get to return before they are reported lost and the lab is torn down. */
const RETURN_MS = 3 * 60_000;
/** A HAProxy statistics page is read by one curl; more than this many processes and the pages are read every few samples (sockets count in between). */
const PAGES_PER_SECOND = 8;

/** When the ramp is over whatever happens: vegeta on a loaded machine falls behind, give it twice its time and a minute. */
const deadlineFor = (rampS: number) => 2 * rampS + 60;

/** The ramp's plan from the options and the machine's memory. Pure. */
function planRamp(o: Options, memTotalBytes: number): { ratePerClient: number; rate: number; rampS: number; plan: RampPlan } {
    const ratePerClient = Math.ceil((o.rate ?? DEFAULT_RATE[o.mode]) / CLIENTS);
    const rate = ratePerClient * CLIENTS;
    // Exactly the target: vegeta sends rate × duration requests, each held open by pong until released.
    const rampS = o.conns / rate;
    return {
        ratePerClient,
        rate,
        rampS,
        plan: {
            target: o.conns,
            stallS: STALL_S,
            settleS: SETTLE_S,
            startGraceS: START_GRACE_S,
            deadlineS: deadlineFor(rampS),
            memoryFloorBytes: memoryFloor(memTotalBytes),
            maxInFlight: maxInFlight(o.conns),
        },
    };
}

function checkOptions(o: Options): void {
    if (!Number.isInteger(o.conns) || o.conns < 1) throw new Error(`--conns must be a whole number ≥ 1, got ${o.conns}`);
    if (!Number.isFinite(o.hold) || o.hold < 1) throw new Error(`--hold must be ≥ 1 s, got ${o.hold}`);
    if (o.rate !== undefined && !(Number.isFinite(o.rate) && o.rate >= 1)) throw new Error(`--rate must be ≥ 1/s, got ${o.rate}`);
    if (!/^[a-z][a-z0-9-]*$/.test(o.stack)) throw new Error(`--stack must be lower-case letters, digits and dashes, got ${o.stack}`);
}

const stackFileOf = (stack: string) => stackConfigFile(stack); // generated: in the cache, never the checkout

function writeStackConfig(o: Options, ratePerClient: number, rampS: number): void {
    // pong holds until released; this is only the cap if the bench dies: the latest release plus a minute.
    const holdMs = Math.ceil((deadlineFor(rampS) + o.hold + 60) * 1000);
    const config = {
        "c2m:hosts": { haproxy: 1, backends: 2, clients: CLIENTS },
        "c2m:plan": { connections: o.conns, tlsShare: o.mode === "tls" ? 1 : 0 },
        "c2m:backend": { serversPerHost: 2 },
        "c2m:local": { subnet: o.subnet },
        "c2m:attack": {
            preset: "smoke",
            ...HELD_RAMP_SETTINGS,
            rate: ratePerClient,
            durationS: rampS,
            holdMs,
            timeoutS: Math.ceil(holdMs / 1000) + 120,
            frontends: [o.mode],
            connections: o.conns,
        },
    };
    writeGeneratedStack(o.stack, `# written by bench/scale; removed when it ends\n${YAML.stringify({ config })}`);
}

/** Packets this machine dropped at a full CPU input backlog so far (machine-wide, bench/figures.ts parseSoftnetDrops). */
const softnetDrops = () => parseSoftnetDrops(readFileSync("/proc/net/softnet_stat", "utf8"));

/** /proc/meminfo's available and total memory, bytes. */
function machineMemory(): { availableBytes: number; totalBytes: number } {
    const text = readFileSync("/proc/meminfo", "utf8");
    const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN) * 1024;
    return { availableBytes: kb("MemAvailable"), totalBytes: kb("MemTotal") };
}

type Stats = StatsRow[];

interface Sample {
    t: number;
    /** HAProxy's current sessions; undefined when its statistics were not read this time. */
    frontend?: number;
    backend?: number;
    clientSockets: number;
    lbSockets: number;
    backendSockets: number;
    /**
     * End to end. When HAProxy's statistics were not read (not every sample reads them on a lab of
     * many processes; a process at its maxconn does not serve its page either), from the sockets
     * alone, above the idle lab's: client, LB / 2, backend.
     */
    held?: number;
    heldFrom: "stats" | "sockets";
    /** Why the statistics read of this sample failed (undefined when it was not attempted or succeeded). */
    statsError?: string;
    /** Each host's own cgroup: memory (user, kernel, socket buffers) and CPU. */
    hosts: HostReadings;
    point: RampPoint;
}

/** The lab a run works on, once built. */
interface Lab {
    o: Options;
    out: StackOutputs;
    t0: number;
    /** The bench's session with the lab: one SSH connection per host for its statistics reads and releases. */
    remote: Remote;
    readStats: () => Promise<Stats | Error>;
    baseline: Sample;
}

function sample(lab: Omit<Lab, "baseline">, stats: Stats | Error | undefined, idle?: Sample): Sample {
    const { out, o } = lab;
    const names = localNames(o.stack);
    const net = Object.fromEntries(out.inventory.filter((h) => h.role !== "metrics").map((h) => [h.name, readNetCounters(names.namespace(h.name))]));
    const total = (role: string) => out.inventory.filter((h) => h.role === role).reduce((a, h) => a + (net[h.name]?.tcpInuse ?? 0), 0);
    const hosts = readStackCgroups(o.stack, out.inventory);
    const machine = parseProcStat(readFileSync("/proc/stat", "utf8"));
    const memory = machineMemory();
    const t = (Date.now() - lab.t0) / 1000;
    const clientSockets = total("client");
    const backendSockets = total("backend");
    const lbSockets = total("haproxy");
    const read = stats !== undefined && !(stats instanceof Error) ? stats : undefined;
    let frontend: number | undefined;
    let backend: number | undefined;
    let held: number | undefined;
    if (read) {
        frontend = frontendCounters(read, FRONTEND_NAMES[o.mode])?.current ?? 0;
        backend = backendCounters(read, BACKEND_NAME)?.current ?? 0;
        // End to end: a connection counts when it is open on all three sides.
        held = Math.min(frontend, backend, clientSockets, Math.max(0, backendSockets - out.capacityPlan.backend.servers));
    } else if (idle) {
        held = Math.max(0, Math.min(clientSockets - idle.clientSockets, Math.floor((lbSockets - idle.lbSockets) / 2), backendSockets - idle.backendSockets));
    }
    const inFlight = idle && held !== undefined ? Math.max(0, clientSockets - idle.clientSockets - held) : 0;
    const point: RampPoint = {
        t,
        held,
        ...(read ? {} : { estimated: true }),
        inFlight,
        machineBusyNs: machine.busyNs,
        cpus: machine.cpus,
        memAvailableBytes: memory.availableBytes,
        memTotalBytes: memory.totalBytes,
        hosts: Object.fromEntries(
            Object.entries(hosts).map(([name, h]) => [
                name,
                { role: h.role, cpuNs: h.reading.cpuNs, memoryBytes: h.reading.memoryBytes, listenDrops: net[name]?.listenDrops ?? 0 },
            ]),
        ),
    };
    return {
        t,
        frontend,
        backend,
        clientSockets,
        lbSockets,
        backendSockets,
        held,
        heldFrom: read ? "stats" : "sockets",
        statsError: stats instanceof Error ? stats.message : undefined,
        hosts,
        point,
    };
}

/**
 * Every HAProxy process's statistics page at once, each an HTTP exchange through the session's one
 * SSH connection to the LB: a new SSH login per read (sshd, key exchange) is what a saturated
 * 2-core machine fails first ("timed out during banner exchange"), and no process is started on
 * the LB (whose cgroup's CPU and memory are measured). Not retried: an unread sample is counted as
 * such and the next one comes a second later.
 */
function statsReader(remote: Remote, out: StackOutputs): () => Promise<Stats | Error> {
    return () => fetchStats(remote, out.vips.stats, { timeoutMs: 20_000, idempotent: false }).catch((err: Error) => err);
}

/**
 * POST /release to every pong server, from its own host through the session's connection to it (as
 * the statistics are read: at load 100 new SSH logins timed out during banner exchange): the
 * requests released, and the servers that did not answer.
 */
async function releaseAll(remote: Remote, out: StackOutputs): Promise<{ released: number; failed: string[] }> {
    const ports = pongPorts(out.labConfig.backend.basePort, out.capacityPlan.backend.serversPerHost);
    const urls = out.inventory.filter((h) => h.role === "backend").flatMap((h) => ports.map((p) => `http://${h.address}:${p}/release`));
    let released = 0;
    const failed: string[] = [];
    await Promise.all(
        urls.map(async (url) => {
            // Not retried: a POST the server took but whose answer was lost would release twice (harmless, but counted twice).
            const r = await remote.request(url, { method: "POST", timeoutMs: 15_000 }).catch((err: Error) => err);
            const n = r instanceof Error ? null : /released (\d+)/.exec(r.body);
            if (!(r instanceof Error) && r.status === 200 && n) released += Number(n[1]);
            else failed.push(`${url}: ${r instanceof Error ? r.message : `HTTP ${r.status}: ${r.body.trim().slice(0, 120)}`}`);
        }),
    );
    return { released, failed };
}

function progress(s: Sample, prev: Sample | undefined, state: RampState, unreadInARow: number, target: number): string {
    const cpu = prev ? cpuBetween(prev.point, s.point) : undefined;
    const cpuText = cpu
        ? `, CPU ${Math.round(cpu.busyShare * 100)} % of ${cpu.cpus} (client ${cpu.roles.client ?? 0}, ` +
          `lb ${cpu.roles.haproxy ?? 0}, backend ${cpu.roles.backend ?? 0}, outside the lab ${cpu.outside})`
        : "";
    const phase = state.phase === "ramping" ? "ramping" : state.phase === "reached" ? "holding" : `holding what the ramp reached (${state.why})`;
    const counters = s.heldFrom === "sockets" ? "" : ` (frontend ${s.frontend}, backend ${s.backend})`;
    const heldShown =
        s.heldFrom === "stats"
            ? String(s.held)
            : s.statsError
              ? `${s.held} from sockets, ${heldText(undefined, s.statsError, unreadInARow)}`
              : `${s.held} from sockets`;
    const mem = `, ${(s.point.memAvailableBytes / 2 ** 30).toFixed(1)} GiB available`;
    return (
        `scale: t=${s.t.toFixed(0)}s held ${heldShown} of ${target}${counters}, in flight ${s.point.inFlight}, ` +
        `sockets client/lb/backend ${s.clientSockets}/${s.lbSockets}/${s.backendSockets}${cpuText}${mem}, ${phase}\n`
    );
}

/**
 * The attacks of one run: the first and its top-ups. An attack is paused (SIGSTOP: it sends no
 * more, its connections stay open; vegeta's own SIGINT would cancel them all) when the ramp backs
 * off or memory runs low, resumed once the hold is over and its duration has passed (so it sends
 * nothing more), and ended (SIGINT) when it has not returned long after the release.
 */
class Attacks {
    readonly sendings: Sending[] = [];
    readonly results: (AttackResult | undefined)[] = [];
    private readonly vegeta: {
        signal?: (name: VegetaSignal) => Promise<void>;
        paused: boolean;
        plannedEndT: number;
        /** Requests it was launched to send (total rate × duration). */
        planned: number;
        /** When the bench paused it before its duration was over, s. */
        pausedAt?: number;
        /** The bench ended it (SIGINT) before it returned: its results miss what it still waited for. */
        ended: boolean;
        /** When it returned, s (undefined while running). */
        returnedAt?: number;
    }[] = [];
    private readonly running = new Set<Promise<void>>();
    private readonly stack: string;
    private readonly t0: number;

    constructor(stack: string, t0: number) {
        this.stack = stack;
        this.t0 = t0;
    }

    get over(): boolean {
        return this.running.size === 0;
    }
    get count(): number {
        return this.running.size;
    }
    private now(): number {
        return (Date.now() - this.t0) / 1000;
    }

    launch(overrides: { rate?: number; durationS?: number }, total: { rate: number; durationS: number }): void {
        const i = this.results.push(undefined) - 1;
        const startT = this.now();
        this.sendings.push({ startT, ...total });
        const v: (typeof this.vegeta)[number] = {
            paused: false,
            plannedEndT: startT + total.durationS,
            planned: Math.round(total.rate * total.durationS),
            ended: false,
        };
        this.vegeta.push(v);
        // The bench prints its own progress: the attack's would cost an SSH login per HAProxy process every 5 s.
        const p: Promise<void> = attack(this.stack, overrides, runsRoot(), {
            progress: false,
            onVegeta: (signal) => {
                v.signal = signal;
            },
        })
            .then(
                (r) => {
                    this.results[i] = r;
                },
                (err: Error) => {
                    process.stderr.write(`attack ${i + 1} failed: ${err.message}\n`);
                },
            )
            .finally(() => {
                v.returnedAt = this.now();
                this.running.delete(p);
            });
        this.running.add(p);
    }

    private async send(i: number, name: VegetaSignal): Promise<void> {
        const v = this.vegeta[i];
        if (!v.signal) return;
        await v.signal(name).catch((err: Error) => process.stderr.write(`signalling vegeta (${name}) failed: ${err.message}\n`));
    }

    /** Pauses attack i's vegeta now: its sending ends at `t` for the ramp's decisions and for its plan (accounts). */
    private async pause(i: number, t: number): Promise<void> {
        const x = this.sendings[i];
        if (t < x.startT + x.durationS) {
            x.durationS = Math.max(0, t - x.startT);
            this.vegeta[i].pausedAt = t;
        }
        this.vegeta[i].paused = true;
        await this.send(i, "STOP");
    }

    /** Pauses the last attack's sending now. */
    pauseLast(t: number): Promise<void> {
        return this.pause(this.sendings.length - 1, t);
    }

    /** Pauses every attack still sending when the target is reached (sendingsToStop): the indices paused. */
    async stopAtTarget(t: number): Promise<number[]> {
        const still = sendingsToStop(this.sendings, t, (i) => this.vegeta[i].paused);
        await Promise.all(still.map((i) => this.pause(i, t)));
        return still;
    }

    /** Pauses every attack still sending. */
    async pauseAll(t: number): Promise<void> {
        await Promise.all(this.vegeta.map((v, i) => (v.paused || t >= v.plannedEndT ? undefined : this.pause(i, t))));
    }

    /**
     * Resumes the paused attacks once their planned duration is over (before, vegeta would catch up
     * on what it did not send); at once when `now` (interrupted: they are ended next).
     */
    async resumeAll(now = false): Promise<void> {
        const paused = this.vegeta.map((v, i) => ({ v, i })).filter(({ v }) => v.paused);
        const lastEnd = Math.max(0, ...paused.map(({ v }) => v.plannedEndT));
        if (!now && paused.length && this.now() < lastEnd + 1) {
            process.stderr.write(`scale: waiting ${Math.ceil(lastEnd + 1 - this.now())} s for the paused attacks' durations to pass before resuming them\n`);
            await new Promise((r) => setTimeout(r, (lastEnd + 1 - this.now()) * 1000));
        }
        await Promise.all(
            paused.map(async ({ v, i }) => {
                await this.send(i, "CONT");
                v.paused = false;
            }),
        );
    }

    /**
     * Ends every attack still running (SIGINT). On the local platform every client host's signal
     * reaches every vegeta of the run (one PID namespace), and vegeta's second SIGINT makes it exit
     * at once: the requests it still waited for get no result, and count as errors (countErrors).
     */
    endAll(): Promise<void> {
        return Promise.all(
            this.vegeta.map((v, i) => {
                if (v.returnedAt !== undefined) return undefined;
                v.ended = true;
                return this.send(i, "INT");
            }),
        ).then(() => undefined);
    }

    /** Resolves when every attack has returned, or after `ms`. */
    async settle(ms: number): Promise<void> {
        const all = (async () => {
            while (this.running.size) await Promise.all([...this.running]);
        })();
        await Promise.race([all, new Promise((r) => setTimeout(r, ms).unref())]);
    }

    /** Each attack's plan, pause and results for the error count (bench/figures.ts countErrors). */
    accounts(): AttackAccount[] {
        return this.vegeta.map((v, i) => {
            const r = this.results[i];
            const x = this.sendings[i];
            return {
                planned: v.planned,
                ...(v.pausedAt === undefined ? {} : { sentByPauseAtMost: Math.min(v.planned, Math.ceil(x.rate * Math.max(0, v.pausedAt - x.startT))) }),
                ...(r?.summary ? { summary: { requests: r.summary.requests, success: r.summary.success } } : {}),
                failedProcesses: r ? r.failedProcesses.length : 0,
                complete: r !== undefined && !v.ended,
            };
        });
    }

    /** Each attack for the JSON: when it was paused and returned, s since the attack started. */
    timeline(): { paused_at_s: number | null; returned_s: number | null; ended_by_bench: boolean }[] {
        const s1 = (n: number | undefined) => (n === undefined ? null : Math.round(n * 10) / 10);
        return this.vegeta.map((v) => ({ paused_at_s: s1(v.pausedAt), returned_s: s1(v.returnedAt), ended_by_bench: v.ended }));
    }
}

interface RampOutcome {
    samples: Sample[];
    state: RampState;
    /** When the hold window started (target reached or ramp over), s; NaN when it never did. */
    rampEnd: number;
    attackEndedEarly: boolean;
    statsUnread: number;
}

/**
 * Ramps and holds: a sample about every second (HAProxy's statistics every `statsEvery` samples),
 * backs off when connections pile up in flight, tops up what is missing once they have landed,
 * stops the sending when the machine runs out of memory, and ends `hold` s after the ramp did.
 */
async function rampAndHold(lab: Lab, plan: RampPlan, planRate: number, attacks: Attacks, stopping: () => boolean): Promise<RampOutcome> {
    const { o } = lab;
    const samples: Sample[] = [];
    const statsEvery = Math.max(1, Math.ceil(lab.out.vips.stats.length / PAGES_PER_SECOND));
    let state: RampState = { phase: "ramping" };
    let rampEnd = Number.NaN;
    let unreadInARow = 0;
    let statsUnread = 0;
    let attackEndedEarly = false;
    let backedOff = false;
    const log = (line: string) => process.stderr.write(`scale: ${line}\n`);
    for (let i = 0; !stopping(); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const stats = i % statsEvery === 0 ? await lab.readStats() : undefined;
        const s = sample(lab, stats, lab.baseline);
        if (stats instanceof Error) {
            unreadInARow++;
            statsUnread++;
        } else if (stats) unreadInARow = 0;
        samples.push(s);
        const points = samples.map((x) => x.point);
        const last = attacks.sendings.at(-1)!;
        const sending = s.t < last.startT + last.durationS;
        if (state.phase === "ramping" && sending && !backedOff && backOff(points, plan, last.startT)) {
            backedOff = true;
            log(
                `t=${s.t.toFixed(0)}s ${s.point.inFlight} connections in flight (more than ${plan.maxInFlight}): the machine does not land them ` +
                    `as fast as they are sent; pausing this sending (its open connections stay), the rest follows at the rate that lands`,
            );
            await attacks.pauseLast(s.t);
        }
        if (state.phase === "ramping") {
            state = rampState(points, plan, last.startT + last.durationS, last.startT);
            if (state.phase === "stopped" && state.why === "ended") {
                const more = topUp(points, o.conns, attacks.sendings, { maxTopUps: MAX_TOP_UPS, planRate });
                if (more) {
                    // Exactly the missing count (an overshoot past the plan would fill HAProxy's maxconn): a
                    // whole rate per client (the config's rate is an integer) no higher than its share, for share / rate s.
                    const share = Math.ceil(more.count / CLIENTS);
                    const perClient = Math.max(1, Math.min(share, Math.floor(more.rate / CLIENTS)));
                    const durationS = Math.ceil((share / perClient) * 10) / 10;
                    log(
                        `sending over, ${more.count} connections missing: top-up ${attacks.sendings.length} at ${perClient * CLIENTS}/s for ${durationS}s ` +
                            `(80 % of the rate that landed)`,
                    );
                    attacks.launch({ rate: perClient, durationS }, { rate: perClient * CLIENTS, durationS });
                    backedOff = false;
                    state = { phase: "ramping" };
                }
            }
            if (state.phase === "stopped" && state.why === "memory") {
                // No more sending: what is sent lands, the machine's memory does not grow much further.
                await attacks.pauseAll(s.t);
                log(
                    `t=${s.t.toFixed(0)}s the machine has ${(s.point.memAvailableBytes / 2 ** 30).toFixed(1)} GiB available (floor ` +
                        `${(plan.memoryFloorBytes / 2 ** 30).toFixed(1)}): pausing every sending; holding what the ramp reached`,
                );
            } else if (state.phase === "stopped") {
                log(
                    `the ramp ${state.why === "deadline" ? "hit its deadline" : state.why} short of ${o.conns} at t=${state.t.toFixed(0)}s; holding what it reached`,
                );
            }
            if (state.phase === "reached") {
                // A top-up (or the first attack) still sending would land connections inside the hold window: stop it at the target.
                const stopped = await attacks.stopAtTarget(s.t);
                if (stopped.length)
                    log(
                        `t=${s.t.toFixed(0)}s target reached: pausing attack(s) ${stopped.map((i) => i + 1).join(", ")} still sending (their open connections stay)`,
                    );
            }
            if (state.phase !== "ramping") rampEnd = state.t;
        }
        process.stderr.write(progress(s, samples.at(-2) ?? lab.baseline, state, unreadInARow, o.conns));
        if (!Number.isNaN(rampEnd) && s.t >= rampEnd + o.hold) break;
        // Nothing is held once the attacks are over (vegeta waits for every held request): a failed attack.
        if (attacks.over && Number.isNaN(rampEnd)) {
            rampEnd = s.t;
            attackEndedEarly = true;
            log("the attack ended during the ramp; nothing left to hold");
            break;
        }
    }
    return { samples, state, rampEnd, attackEndedEarly, statsUnread };
}

/**
 * The bytes of vegeta's result files on the client hosts (each vegeta writes a result per answered
 * or failed request; the files are removed once collected): collecting grows it. The local
 * platform's hosts share this machine's filesystem.
 */
function resultsBytes(out: StackOutputs): number {
    let bytes = 0;
    for (const h of out.inventory.filter((x) => x.role === "client")) {
        const dir = join(h.workDir, "vegeta");
        let names: string[] = [];
        try {
            names = readdirSync(dir);
        } catch {
            continue;
        }
        for (const n of names.filter((x) => x.endsWith(".bin"))) {
            try {
                bytes += statSync(join(dir, n)).size;
            } catch {
                /* collected meanwhile */
            }
        }
    }
    return bytes;
}

/** What the collection after the release took: s from the release to the attacks' return, and whether vegeta had to be ended. */
interface Collected {
    released: number;
    collect_s: number | null;
    ended_vegeta: boolean;
}

/**
 * The hold window is over: every pong server lets its held requests finish until vegeta has them
 * all (released again every 10 s: a paused attack's last requests arrive after the first release);
 * vegeta is ended when its results have not grown for COLLECT_IDLE_MS or COLLECT_MAX_MS after the
 * release (requests stuck before pong keep it up to its timeout), and an attack still running
 * RETURN_MS later is reported lost.
 */
async function releaseAndCollect(lab: Lab, attacks: Attacks, stopping: () => boolean): Promise<Collected> {
    await attacks.resumeAll(stopping());
    if (stopping()) await attacks.endAll();
    process.stderr.write("releasing the held requests on every pong server…\n");
    let released = 0;
    const start = Date.now();
    let bytes = resultsBytes(lab.out);
    let grewAt = start;
    for (let i = 0; !attacks.over && !stopping() && Date.now() - grewAt < COLLECT_IDLE_MS && Date.now() - start < COLLECT_MAX_MS; i++) {
        const r = await releaseAll(lab.remote, lab.out);
        released += r.released;
        for (const f of r.failed) process.stderr.write(`release failed, retrying: ${f}\n`);
        await attacks.settle(i === 0 ? 20_000 : 10_000);
        const now = resultsBytes(lab.out);
        if (now > bytes) grewAt = Date.now();
        process.stderr.write(
            `scale: +${((Date.now() - start) / 1000).toFixed(0)}s after the release: released ${r.released} held requests, ` +
                `vegeta's results ${(now / 2 ** 20).toFixed(1)} MiB (${now > bytes ? "growing" : `not grown for ${((Date.now() - grewAt) / 1000).toFixed(0)} s`})` +
                `${attacks.over ? ", every attack returned" : `, ${attacks.count} attack(s) collecting`}\n`,
        );
        bytes = now;
    }
    const collected = attacks.over ? Math.round((Date.now() - start) / 1000) : null;
    let ended = false;
    if (!attacks.over) {
        ended = true;
        process.stderr.write(
            `scale: ${attacks.count} attack(s) still running ${((Date.now() - start) / 1000).toFixed(0)} s after the release, their results ` +
                `not grown for ${((Date.now() - grewAt) / 1000).toFixed(0)} s: ending vegeta (the requests it still waits for count as errors)\n`,
        );
        await attacks.endAll();
        await attacks.settle(RETURN_MS);
    }
    if (!attacks.over)
        process.stderr.write(`scale: ${attacks.count} attack(s) still running ${RETURN_MS / 60_000} min after vegeta was ended: their results count as lost\n`);
    return { released, collect_s: collected, ended_vegeta: ended };
}

/** HAProxy's errors from its final statistics (two tries), or undefined when unreadable. */
async function haproxyErrors(lab: Lab): Promise<number | undefined> {
    let stats = await lab.readStats();
    if (stats instanceof Error) stats = await lab.readStats();
    if (stats instanceof Error) {
        process.stderr.write(`final HAProxy statistics unreadable: ${stats.message}\n`);
        return undefined;
    }
    const b = backendCounters(stats, BACKEND_NAME);
    const f = frontendCounters(stats, FRONTEND_NAMES[lab.o.mode]);
    return b && f ? f.requestErrors + b.connectionErrors + b.responseErrors : undefined;
}

const r2 = (n: number) => Math.round(n * 100) / 100;

function report(
    lab: Lab,
    ramp: RampOutcome,
    attacks: Attacks,
    plan: RampPlan,
    planned: { rate: number; rampS: number },
    o: {
        collected: Collected;
        haproxyErrors: number | undefined;
        load1Start: number;
        interrupted: boolean;
        /** The machine's backlog drops over the ramp and hold, and over the release and collection. */
        softnetDrops: { ramp_hold: number; collect: number };
    },
) {
    const { rampEnd, samples } = ramp;
    const { baseline } = lab;
    const holdEnd = rampEnd + lab.o.hold;
    const readable = samples.filter((s) => s.t >= rampEnd && s.t <= holdEnd && s.held !== undefined);
    // Counted by HAProxy's statistics where they were read (sockets are an estimate, off by a few): nothing is sent
    // during the hold, so a connection lost between two reads is missing at the next one (and its request is an error).
    const { held, source: heldSource } = heldOverWindow(readable);
    const mid = readable[Math.floor(readable.length / 2)] ?? samples.at(-1) ?? baseline;
    // Planned: the target (top-ups only send what is missing). Every attack's requests and failures count;
    // one that returned nothing makes the count unknown (all planned).
    const count = countErrors(lab.o.conns, attacks.accounts(), o.haproxyErrors);
    const timeline = attacks.timeline();
    const judged = verdict({
        target: lab.o.conns,
        held,
        heldSource,
        errors: count.errors,
        points: [baseline, ...samples].map((s) => s.point),
        rampFrom: 0,
        rampTo: Number.isNaN(rampEnd) ? Infinity : rampEnd,
        memoryFloorBytes: plan.memoryFloorBytes,
    });
    // Memory per connection, by part: each host's own cgroup, idle lab → middle of the hold.
    const figures = mid.held
        ? perConnection(baseline.hosts, mid.hosts, mid.held)
        : Object.fromEntries(Object.keys(perConnection(baseline.hosts, baseline.hosts, 1)).map((k) => [k, null]));
    const { state } = ramp;
    const first = attacks.results[0];
    return {
        // held_source: "haproxy" (its statistics, read in the hold window) or "sockets" (an estimate, which never makes a run held).
        mode: lab.o.mode,
        target: lab.o.conns,
        held,
        held_source: heldSource,
        errors: count.errors,
        // Time to reach the target (or to the ramp's end when it stopped short), against the plan.
        ramp_s: Number.isNaN(rampEnd) ? null : Math.round(rampEnd),
        planned_ramp_s: Math.round(planned.rampS),
        // New end-to-end connections per second the machine actually sustained over the ramp (a --rate it can keep up with).
        achieved_rate:
            Number.isNaN(rampEnd) || rampEnd <= 0
                ? null
                : Math.round((samples.filter((s) => s.t <= rampEnd && s.held !== undefined).at(-1)?.held ?? 0) / rampEnd),
        ramp_end: ramp.attackEndedEarly ? "attack_ended" : state.phase === "ramping" ? "interrupted" : state.phase === "reached" ? "reached" : state.why,
        verdict: judged.verdict,
        limit: judged.limit,
        // Whether this machine, not HAProxy, was what stopped the run short (null when it held).
        machine_limited: judged.limit === null ? null : judged.limit.bound === "machine",
        verdict_note: judged.note,
        load1_start: r2(o.load1Start),
        load1_end: r2(loadavg()[0]),
        // An interrupted run's figures describe only what happened before Ctrl-C.
        interrupted: o.interrupted,
        ...figures,
        // Whole lab: every host's cgroup (user + kernel + socket memory), idle → middle of the hold.
        mem_used_gb: r2(
            (["haproxy", "client", "backend"] as const).reduce(
                (sum, role) => sum + roleSum(mid.hosts, role, (x) => x.memoryBytes) - roleSum(baseline.hosts, role, (x) => x.memoryBytes),
                0,
            ) /
                1024 ** 3,
        ),
        memory: judged.memory,
        haproxy_processes: lab.out.vips.stats.length,
        source_addresses_per_client: lab.out.inventory.find((h) => h.role === "client")?.sourceAddresses.length ?? 0,
        rate: planned.rate,
        hold_s: lab.o.hold,
        requests: count.requests,
        planned_requests: count.planned,
        replanned_requests: count.replanned,
        error_causes: count.causes,
        // From the release to every attack's return (null: vegeta had to be ended).
        released: o.collected.released,
        collect_s: o.collected.collect_s,
        ended_vegeta: o.collected.ended_vegeta,
        // Packets the machine dropped at a full CPU input backlog (net.core.netdev_max_backlog), all namespaces.
        softnet_drops: o.softnetDrops,
        stats_unread: ramp.statsUnread,
        ramp_cpu: judged.ramp_cpu,
        listen_drops: judged.listen_drops,
        // Each attack: its plan, revised to what it sent when it was paused, and what became of it (countErrors).
        attacks: attacks.sendings.map((x, i) => ({
            start_s: Math.round(x.startT),
            rate: x.rate,
            duration_s: Math.round(x.durationS * 10) / 10,
            ...timeline[i],
            ...count.attacks[i],
            run: attacks.results[i]?.runId ?? null,
        })),
        p50_ms: first?.summary ? Math.round(first.summary.latencies["50th"] / 1e6) : null,
    };
}

/** Builds the lab and reads it idle: the statistics must answer before anything is sent. */
async function buildLab(o: Options, ratePerClient: number, rampS: number): Promise<Omit<Lab, "t0" | "baseline">> {
    await reapLocal(o.stack);
    writeStackConfig(o, ratePerClient, rampS);
    await up(o.stack);
    const out = await outputs(o.stack);
    const remote = Remote.forLab(out, { env: labEnv() });
    return { o, out, remote, readStats: statsReader(remote, out) };
}

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

function printTable(r: Record<string, unknown>): void {
    const rows = Object.entries(r).map(([k, v]) => `${k.padEnd(28)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`);
    console.log(["bench/scale", ...rows].join("\n"));
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
