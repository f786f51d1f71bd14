// Kernel settings and open-file limits, derived from the capacity plan. Pure: returns the
// values and why; the tuning role (per host) and the local platform (machine-wide keys)
// apply them and read them back.
import type { Role } from "../types.ts";
import { LOCAL_PORT_RANGE, PORTS_PER_SOURCE_ADDRESS, type CapacityPlan } from "../plan/capacity.ts";

export interface Setting {
    key: string;
    value: string;
    why: string;
    /** Raise to the value but never lower a larger one (shared, machine-wide limits). */
    atLeast?: boolean;
    /** Skipped where the kernel does not have the key (e.g. no conntrack module). */
    optional?: boolean;
}

export interface TuningPlan {
    /** net.* keys: per network namespace, so per host even on the local platform. */
    sysctls: Setting[];
    /** Machine-wide keys (fs.*, net.ipv4.tcp_mem): once per kernel. */
    kernel: Setting[];
    /** Open files each of the role's processes runs with (`ulimit -n`). */
    nofile: number;
}

const PAGE = 4096;

/** Sockets one host of a role holds at the plan's peak. */
export function socketsOnHost(role: Role, capacity: CapacityPlan, backends: number): number {
    switch (role) {
        case "haproxy":
            return 2 * capacity.connections;
        case "client":
            return capacity.client.connectionsPerClient;
        case "backend":
            return Math.ceil(capacity.connections / backends);
        case "metrics":
            return 1024; // Prometheus: one connection per scrape target
    }
}

export function nofileFor(role: Role, capacity: CapacityPlan): number {
    switch (role) {
        case "haproxy":
            return capacity.haproxy.nofile;
        case "client":
            return capacity.client.nofile;
        case "backend":
            return capacity.backend.nofile;
        case "metrics":
            return Math.min(capacity.nofileCeiling, 16_384);
    }
}

/** Settings of one host's own network stack. */
export function hostSysctls(sockets: number): Setting[] {
    // Idle connections dominate: a small default buffer keeps each socket cheap; the max
    // stays high so a busy connection can still grow.
    const defaultBuffer = sockets > 50_000 ? 16_384 : 87_380;
    return [
        {
            key: "net.ipv4.ip_local_port_range",
            value: `${LOCAL_PORT_RANGE.first} ${LOCAL_PORT_RANGE.last}`,
            why: `${PORTS_PER_SOURCE_ADDRESS} ephemeral ports per source address (the seed's ~63k per IP)`,
        },
        { key: "net.ipv4.tcp_tw_reuse", value: "1", why: "reuse TIME_WAIT ports for new outgoing connections during ramps" },
        { key: "net.ipv4.tcp_fin_timeout", value: "15", why: "free closed sockets sooner than the 60 s default" },
        { key: "net.core.somaxconn", value: "65535", why: "accept queue deep enough for a ramp's connection bursts" },
        { key: "net.ipv4.tcp_max_syn_backlog", value: "65535", why: "SYN queue deep enough for a ramp's connection bursts" },
        {
            key: "net.ipv4.tcp_rmem",
            value: `4096 ${defaultBuffer} 6291456`,
            why: `${sockets} sockets: small minimum/default receive buffers per idle connection`,
        },
        { key: "net.ipv4.tcp_wmem", value: `4096 ${Math.min(defaultBuffer, 16_384)} 4194304`, why: "small minimum/default send buffers per idle connection" },
        {
            key: "net.netfilter.nf_conntrack_max",
            value: String(Math.max(262_144, Math.ceil(sockets * 1.25))),
            atLeast: true,
            optional: true,
            why: "where conntrack is loaded, a full table drops new connections silently: room for every socket",
        },
    ];
}

/** The kernel's default net.core.netdev_max_backlog. */
export const DEFAULT_INPUT_BACKLOG = 1000;

/**
 * net.core.netdev_max_backlog: packets each CPU may queue before the kernel's network work takes
 * them (veth and loopback always go through this queue; a NIC through RPS). At the default 1,000,
 * bench:scale's 300k plain runs dropped ~11 million packets each (/proc/net/softnet_stat, second
 * column: docs/results/scale.md), ~50,000 a second of ~90,000 with 300,000 connections idle: bursts
 * overflow it, not the mean rate (connections opened together have their timers — keepalive
 * probes, the end of a hold — fire together). The worst burst is one packet per socket the kernel
 * holds, so the queue is that deep. It costs memory only while a burst waits in it (~1 KB per
 * small packet): a queue never holds more than was sent.
 */
export function inputBacklog(sockets: number): number {
    return Math.max(DEFAULT_INPUT_BACKLOG, sockets);
}

/** Machine-wide settings for a kernel that carries `sockets` sockets in all. */
export function kernelSysctls(sockets: number, largestNofile: number, memoryBytes: number): Setting[] {
    const highPages = Math.min(Math.ceil((sockets * 2 * PAGE) / PAGE), Math.floor((0.6 * memoryBytes) / PAGE));
    return [
        {
            key: "fs.nr_open",
            value: String(Math.max(1_048_576, largestNofile)),
            atLeast: true,
            why: "per-process open-file maximum the kernel allows (≥ the largest nofile)",
        },
        {
            key: "fs.file-max",
            value: String(Math.ceil(sockets * 1.2) + 65_536),
            atLeast: true,
            why: `system-wide open files: ${sockets} sockets + 20% + room for everything else`,
        },
        {
            // A namespace may not set a conntrack table larger than the initial namespace's.
            key: "net.netfilter.nf_conntrack_max",
            value: String(Math.max(262_144, Math.ceil(sockets * 1.25))),
            atLeast: true,
            optional: true,
            why: "machine-wide ceiling of every namespace's conntrack table: room for every socket",
        },
        {
            // Machine-wide: a network namespace has no net.core.netdev_max_backlog of its own.
            key: "net.core.netdev_max_backlog",
            value: String(inputBacklog(sockets)),
            atLeast: true,
            why: `per-CPU input queue: a burst of one packet per socket (${sockets}) waits instead of being dropped`,
        },
        {
            key: "net.ipv4.tcp_mem",
            value: `${Math.floor(highPages / 2)} ${Math.floor((highPages * 3) / 4)} ${highPages}`,
            atLeast: true,
            why: `TCP buffer pages for ${sockets} sockets (2 pages each at most, ≤ 60% of memory) before the kernel starts pruning`,
        },
    ];
}

