// The seed's three boxes and what it claimed of each, and how `lab reproduce` scales a tier down:
// memory, CPU and connections divided together by N (the ramp too: time is not scaled, so the same
// seconds of ramp and hold). Pure; the figures are the seed's (reference/seed-haproxy-2m-ssl-connections.fr.md).

/** The seed's goal (Milestone 2): 2.1M established TCP connections at HAProxy, i.e. 1.05M end to end. */
export const SEED_TARGET_CONNS = 1_050_000;
/**
 * The seed's offered rate of new connections (all clients): its box "topped out" at 8k requests/s
 * ("400k connexions TCP établies avec 8k requêtes par seconde"); the local tier files' 500/s at 1/16.
 */
export const SEED_RAMP_PER_S = 8000;
/** How long the rig holds every request open (pong's hold), s: the tier files' 300 s; the seed held ~20 minutes. */
export const DEFAULT_HOLD_S = 300;

export type SeedTier = "4c30g" | "16c30g" | "16c64g";

export interface SeedTierShape {
    cores: number;
    memoryGB: number;
    /** What the seed says happened on this box at the 2.1M goal, in one line, and the outcome it implies. */
    seedSaw: string;
    seedOutcome: "oom" | "held" | "not run";
    /** The seed's own figure for it (connections at HAProxy when it died, or held), when it gives one. */
    seedFigure?: number;
}

export const SEED_TIERS: Record<SeedTier, SeedTierShape> = {
    // "Nos machines de production … sont 4 cœurs 30 Gig": the seed's production box, where it wanted nbproc = 3; never run at 2.1M.
    "4c30g": { cores: 4, memoryGB: 30, seedSaw: "the seed's production box (nbproc 3 planned); never run at the 2.1M goal", seedOutcome: "not run" },
    // "À 1,3 million, les connexions HAProxy ont soudainement chuté à 0 … à court de mémoire" (16 cores, 30 GB, 3 for HAProxy).
    "16c30g": { cores: 16, memoryGB: 30, seedSaw: "seed: HAProxy OOM-killed at 1.3M connections", seedOutcome: "oom", seedFigure: 1_300_000 },
    // "nous sommes passés à une machine 16 cœurs 64 Gig avec nbproc = 3 … 2,4 millions de connexions" (2.38M established).
    "16c64g": { cores: 16, memoryGB: 64, seedSaw: "seed: held 2.38M TCP connections", seedOutcome: "held", seedFigure: 2_380_000 },
};

/** "1/16", "16" → 16. Throws naming the value. */
export function parseScale(text: string): number {
    const m = /^\s*(?:1\s*\/\s*)?(\d+)\s*$/.exec(text);
    const n = m ? Number(m[1]) : NaN;
    if (!Number.isInteger(n) || n < 1) throw new Error(`--scale ${text}: give 1/N with N a whole number ≥ 1 (1/16 for the local tiers)`);
    return n;
}

export interface ScaledTier {
    tier: SeedTier;
    scale: number;
    /** The LB's memory (MiB) and CPUs' worth of time. */
    memoryMiB: number;
    cpuQuota: number;
    /** End-to-end connections and new connections/s over all clients. */
    connections: number;
    rampPerS: number;
    /** Requests/s per client and the ramp's seconds (rate × duration × clients ≤ connections, within one second's worth). */
    ratePerClient: number;
    durationS: number;
}

/** Least CPU time a cgroup quota gives here (cfs_quota_us ≥ 1 ms of a 100 ms period). */
export const MIN_CPU_QUOTA = 0.01;

