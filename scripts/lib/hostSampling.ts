// Each host's own memory and CPU through a run, when its platform has such figures
// (platform.hostSampler: local cgroups; none on AWS): read every second (less often on long
// runs) from before the load until it ends, into run.json's hostSamples.
import type { HostSampler } from "../../components/platform/platform.ts";
import type { HostSamples } from "../../components/records/runRecord.ts";
import type { Role } from "../../components/types.ts";

/** Readings one run keeps per host at most (the interval grows with the run's length). */
const MAX_READINGS = 300;

/** Seconds between readings for a run of `durationS`: 1 s, longer for long runs. */
export function samplingIntervalS(durationS: number): number {
    return Math.max(1, Math.ceil(durationS / MAX_READINGS));
}

export interface HostSampling {
    /** Takes a last reading, stops, and returns what was read. */
    stop(): HostSamples;
}

/**
 * Reads every host now and every `samplingIntervalS(durationS)` after. A host that cannot be read
 * is listed as unreadable with the first error (a reading that fails once later is skipped).
 */
export function startHostSampling(sampler: HostSampler, o: { stack: string; hosts: { name: string; role: Role }[]; durationS: number }): HostSampling {
    const intervalS = samplingIntervalS(o.durationS);
    const hosts: HostSamples["hosts"] = {};
    const errors = new Map<string, string>();
    const readAll = () => {
        for (const h of o.hosts) {
            try {
                const { limitBytes, sample } = sampler.read(o.stack, h.name);
                hosts[h.name] ??= { role: h.role, ...(limitBytes === undefined ? {} : { limitBytes }), samples: [] };
                hosts[h.name].samples.push(sample);
            } catch (err) {
                if (!errors.has(h.name)) errors.set(h.name, (err as Error).message);
            }
        }
    };
    readAll();
    const timer = setInterval(readAll, intervalS * 1000);
    let stopped: HostSamples | undefined;
    return {
        stop() {
            if (stopped) return stopped;
            clearInterval(timer);
            readAll();
            const unreadable = o.hosts.filter((h) => !hosts[h.name]).map((h) => ({ host: h.name, error: errors.get(h.name) ?? "no reading" }));
            stopped = { source: sampler.source, intervalS, hosts, unreadable };
            return stopped;
        },
    };
}