export interface TuningInput {
    role: Role;
    capacity: CapacityPlan;
    backends: number;
    /** Sockets on the kernel this host runs on (all local hosts share one). */
    kernelSockets: number;
    memoryBytes: number;
}

export function renderTuning(input: TuningInput): TuningPlan {
    const nofile = nofileFor(input.role, input.capacity);
    if (nofile > input.capacity.nofileCeiling) {
        throw new Error(`${input.role}: needs ${nofile} open files per process, the host allows ${input.capacity.nofileCeiling}`);
    }
    const largestNofile = Math.max(input.capacity.haproxy.nofile, input.capacity.client.nofile, input.capacity.backend.nofile);
    return {
        sysctls: hostSysctls(socketsOnHost(input.role, input.capacity, input.backends)),
        kernel: kernelSysctls(input.kernelSockets, largestNofile, input.memoryBytes),
        nofile,
    };
}

/**
 * What a host applies itself: its network stack's settings, plus the machine-wide ones when
 * the kernel is its own (the tuning role, and cloud-init on EC2). One entry per key.
 */
export function appliedSettings(plan: TuningPlan, sharedKernel: boolean): Setting[] {
    if (sharedKernel) return plan.sysctls;
    // nf_conntrack_max is in both lists; on a kernel of its own the machine-wide entry covers the host.
    const machineWide = new Set(plan.kernel.map((s) => s.key));
    return [...plan.sysctls.filter((s) => !machineWide.has(s.key)), ...plan.kernel];
}

const SHELL_HELPERS = [
    "fail=0",
    `norm() { tr -s ' \\t' ' ' | sed 's/^ //; s/ $//'; }`,
    `path() { echo "/proc/sys/$(echo "$1" | tr . /)"; }`,
    // Component-wise maximum of two space-separated vectors.
    `vmax() { echo "$1|$2" | awk -F'|' '{n=split($1,a," "); split($2,b," "); s=""; for(i=1;i<=n;i++){v=(a[i]+0>b[i]+0)?a[i]:b[i]; s=s (i>1?" ":"") v}; print s}'; }`,
    `vge() { echo "$1|$2" | awk -F'|' '{n=split($2,b," "); split($1,a," "); for(i=1;i<=n;i++) if (a[i]+0<b[i]+0) exit 1}'; }`,
    `apply() { key=$1; want=$2; mode=$3; opt=$4; p=$(path "$key"); if [ ! -e "$p" ]; then [ "$opt" = optional ] && return 0; echo "$key: not available on this host" >&2; fail=1; return 0; fi; ` +
        `if [ "$mode" = atleast ]; then want=$(vmax "$(sysctl -n "$key" | norm)" "$want"); fi; sysctl -q -w "$key=$want" || fail=1; }`,
    `check() { key=$1; want=$2; mode=$3; opt=$4; p=$(path "$key"); if [ ! -e "$p" ]; then [ "$opt" = optional ] || { echo "$key: wanted $want, host has <missing>" >&2; fail=1; }; return 0; fi; ` +
        `got=$(sysctl -n "$key" | norm); if [ "$mode" = atleast ]; then vge "$got" "$want" || { echo "$key: wanted at least $want, host has $got" >&2; fail=1; }; ` +
        `else [ "$got" = "$want" ] || { echo "$key: wanted $want, host has $got" >&2; fail=1; }; fi; }`,
];

function calls(fn: "apply" | "check", settings: Setting[]): string[] {
    return settings.map((s) => `${fn} '${s.key}' '${s.value}' ${s.atLeast ? "atleast" : "exact"} ${s.optional ? "optional" : "required"}`);
}

/**
 * Shell that applies the settings, then reads every one back and fails with
 * "key: wanted X, host has Y" on a mismatch, so a host that silently ignored a setting fails
 * the update. With `nofile`, also checks processes can really be given that many open files.
 */
export function tuningScript(settings: Setting[], nofile?: number): string {
    return [
        ...SHELL_HELPERS,
        ...calls("apply", settings),
        ...calls("check", settings),
        ...(nofile === undefined
            ? []
            : [
                  `got=$(ulimit -n ${nofile} 2>/dev/null && ulimit -n); [ "$got" = "${nofile}" ] || { echo "nofile: wanted ${nofile}, host allows $(ulimit -Hn)" >&2; fail=1; }`,
              ]),
        "exit $fail",
    ].join("\n");
}

/** Prints "key=value" for each setting, to restore them later. */
export function sysctlSaveScript(settings: Setting[]): string {
    return settings.map((s) => `[ -e "/proc/sys/${s.key.replace(/\./g, "/")}" ] && echo "${s.key}=$(sysctl -n ${s.key} | tr -s ' \\t' ' ')"`).join("\n");
}
