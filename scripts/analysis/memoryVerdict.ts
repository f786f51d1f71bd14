// The LB's memory verdict of an attack: its peak against its limit, what a held connection cost it
// against the planner's figure, the headroom left, and OOM kills — counted as bench:oom counts them:
// the host's cgroup where the platform samples one (local), the kernel log where the LB has a kernel
// of its own (EC2). Pure: the readings come in, the record goes out.
import type { HostSamples, MemoryVerdict } from "../../components/records/runRecord.ts";

export interface MemoryInputs {
    host: string;
    /** The platform's samples of the run (local cgroups), when it has them. */
    hostSamples?: HostSamples;
    /** Kernel-log OOM kills of HAProxy on the LB during the run (before/after difference); undefined when not read or not wanted. */
    kernelLogKills?: number | "unknown";
    heldPeak: number;
    acceptedPeak: number;
    kbPerConnPredicted: number;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

export function memoryVerdict(i: MemoryInputs): MemoryVerdict {
    const h = i.hostSamples?.hosts[i.host];
    const samples = h?.samples ?? [];
    const first = samples[0];
    const peak = samples.reduce<(typeof samples)[number] | undefined>((m, s) => (!m || s.memoryBytes > m.memoryBytes ? s : m), undefined);
    const limitBytes = h?.limitBytes ?? null;
    let oomKills: MemoryVerdict["oomKills"] = "unknown";
    let oomSource: MemoryVerdict["oomSource"] = "none";
    if (first && samples.length > 0) {
        oomKills = Math.max(0, samples[samples.length - 1].oomKills - first.oomKills);
        oomSource = "cgroup";
    } else if (i.kernelLogKills !== undefined) {
        oomKills = i.kernelLogKills;
        oomSource = "kernel log";
    }
    const killed = typeof oomKills === "number" && oomKills > 0;
    // Per session HAProxy had at its most (held through a long hold they are the same; a short one leaves idle keep-alive sessions, which cost too).
    const conns = Math.max(i.heldPeak, i.acceptedPeak);
    const measured = first && peak && conns > 0 && !killed ? r1((peak.memoryBytes - first.memoryBytes) / 1024 / conns) : null;
    return {
        host: i.host,
        limitBytes,
        idleBytes: first?.memoryBytes ?? null,
        peakBytes: peak?.memoryBytes ?? null,
        peakAnonBytes: peak?.anonBytes ?? null,
        peakKernelBytes: peak?.kernelBytes ?? null,
        peakSocketBytes: peak?.socketBytes ?? null,
        heldPeak: i.heldPeak,
        acceptedPeak: i.acceptedPeak,
        kbPerConnPredicted: r1(i.kbPerConnPredicted),
        kbPerConnMeasured: measured,
        headroomPct: limitBytes !== null && peak ? r1((1 - peak.memoryBytes / limitBytes) * 100) : null,
        oomKills,
        oomSource,
    };
}

const mib = (b: number | null) => (b === null ? "?" : (b / 2 ** 20).toFixed(1));

/** One line for the verdict and the summary: "LB peak 1817.5 of 1920.0 MiB (5.3 % to spare), 28.4 KB/conn measured vs 26.3 predicted, 0 OOM kills (cgroup)". */
export function describeMemory(m: MemoryVerdict): string {
    const peak =
        m.peakBytes === null
            ? "LB memory not sampled on this platform"
            : `LB peak ${mib(m.peakBytes)}${m.limitBytes === null ? " MiB (no limit)" : ` of ${mib(m.limitBytes)} MiB (${(m.headroomPct ?? 0) >= 0 ? `${m.headroomPct} % to spare` : `${-(m.headroomPct ?? 0)} % over`})`}`;
    const kb = `${m.kbPerConnMeasured === null ? "KB/conn not measured" : `${m.kbPerConnMeasured} KB/conn measured`} vs ${m.kbPerConnPredicted} predicted (${Math.max(m.heldPeak, m.acceptedPeak)} sessions at most, ${m.heldPeak} end to end)`;
    const oom =
        m.oomKills === "unknown"
            ? "OOM kills unknown (neither a cgroup nor the kernel log read)"
            : m.oomKills > 0
              ? `HAProxy OOM-KILLED ${m.oomKills}× (${m.oomSource})`
              : `0 OOM kills (${m.oomSource})`;
    return `${peak}, ${kb}, ${oom}`;
}

/** True when the memory verdict alone fails the run: an OOM kill. */
export function memoryFails(m: MemoryVerdict | undefined): boolean {
    return !!m && typeof m.oomKills === "number" && m.oomKills > 0;
}
