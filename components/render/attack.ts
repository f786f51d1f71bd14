// Attack presets and the vegeta command line they render to. Pure.
import type { LabConfig } from "../config.ts";

export interface AttackSettings {
    rate: number;          // requests per second per client host (as the seed ran -rate per client), split over its vegeta processes
    durationS: number;
    connections: number;   // idle-connection cap per client host (vegeta -connections)
    workers: number;       // initial workers per client (vegeta -workers)
    timeoutS: number;      // per-request timeout; vegeta's default is 30 s (the seed's first pitfall)
    sleepMs: number;       // pong "sleep" header: wait 0..sleep+1 ms before each write
    times: number;         // pong "times" header: extra writes before the response ends
    bodyBytes: number;     // POST body size (the seed's post_smaller.txt)
    frontends: ("plain" | "tls")[];
}

/**
 * `seed` is the final milestone command of the reference article:
 * `vegeta attack -connections=1000000 -header=sleep:20 -header=times:2 -body=post_smaller.txt
 *  -timeout=2h -rate=3000 -workers=500` (run per client; it had no -duration, we give 10 min).
 * `smoke` is a few thousand requests, small enough for CI.
 */
export const PRESET_SETTINGS: Record<LabConfig["attack"]["preset"], AttackSettings> = {
    seed: { rate: 3000, durationS: 600, connections: 1_000_000, workers: 500, timeoutS: 7200, sleepMs: 20, times: 2, bodyBytes: 512, frontends: ["plain"] },
    smoke: { rate: 200, durationS: 5, connections: 1000, workers: 20, timeoutS: 70, sleepMs: 20, times: 2, bodyBytes: 512, frontends: ["plain", "tls"] },
};

export function attackSettings(attack: LabConfig["attack"]): AttackSettings {
    const base = PRESET_SETTINGS[attack.preset];
    const overrides = Object.fromEntries(Object.entries(attack).filter(([k, v]) => k !== "preset" && v !== undefined));
    return { ...base, ...overrides } as AttackSettings;
}

export interface VegetaTarget { url: string; laddr: string }

/** Argument vector (no shell) of one vegeta attack process. */
export function vegetaAttackArgs(s: AttackSettings, target: VegetaTarget, connectionsPerProcess: number,
    bodyFile: string, outputFile: string): string[] {
    return [
        "attack",
        `-rate=${s.rate}/s`,
        `-duration=${s.durationS}s`,
        `-connections=${connectionsPerProcess}`,
        `-workers=${s.workers}`,
        `-timeout=${s.timeoutS}s`,
        `-header=sleep:${s.sleepMs}`,
        `-header=times:${s.times}`,
        `-body=${bodyFile}`,
        `-laddr=${target.laddr}`,
        "-insecure", // the lab's certificate is self-signed
        `-output=${outputFile}`,
    ];
}

/** vegeta reads targets from stdin in its http format. */
export function vegetaTargetLine(url: string): string {
    return `POST ${url}\n`;
}
