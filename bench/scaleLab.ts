// bench/scale's lab: its options and ramp plan, the stack it writes and builds, one sample of the
// lab (sockets, cgroups, HAProxy's statistics, the machine's CPU and memory), the statistics reads
// and the release of pong's held requests.
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { labEnv } from "../scripts/toolchain/toolchain.ts";
import { outputs, up, type StackOutputs } from "../scripts/lib/pulumiStack.ts";
import { stackConfigFile, writeGeneratedStack } from "../scripts/lib/stackSettings.ts";
import { heldRampAttack } from "../components/render/attack.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { backendCounters, frontendCounters, type StatsRow } from "../scripts/analysis/haproxyStats.ts";
import { Remote } from "../scripts/lib/remote.ts";
import { fetchStats } from "../scripts/lib/runReadings.ts";
import { BACKEND_NAME, FRONTEND_NAMES } from "../components/render/haproxyConfig.ts";
import { localNames } from "../components/platform/local/scripts.ts";
import { readStackCgroups } from "../components/platform/local/cgroups.ts";
import { pongPorts } from "../components/render/backendScripts.ts";
import { parseSoftnetDrops, readNetCounters, type HostReadings } from "./figures.ts";
import { maxInFlight, memoryFloor, type RampPlan } from "./ramp.ts";
import { parseProcStat, type RampPoint } from "./rampPoint.ts";

export interface Options {
    mode: "plain" | "tls";
    conns: number;
    hold: number;
    rate?: number;
    stack: string;
    subnet: string;
}

export const CLIENTS = 2;
/**
 * Default ramp rates, all clients: what this 2-core machine landed while shared with other work
 * (TLS 243–265/s at load 7–15 with 250–500 planned; plain ~680/s at load 14–35 with 1000 planned,
 * the clients' vegeta using over a core). A higher rate only piles connections up in flight
 * (bench/ramp.ts backOff).
 */
export const DEFAULT_RATE = { plain: 700, tls: 250 } as const;
/** No growth for this long while vegeta sends: stalled. */
export const STALL_S = 20;
/** No growth for this long once vegeta's sending is over: what it sent has landed. */
export const SETTLE_S = 5;
/** A sending that has landed nothing yet is waited for this long past its planned end (RampPlan.startGraceS). */
export const START_GRACE_S = 60;

/** When the ramp is over whatever happens: vegeta on a loaded machine falls behind, give it twice its time and a minute. */
export const deadlineFor = (rampS: number) => 2 * rampS + 60;

/** The ramp's plan from the options and the machine's memory. Pure. */
export function planRamp(o: Options, memTotalBytes: number): { ratePerClient: number; rate: number; rampS: number; plan: RampPlan } {
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

export function checkOptions(o: Options): void {
    if (!Number.isInteger(o.conns) || o.conns < 1) throw new Error(`--conns must be a whole number ≥ 1, got ${o.conns}`);
    if (!Number.isFinite(o.hold) || o.hold < 1) throw new Error(`--hold must be ≥ 1 s, got ${o.hold}`);
    if (o.rate !== undefined && !(Number.isFinite(o.rate) && o.rate >= 1)) throw new Error(`--rate must be ≥ 1/s, got ${o.rate}`);
    if (!/^[a-z][a-z0-9-]*$/.test(o.stack)) throw new Error(`--stack must be lower-case letters, digits and dashes, got ${o.stack}`);
}

export const stackFileOf = (stack: string) => stackConfigFile(stack); // generated: in the cache, never the checkout

export function writeStackConfig(o: Options, ratePerClient: number, rampS: number): void {
    // pong holds until released; this is only the cap if the bench dies: the latest release plus a minute.
    const holdMs = Math.ceil((deadlineFor(rampS) + o.hold + 60) * 1000);
    const config = {
        "c2m:hosts": { haproxy: 1, backends: 2, clients: CLIENTS },
        "c2m:plan": { connections: o.conns, tlsShare: o.mode === "tls" ? 1 : 0 },
        "c2m:backend": { serversPerHost: 2 },
        "c2m:local": { subnet: o.subnet },
        "c2m:attack": heldRampAttack({ rate: ratePerClient, rampS, holdMs, drainS: 120, frontend: o.mode, connections: o.conns }),
    };
    writeGeneratedStack(o.stack, `# written by bench/scale; removed when it ends\n${YAML.stringify({ config })}`);
}

/** Packets this machine dropped at a full CPU input backlog so far (machine-wide, bench/figures.ts parseSoftnetDrops). */
export const softnetDrops = () => parseSoftnetDrops(readFileSync("/proc/net/softnet_stat", "utf8"));

/** /proc/meminfo's available and total memory, bytes. */
export function machineMemory(): { availableBytes: number; totalBytes: number } {
    const text = readFileSync("/proc/meminfo", "utf8");
    const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN) * 1024;
    return { availableBytes: kb("MemAvailable"), totalBytes: kb("MemTotal") };
}

export type Stats = StatsRow[];

export interface Sample {
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
export interface Lab {
    o: Options;
    out: StackOutputs;
    t0: number;
    /** The bench's session with the lab: one SSH connection per host for its statistics reads and releases. */
    remote: Remote;
    readStats: () => Promise<Stats | Error>;
    baseline: Sample;
}

export function sample(lab: Omit<Lab, "baseline">, stats: Stats | Error | undefined, idle?: Sample): Sample {
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
export function statsReader(remote: Remote, out: StackOutputs): () => Promise<Stats | Error> {
    return () => fetchStats(remote, out.vips.stats, { timeoutMs: 20_000, idempotent: false }).catch((err: Error) => err);
}

/**
 * POST /release to every pong server, from its own host through the session's connection to it (as
 * the statistics are read: at load 100 new SSH logins timed out during banner exchange): the
 * requests released, and the servers that did not answer.
 */
export async function releaseAll(remote: Remote, out: StackOutputs): Promise<{ released: number; failed: string[] }> {
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

/** Builds the lab and reads it idle: the statistics must answer before anything is sent. */
export async function buildLab(o: Options, ratePerClient: number, rampS: number): Promise<Omit<Lab, "t0" | "baseline">> {
    await reapLocal(o.stack);
    writeStackConfig(o, ratePerClient, rampS);
    await up(o.stack);
    const out = await outputs(o.stack);
    const remote = Remote.forLab(out, { env: labEnv() });
    return { o, out, remote, readStats: statsReader(remote, out) };
}
