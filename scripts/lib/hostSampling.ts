// Each host's own memory and CPU through a run, when its platform has such figures
// (platform.hostSampler: local cgroups; none on AWS): one sampling loop per host over its SSH,
// started before the load and stopped after it, its readings parsed into run.json's hostSamples.
import type { HostSampler } from "../../components/platform/platform.ts";
import type { HostSamples } from "../../components/records/runRecord.ts";
import type { Role } from "../../components/types.ts";
import type { SshSession, SshTarget } from "./ssh.ts";

/** Readings one run keeps per host at most (the interval grows with the run's length). */
const MAX_READINGS = 300;

/** Seconds between readings for a run of `durationS`: 1 s, longer for long runs. */
export function samplingIntervalS(durationS: number): number {
    return Math.max(1, Math.ceil(durationS / MAX_READINGS));
}

export interface HostSampling {
    /** Ends every host's loop and returns what was read. */
    stop(): Promise<HostSamples>;
}

export function startHostSampling(ssh: SshSession, sampler: HostSampler, o: {
    stack: string; runId: string; hosts: { name: string; role: Role }[]; target: (name: string) => SshTarget;
    /** Planned length of the run (load and its end): the loops stop by themselves some time after it. */
    durationS: number; maxS: number;
}): HostSampling {
    const intervalS = samplingIntervalS(o.durationS);
    const count = Math.ceil(o.maxS / intervalS) + 1;
    const tag = (host: string) => `c2m-host-sample-${o.runId}-${host}`;
    const loops = o.hosts.map((h) => ssh.run(o.target(h.name), sampler.script(o.stack, h.name, { intervalS, count, tag: tag(h.name) }),
        { timeoutMs: (o.maxS + 60) * 1000 }));
    return {
        async stop() {
            await Promise.all(o.hosts.map((h) => ssh.run(o.target(h.name), sampler.stopScript(tag(h.name)), { timeoutMs: 15_000 })));
            const outputs = await Promise.all(loops);
            const hosts: HostSamples["hosts"] = {};
            const unreadable: HostSamples["unreadable"] = [];
            o.hosts.forEach((h, i) => {
                const r = outputs[i];
                try {
                    const { limitBytes, samples } = sampler.parse(r.stdout);
                    if (samples.length === 0) throw new Error(`no reading (exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-300)}` : ""})`);
                    hosts[h.name] = { role: h.role, ...(limitBytes === undefined ? {} : { limitBytes }), samples };
                } catch (err) {
                    unreadable.push({ host: h.name, error: (err as Error).message });
                }
            });
            return { source: sampler.source, intervalS, hosts, unreadable };
        },
    };
}
