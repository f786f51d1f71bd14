// Attack presets and the vegeta command line they render to. Pure.
import { quote } from "zx/core";
import type { AttackSettings, LabConfig } from "../config.ts";

// The settings, each with its meaning, are the schema's (components/config.ts AttackSettingsSchema).
export type { AttackSettings };

/** The seed's own client fleet: "nous avions besoin d'environ 20 machines". */
export const SEED_CLIENTS = 20;

/**
 * The seed's milestone runs. Its pong waits uniformly 0..sleep+1 ms before each of its
 * times+1 writes, so a response lasts (sleep+1)/2 × (times+1) ms on average and a client holds
 * rate × that many connections (Little's law; components/plan/sizing.ts). Rates are per client
 * host, as the seed ran vegeta per machine, sized for its 20 clients.
 */
const seedMilestone = (over: Partial<AttackSettings>): AttackSettings => ({
    rate: 2000,
    durationS: 600,
    connections: 1_000_000,
    workers: 500,
    cpus: 32,
    timeoutS: 7200,
    sleepMs: 1000,
    times: 0,
    holdMs: 0,
    bodyBytes: 512,
    frontends: ["tls"],
    ...over,
});

/**
 * "Introduction du sleep": `vegeta -cpus=32 attack -duration=10m -header=sleep:1000 -rate=2000 -workers=500`
 * (its -timeout: vegeta's 30 s), run per client until the box topped out: "le nombre maximum de requêtes
 * par seconde que la machine à 6 cœurs peut supporter a diminué à 8k contre 20k". The preset is that run
 * at the rate the seed's box held, 8k/s in all: 400/s on each of its 20 clients (20 × 2000/s = 40k/s
 * would be a tipping search in disguise; `lab tipping` is the search).
 */
const SLEEP_1S = seedMilestone({ rate: 8000 / SEED_CLIENTS, durationS: 600, sleepMs: 1000, timeoutS: 30 });
/**
 * Milestone #1: sleep 60000 ("60000R") at 8k requests/s in all (400/s on each of 20 clients),
 * with the timeout raised to ~70 s (vegeta's default 30 s failed half the calls), 10 min.
 */
const SLEEP_60S = seedMilestone({ rate: 400, durationS: 600, sleepMs: 60_000, timeoutS: 70 });
/**
 * Milestone #2's third figure: "900 requêtes par seconde, 2,1 millions de connexions TCP établies
 * et 30 MB/s de réseau" (3× its production load). The seed does not say which way: the rig reads it
 * as the request bodies its clients send, 30 × 10^6 bytes a second (pong's 4-byte answers add
 * nothing). At 900 requests/s that is a body of 30,000,000 / 900 ≈ 33.3 KB each, sent as the
 * request starts (pong reads it and drops it: no held connection keeps it).
 */
export const SEED_M2_NETWORK_BYTES_PER_S = 30_000_000;
const SEED_M2_RATE = 900;

/**
 * Milestone #2: "900 requêtes par seconde … 2,1 millions de connexions TCP établies" (45/s on
 * each of 20 clients) with "un sommeil d'environ 20 minutes": 1.05M client connections at
 * 900/s need responses of 1,050,000 / 900 ≈ 1167 s ≈ 19.4 min on average, i.e. a sleep header
 * of 2,333,000 ms (responses up to ~39 min). The seed's -timeout=2h; one hour of load, enough
 * for the longest responses to end and the count to settle.
 */
const SLEEP_20MIN = seedMilestone({
    rate: SEED_M2_RATE / SEED_CLIENTS,
    durationS: 3600,
    sleepMs: 2_333_000,
    timeoutS: 7200,
    bodyBytes: Math.ceil(SEED_M2_NETWORK_BYTES_PER_S / SEED_M2_RATE),
});

/**
 * `seed` is the final command of the reference article, as published:
 * `vegeta -cpus=32 attack -connections=1000000 -header=sleep:20 -header=times:2 -body=post_smaller.txt
 *  -timeout=2h -rate=3000 -workers=500` (run per client; it had no -duration, we give 10 min).
 * Its sleep:20 is 20 ms: it holds ~95 connections per client, ~1.9k in all; the milestone
 * presets below are what held the seed's connections.
 * `smoke` is a few thousand requests, small enough for CI.
 */
