// What a platform is: how hosts come to exist, how they are reached, what the machine under
// them imposes, what is checked before anything exists, and what a stack may leave behind.
// One implementation per platform (local/, aws/); platformFor (registry.ts) picks it.
// Nothing outside components/platform/ asks which platform it is.
import type * as pulumi from "@pulumi/pulumi";
import type { LabConfig } from "../config.ts";
import type { CapacityPlan } from "../plan/capacity.ts";
import type { TuningPlan } from "../render/tuning.ts";
import type { Host, Role } from "../types.ts";

/** A host to create: its name (unique in the stack) and role. */
export interface HostSpec {
    name: string;
    role: Role;
}

/** A stack's validated config and its capacity plan, computed once per command (loadConfig.ts). */
export interface PlannedConfig {
    readonly stack: string;
    readonly config: LabConfig;
    readonly capacity: CapacityPlan;
}

/** What is left of a stack, by kind (e.g. namespaces, instances): names or ids, empty when none. */
export type Residue = Record<string, string[]>;

/** One reading of a host's own resources (local: its cgroup). Bytes, nanoseconds; `t` is Unix ms on the host's clock. */
export interface HostSample {
    t: number;
    /** All memory charged to the host: user + kernel, socket buffers included. */
    memoryBytes: number;
    /** Anonymous memory of its processes (heaps). */
    anonBytes: number;
    /** Page cache charged to it. */
    fileBytes: number;
    /** Kernel memory: slab (socket, file, epoll objects), stacks, page tables; socket buffers apart. */
    kernelBytes: number;
    /** TCP socket buffers. */
    socketBytes: number;
    /** CPU time its processes used since the host began, ns (a counter). */
    cpuNs: number;
    /** Processes the kernel OOM-killed in it so far (a counter). */
    oomKills: number;
    /** Times its memory limit was hit so far (a counter). */
    limitHits: number;
}

/**
 * Reads each host's own memory and CPU, through a run. The platform's own view of the hosts it
 * made, like its residue check (local: the cgroup it put each host in, read on this machine;
 * inside a host's network namespace the cgroup file system is not mounted), not a service of the host.
 */
export interface HostSampler {
    /** What a reading is of, recorded with the run. */
    readonly source: string;
    /** One reading of `host` of `stack` now, with its memory limit; throws, naming what it could not read. */
    read(stack: string, host: string): { limitBytes: number | undefined; sample: HostSample };
}

/** What a platform created for the program: the hosts and the stack outputs it owns. */
export interface PlatformHosts {
    readonly hosts: Host[];
    /** Each host is reached at its `ssh` (host, port, user) with this key; a Pulumi secret. */
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly outputs: {
        /** Prefix of the stack's network namespaces; undefined where hosts are not namespaces. */
        readonly namespacePrefix: string | undefined;
        /** Each host keeps its files under runDir/<host>. */
        readonly runDir: string;
        /** When scheduled teardown destroys the lab (UTC ISO 8601); renewed by each up. */
        readonly expiresAt: pulumi.Input<string>;
        /** The platform's own facts for the operator (EC2: region, instance ids, …); undefined when none. */
        readonly summary: pulumi.Output<object> | undefined;
    };
}

/** What the Pulumi program (index.ts) needs of a platform: checks, machine limits, and hosts made. */
export interface ProgramPlatform {
    readonly name: LabConfig["platform"];
    /** Hosts share one kernel (local namespaces): machine-wide settings then cover every host's sockets and are applied once, by the platform. */
    readonly sharedKernel: boolean;
    /** The config with the limits of the machine hosts run on, unless the stack sets them (local: this machine's CPUs, open files and memory). */
    withMachineLimits(config: LabConfig): LabConfig;
    /** Memory of the host a role runs on, in bytes (0 when unknown). */
    hostMemoryBytes(config: LabConfig, role: Role): number;
    /** Refuses, naming the config key, what this platform cannot build; before anything exists. */
    check(planned: PlannedConfig): void;
    /** Creates the hosts (inside a Pulumi program) with each host's tuning, by host name (the one the tuning role applies). */
    create(planned: PlannedConfig, hosts: HostSpec[], tuning: Map<string, TuningPlan>): Promise<PlatformHosts>;
}

/**
 * What the operator's commands (scripts/) need of a platform around a program's run: how `lab up`
 * drives the engine, what a run reads from hosts beside the roles, and what a stack left behind.
 */
export interface OperatorPlatform {
    readonly name: LabConfig["platform"];
    /** `lab up` runs the policy pack (guardrails for billed cloud resources). */
    readonly needsPolicyPack: boolean;
    /** `reap` removes everything by name, so a stack's state may go even when destroy failed (local); otherwise state is what removes it and is kept. */
    readonly reapsWithoutState: boolean;
    /** Hosts are the EC2 instances `lab plan` prices; otherwise the plan is "as if on AWS". */
    readonly pricedByPlanner: boolean;
    /** `lab up` refreshes the state first (`pulumi up --refresh`): hosts may have ended themselves at expiry, or changed outside Pulumi. */
    readonly refreshBeforeUp: boolean;
    /**
     * Shell (POSIX sh) run on a host over SSH before and after each run: prints, as `name: value`
     * lines, the counters of traffic the machine under the host dropped (allowances.ts judges them).
     */
    readonly allowanceCountersScript: string;
    /**
     * Per-host memory and CPU through a run (local: each host's cgroup); undefined where a host
     * has no figures of its own beyond the machine's (an EC2 host is a whole instance): runs then carry none.
     */
    readonly hostSampler: HostSampler | undefined;
    /** CPU cores a host is held to that the host cannot see from inside (local: its cgroup's quota); undefined when none. */
    hostCpuQuota(config: LabConfig, role: Role): number | undefined;
    /** What the stack left on this platform, found by name or tag (works without Pulumi state); throws when it cannot tell. */
    residue(stack: string, config: LabConfig): Promise<Residue>;
    /** Removes what can be removed without state, then returns what is left. */
    reap(stack: string, config: LabConfig): Promise<Residue>;
}

/** A platform: one object per platform (local/local.ts, aws/aws.ts) serving both sides. */
export interface Platform extends ProgramPlatform, OperatorPlatform {}

export function residueCount(r: Residue): number {
    return Object.values(r).reduce((sum, items) => sum + items.length, 0);
}

/** "networkInterfaces" → "network interfaces". */
const words = (kind: string) => kind.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);

export function describeResidue(r: Residue): string {
    const kinds = Object.entries(r);
    if (residueCount(r) === 0) return `residue check: none (${kinds.map(([k]) => `0 ${words(k)}`).join(", ")})`;
    return ["residue check: LEFT BEHIND", ...kinds.filter(([, v]) => v.length).map(([k, v]) => `  ${words(k)}: ${v.join(", ")}`)].join("\n");
}