/** The tier divided by N: memory, CPU and connections together. Throws naming the number that breaks. */
export function scaleTier(tier: SeedTier, scale: number, clients: number, o: { machineCpus: number; minMemoryMiB: number }): ScaledTier {
    const t = SEED_TIERS[tier];
    const memoryMiB = Math.round((t.memoryGB * 1024) / scale);
    const cpuQuota = t.cores / scale;
    const connections = Math.round(SEED_TARGET_CONNS / scale);
    const rampPerS = SEED_RAMP_PER_S / scale;
    if (cpuQuota < MIN_CPU_QUOTA)
        throw new Error(`--scale 1/${scale}: ${tier}'s ${t.cores} cores become ${cpuQuota.toFixed(4)} CPU, under the least quota ${MIN_CPU_QUOTA}`);
    if (cpuQuota > o.machineCpus)
        throw new Error(`--scale 1/${scale}: ${tier}'s ${t.cores} cores become ${cpuQuota} CPUs, more than this machine's ${o.machineCpus}`);
    if (memoryMiB < o.minMemoryMiB)
        throw new Error(
            `--scale 1/${scale}: ${tier}'s ${t.memoryGB} GB become ${memoryMiB} MiB, under the ${o.minMemoryMiB} MiB its idle HAProxy processes take`,
        );
    const ratePerClient = Math.max(1, Math.round(rampPerS / clients));
    // Whole seconds that send no more than the target (the plan sizes every host for it): 65,500 of 65,625 at 1/16.
    const durationS = Math.max(1, Math.floor(connections / (ratePerClient * clients)));
    return { tier, scale, memoryMiB, cpuQuota, connections, rampPerS: ratePerClient * clients, ratePerClient, durationS };
}

/** A tier's name from a stack name: local-16c30g, aws-16c30g, repro-16c30g → 16c30g; undefined when not a seed tier. */
export function tierOfStack(stack: string): SeedTier | undefined {
    const m = /^(?:local|aws|repro)-(\d+c\d+g)$/.exec(stack);
    return m && m[1] in SEED_TIERS ? (m[1] as SeedTier) : undefined;
}

const big = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2).replace(/0$/, "")}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n));

export interface TierOutcome {
    held: number;
    target: number;
    oomKilled: boolean | "unknown";
    headroomPct: number | null;
    errorsPct: number;
    /** What the planner predicted: holds, or dies (of memory or in the ramp). */
    predicted: "holds" | "dies_of_memory" | "dies_during_ramp";
    /**
     * The planner said AT THE EDGE: the handshake rate the tier needs and the one it predicts are
     * closer than the spread of the runs it was fitted to, so it may live or die. Such a run is
     * scored neither right nor wrong (localTier.ts).
     */
    atTheEdge?: boolean;
}

/**
 * The verdict on the seed's claim for this tier, in one line: what the seed saw, what happened here
 * (at full-scale figures: ×N), and whether the planner's prediction held.
 */
export function seedClaimVerdict(tier: SeedTier, scale: number, o: TierOutcome): string {
    const t = SEED_TIERS[tier];
    const full = (n: number) => big(n * scale);
    const ok = o.oomKilled === false && o.errorsPct <= 1;
    const here =
        o.oomKilled === true
            ? `here OOM-killed after holding ${full(o.held)} connections (${o.held} at 1/${scale})`
            : o.oomKilled === "unknown"
              ? `here held ${full(o.held)} (${o.held} at 1/${scale}), whether HAProxy was OOM-killed unknown`
              : !ok
                ? `here held only ${full(o.held)} of ${full(o.target)} (${o.errorsPct.toFixed(1)} % errors), not OOM-killed`
                : o.held >= o.target * 0.99
                  ? `here held ${full(o.held)} (${o.held} at 1/${scale})${o.headroomPct === null ? "" : ` with ${o.headroomPct} % of memory to spare`}`
                  : `here every request answered, at most ${full(o.held)} held at once (${o.held} at 1/${scale}: the hold ended before the ramp's last handshake)`;
    const survived = ok;
    const agrees = t.seedOutcome === "not run" ? "" : (t.seedOutcome === "held") === survived ? " — as the seed" : " — unlike the seed";
    const planned = o.predicted === "holds" ? survived : !survived;
    const score = o.atTheEdge ? `at the edge: ${survived ? "it lived" : "it died"}, neither right nor wrong` : planned ? "right" : "WRONG";
    return `${t.cores} cores / ${t.memoryGB} GB: ${t.seedSaw} — ${here}${agrees}; planner predicted ${o.predicted.replace(/_/g, " ")} (${score})`;
}