export const PRESET_SETTINGS: Record<LabConfig["attack"]["preset"], AttackSettings> = {
    seed: {
        rate: 3000,
        durationS: 600,
        connections: 1_000_000,
        workers: 500,
        cpus: 32,
        timeoutS: 7200,
        sleepMs: 20,
        times: 2,
        holdMs: 0,
        bodyBytes: 512,
        frontends: ["plain"],
    },
    smoke: {
        rate: 200,
        durationS: 5,
        connections: 1000,
        workers: 20,
        timeoutS: 70,
        sleepMs: 20,
        times: 2,
        holdMs: 0,
        bodyBytes: 512,
        frontends: ["plain", "tls"],
    },
    "seed-1s-plain": { ...SLEEP_1S, frontends: ["plain"] },
    "seed-1s-tls": { ...SLEEP_1S, frontends: ["tls"] },
    "seed-60s-plain": { ...SLEEP_60S, frontends: ["plain"] },
    "seed-60s-tls": { ...SLEEP_60S, frontends: ["tls"] },
    "seed-20min-plain": { ...SLEEP_20MIN, frontends: ["plain"] },
    "seed-20min-tls": { ...SLEEP_20MIN, frontends: ["tls"] },
};

/**
 * The load of a `lab tipping` step unless its flags say otherwise (the rate is the search's, the
 * frontend its --frontend; any setting not here is the lab's own): pong answers at once, so the
 * knee is the rig's and not pong's waits.
 */
export const TIPPING_STEP_SETTINGS = { durationS: 10, timeoutS: 30, sleepMs: 0, times: 0 } satisfies Partial<AttackSettings>;

/**
 * The `c2m:attack` block of a bench that ramps held connections into the LB (bench/scale, bench/oom),
 * on top of the smoke preset: `rate` per client for `rampS`, pong holding each response `holdMs`
 * and writing once, with no random sleep; vegeta waits `drainS` past the hold.
 */
export function heldRampAttack(o: { rate: number; rampS: number; holdMs: number; drainS: number; frontend: "plain" | "tls"; connections: number }) {
    return {
        preset: "smoke",
        ...({ sleepMs: 0, times: 0, workers: 100 } satisfies Partial<AttackSettings>),
        rate: o.rate,
        durationS: o.rampS,
        holdMs: o.holdMs,
        timeoutS: Math.ceil(o.holdMs / 1000) + o.drainS,
        frontends: [o.frontend],
        connections: o.connections,
    };
}

/**
 * What each preset should hold: connections open per client host once steady (rate × mean
 * response, Little's law), and what the seed reported for the run it reproduces. Checked
 * against the sizing model by test/unit/seedPresets.test.ts.
 */
export const PRESET_HOLDS: Record<LabConfig["attack"]["preset"], { perClient: number; seed: string }> = {
    seed: { perClient: 95, seed: "final published command (sleep 20 ms, times 2): ~1.9k connections on 20 clients" },
    smoke: { perClient: 7, seed: "none (CI)" },
    "seed-1s-plain": { perClient: 201, seed: "sleep 1000: max rate 20k → 8k/s on 6 cores (the preset: 8k/s in all)" },
    "seed-1s-tls": { perClient: 201, seed: "sleep 1000: max rate 20k → 8k/s on 6 cores (the preset: 8k/s in all)" },
    "seed-60s-plain": { perClient: 12_001, seed: "milestone #1: 400k sockets at 8k/s, 600-700k peaks once the timeout was ~70 s" },
    "seed-60s-tls": { perClient: 12_001, seed: "milestone #1: 400k sockets at 8k/s, 600-700k peaks once the timeout was ~70 s" },
    "seed-20min-plain": { perClient: 52_493, seed: "milestone #2: 900/s, 2.1M sockets at HAProxy (1.05M connections; 2.38M seen)" },
    "seed-20min-tls": { perClient: 52_493, seed: "milestone #2: 900/s, 2.1M sockets at HAProxy (1.05M connections; 2.38M seen)" },
};

