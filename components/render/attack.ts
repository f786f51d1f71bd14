// Attack presets and the vegeta command line they render to. Pure.
import type { LabConfig } from "../config.ts";

export interface AttackSettings {
    rate: number;          // requests per second per client host (as the seed ran -rate per client), split over its vegeta processes
    durationS: number;
    connections: number;   // idle-connection cap per client host (vegeta -connections)
    workers: number;       // initial workers per client (vegeta -workers)
    cpus?: number;         // vegeta -cpus (GOMAXPROCS of each vegeta process); vegeta's default: all cores
    timeoutS: number;      // per-request timeout; vegeta's default is 30 s (the seed's first pitfall)
    sleepMs: number;       // pong "sleep" header: wait 0..sleep+1 ms before each write
    times: number;         // pong "times" header: extra writes before the response ends
    holdMs: number;        // pong "hold" header (the rig's own): fixed wait before the first write; 0 = not sent
    bodyBytes: number;     // POST body size (the seed's post_smaller.txt)
    frontends: ("plain" | "tls")[];
}

/**
 * `seed` is the final milestone command of the reference article:
 * `vegeta -cpus=32 attack -connections=1000000 -header=sleep:20 -header=times:2 -body=post_smaller.txt
 *  -timeout=2h -rate=3000 -workers=500` (run per client; it had no -duration, we give 10 min).
 * `smoke` is a few thousand requests, small enough for CI.
 */
export const PRESET_SETTINGS: Record<LabConfig["attack"]["preset"], AttackSettings> = {
    seed: { rate: 3000, durationS: 600, connections: 1_000_000, workers: 500, cpus: 32, timeoutS: 7200, sleepMs: 20, times: 2, holdMs: 0, bodyBytes: 512, frontends: ["plain"] },
    smoke: { rate: 200, durationS: 5, connections: 1000, workers: 20, timeoutS: 70, sleepMs: 20, times: 2, holdMs: 0, bodyBytes: 512, frontends: ["plain", "tls"] },
};

export function attackSettings(attack: LabConfig["attack"]): AttackSettings {
    const base = PRESET_SETTINGS[attack.preset];
    const overrides = Object.fromEntries(Object.entries(attack).filter(([k, v]) => k !== "preset" && v !== undefined));
    return { ...base, ...overrides } as AttackSettings;
}

export interface VegetaTarget { url: string; laddr: string }

/** vegeta's -rate value: "N/s", or hits per 1000 s for a fractional rate (83.333/s → "83333/1000s"). */
export function vegetaRate(perSecond: number): string {
    return Number.isInteger(perSecond) ? `${perSecond}/s` : `${Math.round(perSecond * 1000)}/1000s`;
}

/** Argument vector (no shell) of one vegeta attack process. */
export function vegetaAttackArgs(s: AttackSettings, target: VegetaTarget, connectionsPerProcess: number,
    bodyFile: string, outputFile: string): string[] {
    return [
        ...(s.cpus === undefined ? [] : [`-cpus=${s.cpus}`]),  // a global flag: before the subcommand
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

export interface ClientInfo { name: string; workDir: string; sourceAddresses: string[] }

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
export function planVegetaProcesses(s: AttackSettings, clients: ClientInfo[], urls: Partial<Record<"plain" | "tls", string>>,
    runId: string): VegetaProcess[] {
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

/** The remote shell line that runs one planned process. */
export function vegetaCommandLine(s: AttackSettings, p: VegetaProcess): string {
    const args = vegetaAttackArgs({ ...s, rate: p.ratePerSecond }, { url: p.url, laddr: p.laddr }, p.connections, p.bodyFile, p.remoteOutput);
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    return `printf '%s\\n' ${quote(`POST ${p.url}`)} | vegeta ${args.map(quote).join(" ")}`;
}