/** Presets whose run must generate a network rate (their bodies are sized for it), and the seed's figure for it. */
export const PRESET_NETWORK_TARGETS: Partial<Record<LabConfig["attack"]["preset"], { seedBytesPerS: number; seed: string }>> = {
    "seed-20min-plain": { seedBytesPerS: SEED_M2_NETWORK_BYTES_PER_S, seed: "milestone #2: 30 MB/s" },
    "seed-20min-tls": { seedBytesPerS: SEED_M2_NETWORK_BYTES_PER_S, seed: "milestone #2: 30 MB/s" },
};

/** Request bytes a second the settings send over `clients` client hosts: rate × body on each. */
export function plannedNetworkBytesPerS(s: Pick<AttackSettings, "rate" | "bodyBytes">, clients: number): number {
    return s.rate * s.bodyBytes * clients;
}

export function attackSettings(attack: LabConfig["attack"]): AttackSettings {
    const base = PRESET_SETTINGS[attack.preset];
    const overrides = Object.fromEntries(Object.entries(attack).filter(([k, v]) => k !== "preset" && v !== undefined));
    return { ...base, ...overrides } as AttackSettings;
}

export interface VegetaTarget {
    url: string;
    laddr: string;
}

/** vegeta's -rate value: "N/s", or hits per 1000 s for a fractional rate (83.333/s → "83333/1000s"). */
export function vegetaRate(perSecond: number): string {
    return Number.isInteger(perSecond) ? `${perSecond}/s` : `${Math.round(perSecond * 1000)}/1000s`;
}

/** Argument vector (no shell) of one vegeta attack process. */
export function vegetaAttackArgs(s: AttackSettings, target: VegetaTarget, connectionsPerProcess: number, bodyFile: string, outputFile: string): string[] {
    return [
        ...(s.cpus === undefined ? [] : [`-cpus=${s.cpus}`]), // a global flag: before the subcommand
        "attack",
        `-rate=${vegetaRate(s.rate)}`,
        `-duration=${s.durationS}s`,
        `-connections=${connectionsPerProcess}`,
        `-workers=${s.workers}`,
        `-timeout=${s.timeoutS}s`,
        `-header=sleep:${s.sleepMs}`,
        `-header=times:${s.times}`,
        ...(s.holdMs > 0 ? [`-header=hold:${s.holdMs}`] : []),
        `-body=${bodyFile}`,
        `-laddr=${target.laddr}`,
        "-insecure", // the lab's certificate is self-signed
        `-output=${outputFile}`,
    ];
}

export interface ClientInfo {
    name: string;
    workDir: string;
    sourceAddresses: string[];
}

export interface VegetaProcess {
    client: string;
    frontend: "plain" | "tls";
    laddr: string;
    url: string;
    ratePerSecond: number;
    connections: number;
    /** Result file on the client host. */
    remoteOutput: string;
    bodyFile: string;
}

/**
 * One vegeta process per client × frontend × source address, so no process needs more than
 * one address's ports. A client's rate and connection cap are split evenly over its processes.
 */
export function planVegetaProcesses(s: AttackSettings, clients: ClientInfo[], urls: Partial<Record<"plain" | "tls", string>>, runId: string): VegetaProcess[] {
    return clients.flatMap((client) => {
        const slots = s.frontends.flatMap((frontend) => client.sourceAddresses.map((laddr) => ({ frontend, laddr })));
        return slots.map(({ frontend, laddr }) => {
            const url = urls[frontend];
            if (!url) throw new Error(`frontend ${frontend} is not served by this stack (TLS disabled?)`);
            return {
                client: client.name,
                frontend,
                laddr,
                url,
                // Exact share (may be fractional): the processes together send exactly the client's rate.
                ratePerSecond: s.rate / slots.length,
                connections: Math.max(1, Math.ceil(s.connections / slots.length)),
                remoteOutput: `${client.workDir}/vegeta/${runId}-${frontend}-${laddr}.bin`,
                bodyFile: `${client.workDir}/vegeta/body.txt`,
            };
        });
    });
}

/** The remote shell line that runs one planned process (read by root's shell on the client, bash: zx's quoting). */
export function vegetaCommandLine(s: AttackSettings, p: VegetaProcess): string {
    const args = vegetaAttackArgs({ ...s, rate: p.ratePerSecond }, { url: p.url, laddr: p.laddr }, p.connections, p.bodyFile, p.remoteOutput);
    return `printf '%s\\n' ${quote(`POST ${p.url}`)} | vegeta ${args.map(quote).join(" ")}`;
}
