// A local host's cgroup: every process started over the host's SSH (its sshd and all it starts)
// lives in a cgroup of its own, /sys/fs/cgroup/<controller>/c2m/<stack>/<host> (cgroup v1:
// memory, cpuset, cpu, cpuacct) or /sys/fs/cgroup/c2m/<stack>/<host> (a cgroup v2 machine).
// It carries the host's limits (CPU list, CPU time, memory: a scaled-down tier) and gives its
// exact figures (memory incl. kernel and socket memory, CPU time, OOM kills). Hosts without
// limits still get one, for accounting. Scripts and parsers are pure; the readers read /sys.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { HostSample } from "../platform.ts";

export const CGROUP_ROOT = "/sys/fs/cgroup";
/** cgroup v1 controllers a host's cgroup exists in (each its own hierarchy on this kind of machine). */
export const V1_CONTROLLERS = ["memory", "cpuset", "cpu", "cpuacct"] as const;

/** Limits of one host (c2m:local.hostLimits.<role>); absent fields are not limited. */
export interface HostLimits {
    /** CPUs the host's processes may run on, a cpuset list: "0", "0-1", "0,2". */
    cpus?: string;
    /** CPU time, in CPUs' worth (0.25 = a quarter of one CPU), enforced by CFS quota. */
    cpuQuota?: number;
    /** Memory (user + kernel, socket buffers included) before the kernel OOM-kills in the host. */
    memoryMiB?: number;
}

/** The host's cgroup below a controller's root (v1) or the unified root (v2). */
export function cgroupRel(stack: string, host: string): string {
    return `c2m/${stack}/${host}`;
}

/** Every directory a stack's cgroups may occupy, on either cgroup version: the residue check looks here. */
export function stackCgroupDirs(stack: string, root = CGROUP_ROOT): string[] {
    return [...V1_CONTROLLERS.map((c) => `${root}/${c}/c2m/${stack}`), `${root}/c2m/${stack}`];
}

/**
 * The period a CPU quota is enforced over. A host that used its quota waits for the next period:
 * at the kernel's default 100 ms, a tenth of a CPU meant stalls of up to 90 ms (an LB at 50/s
 * showed a 254 ms p99); 20 ms keeps them near the lab's own tail. The kernel's smallest quota
 * is 1 ms, so a quota is at least 0.05 CPU (MIN_CPU_QUOTA).
 */
export const CFS_PERIOD_US = 20_000;
export const MIN_CPU_QUOTA = 1000 / CFS_PERIOD_US;

/**
 * Creates the host's cgroup with its limits and moves the calling shell into it (so the sshd it
 * starts next, and every process started over SSH, are in it). Idempotent; cgroup v1 or v2.
 */
export function cgroupCreateScript(stack: string, host: string, limits: HostLimits = {}): string {
    const rel = cgroupRel(stack, host);
    const memory = limits.memoryMiB === undefined ? undefined : limits.memoryMiB * 1024 * 1024;
    const quota = limits.cpuQuota === undefined ? undefined : Math.max(1000, Math.round(limits.cpuQuota * CFS_PERIOD_US));
    const v1 = [
        `for c in ${V1_CONTROLLERS.join(" ")}; do mkdir -p ${CGROUP_ROOT}/$c/${rel}; done`,
        // A new cpuset has no CPUs or memory nodes: each level takes its parent's, then the host's own list.
        `p=${CGROUP_ROOT}/cpuset`,
        `for d in c2m c2m/${stack} ${rel}; do`,
        `  for f in cpuset.cpus cpuset.mems; do [ -n "$(cat $p/$d/$f)" ] || cat $p/$(dirname $d)/$f > $p/$d/$f; done`,
        "done",
        ...(limits.cpus === undefined ? [] : [`echo ${limits.cpus} > $p/${rel}/cpuset.cpus`]),
        `m=${CGROUP_ROOT}/memory/${rel}`,
        `echo ${memory ?? -1} > $m/memory.limit_in_bytes`,
        // v1 counts socket buffers apart (kmem.tcp) and only once a limit is written: write one.
        `echo ${memory ?? -1} > $m/memory.kmem.tcp.limit_in_bytes 2>/dev/null || true`,
        `echo ${CFS_PERIOD_US} > ${CGROUP_ROOT}/cpu/${rel}/cpu.cfs_period_us`,
        `echo ${quota ?? -1} > ${CGROUP_ROOT}/cpu/${rel}/cpu.cfs_quota_us`,
        `for c in ${V1_CONTROLLERS.join(" ")}; do echo $$ > ${CGROUP_ROOT}/$c/${rel}/cgroup.procs; done`,
    ];
    const v2 = [
        `mkdir -p ${CGROUP_ROOT}/${rel}`,
        `for d in ${CGROUP_ROOT} ${CGROUP_ROOT}/c2m ${CGROUP_ROOT}/c2m/${stack}; do echo '+memory +cpuset +cpu' > $d/cgroup.subtree_control 2>/dev/null || true; done`,
        `g=${CGROUP_ROOT}/${rel}`,
        ...(limits.cpus === undefined ? [] : [`echo ${limits.cpus} > $g/cpuset.cpus`]),
        `echo ${memory ?? "max"} > $g/memory.max`,
        `echo 0 > $g/memory.swap.max 2>/dev/null || true`,
        `echo '${quota ?? "max"} ${CFS_PERIOD_US}' > $g/cpu.max`,
        `echo $$ > $g/cgroup.procs`,
    ];
    return [`if [ -f ${CGROUP_ROOT}/cgroup.controllers ]; then`, ...v2.map((l) => `  ${l}`), "else", ...v1.map((l) => `  ${l}`), "fi"].join("\n");
}

/**
 * Kills what is still in the host's cgroup and removes it (and the stack's level when it is the
 * last host, and c2m/ when it is the last stack). Idempotent.
 */
export function cgroupDeleteScript(stack: string, host: string): string {
    const rel = cgroupRel(stack, host);
    const dirs = [...V1_CONTROLLERS.map((c) => `${CGROUP_ROOT}/${c}/${rel}`), `${CGROUP_ROOT}/${rel}`];
    return [
        `for d in ${dirs.join(" ")}; do`,
        `  [ -d $d ] || continue`,
        `  for i in $(seq 1 50); do pids=$(cat $d/cgroup.procs 2>/dev/null); [ -z "$pids" ] && break; kill -KILL $pids 2>/dev/null || true; sleep 0.1; done`,
        `  rmdir $d 2>/dev/null || rmdir $d`,
        `  rmdir $(dirname $d) 2>/dev/null || true`,
        `  rmdir $(dirname $(dirname $d)) 2>/dev/null || true`,
        "done",
    ].join("\n");
}

/** One reading of a host's cgroup. Bytes and nanoseconds; kernel figures are 0 where the kernel does not count them. */
/** A host's cgroup now: the platform's HostSample fields (v1: usage_in_bytes + kmem.tcp, kmem.tcp, failcnt; v2: memory.current, memory.stat sock, memory.events max), and more. */
export interface CgroupReading extends Omit<HostSample, "t"> {
    /** Memory limit; undefined when unlimited. */
    limitBytes: number | undefined;
    /** The cgroup is OOM now (v1 under_oom). */
    underOom: boolean;
}

const UNLIMITED = 2 ** 62;

/** "key value" lines → record. Pure. */
export function parseKeyValues(text: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of text.split("\n")) {
        const [k, v] = line.trim().split(/\s+/);
        if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
    }
    return out;
}

const num = (text: string | undefined, what: string): number => {
    const t = (text ?? "").trim();
    const n = Number(t);
    if (!/^-?\d+$/.test(t) || !Number.isFinite(n)) throw new Error(`cgroup: ${what} is unreadable (${JSON.stringify(text)})`);
    return n;
};

/** The v1 files of a host's cgroup, as read (kmem files absent on kernels without them). */
export interface CgroupV1Files {
    "memory.usage_in_bytes": string;
    "memory.limit_in_bytes": string;
    "memory.stat": string;
    "memory.oom_control": string;
    "memory.failcnt": string;
    "memory.kmem.usage_in_bytes"?: string;
    "memory.kmem.tcp.usage_in_bytes"?: string;
    "cpuacct.usage": string;
}

/**
 * A v1 reading. usage_in_bytes includes kmem (slab, stacks) but not kmem.tcp (socket buffers,
 * counted apart in v1), so memory = usage + tcp. Pure.
 */
export function parseCgroupV1(f: CgroupV1Files): CgroupReading {
    const stat = parseKeyValues(f["memory.stat"]);
    const oom = parseKeyValues(f["memory.oom_control"]);
    const usage = num(f["memory.usage_in_bytes"], "memory.usage_in_bytes");
    const limit = num(f["memory.limit_in_bytes"], "memory.limit_in_bytes");
    const kernel = f["memory.kmem.usage_in_bytes"] === undefined ? 0 : num(f["memory.kmem.usage_in_bytes"], "memory.kmem.usage_in_bytes");
    const socket = f["memory.kmem.tcp.usage_in_bytes"] === undefined ? 0 : num(f["memory.kmem.tcp.usage_in_bytes"], "memory.kmem.tcp.usage_in_bytes");
    return {
        memoryBytes: usage + socket,
        anonBytes: stat.rss ?? 0,
        fileBytes: stat.cache ?? 0,
        kernelBytes: kernel,
        socketBytes: socket,
        limitBytes: limit >= UNLIMITED ? undefined : limit,
        cpuNs: num(f["cpuacct.usage"], "cpuacct.usage"),
        oomKills: oom.oom_kill ?? 0,
        underOom: (oom.under_oom ?? 0) > 0,
        limitHits: num(f["memory.failcnt"], "memory.failcnt"),
    };
}

export interface CgroupV2Files {
    "memory.current": string;
    "memory.max": string;
    "memory.stat": string;
    "memory.events": string;
    "cpu.stat": string;
}

/** A v2 reading: memory.current includes kernel and socket memory. Pure. */
export function parseCgroupV2(f: CgroupV2Files): CgroupReading {
    const stat = parseKeyValues(f["memory.stat"]);
    const events = parseKeyValues(f["memory.events"]);
    const max = f["memory.max"].trim();
    const socket = stat.sock ?? 0;
    return {
        memoryBytes: num(f["memory.current"], "memory.current"),
        anonBytes: stat.anon ?? 0,
        fileBytes: stat.file ?? 0,
        kernelBytes: stat.kernel ?? (stat.slab ?? 0) + (stat.kernel_stack ?? 0) + (stat.pagetables ?? 0),
        socketBytes: socket,
        limitBytes: max === "max" ? undefined : num(max, "memory.max"),
        cpuNs: (parseKeyValues(f["cpu.stat"]).usage_usec ?? 0) * 1000,
        oomKills: events.oom_kill ?? 0,
        underOom: false,
        limitHits: events.max ?? 0,
    };
}

function readAll<K extends string>(dir: (file: K) => string, files: readonly K[], optional: readonly K[] = []): Record<K, string> {
    const out = {} as Record<K, string>;
    for (const f of files) {
        try {
            out[f] = readFileSync(dir(f), "utf8");
        } catch (err) {
            if (!optional.includes(f)) throw new Error(`cgroup: cannot read ${dir(f)}: ${(err as Error).message}`);
        }
    }
    return out;
}

/** Reads a host's cgroup now (the sampler): throws, naming the file, when it cannot. */
export function readHostCgroup(stack: string, host: string, root = CGROUP_ROOT): CgroupReading {
    const rel = cgroupRel(stack, host);
    if (existsSync(join(root, "cgroup.controllers"))) {
        const files = ["memory.current", "memory.max", "memory.stat", "memory.events", "cpu.stat"] as const;
        return parseCgroupV2(readAll((f) => join(root, rel, f), files));
    }
    const memory = [
        "memory.usage_in_bytes",
        "memory.limit_in_bytes",
        "memory.stat",
        "memory.oom_control",
        "memory.failcnt",
        "memory.kmem.usage_in_bytes",
        "memory.kmem.tcp.usage_in_bytes",
    ] as const;
    const m = readAll((f) => join(root, "memory", rel, f), memory, ["memory.kmem.usage_in_bytes", "memory.kmem.tcp.usage_in_bytes"]);
    const c = readAll((f) => join(root, "cpuacct", rel, f), ["cpuacct.usage"] as const);
    return parseCgroupV1({ ...m, ...c });
}

/** The stack's cgroup directories that exist, deepest first (residue and reap). */
export function existingStackCgroups(stack: string, root = CGROUP_ROOT): string[] {
    const found: string[] = [];
    const walk = (dir: string) => {
        if (!existsSync(dir)) return;
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
        found.push(dir);
    };
    for (const d of stackCgroupDirs(stack, root)) walk(d);
    return found;
}

/** Reads every host's cgroup of a stack (the sampler): by host name, with its role. Throws, naming the host, when one cannot be read. */
export function readStackCgroups<R extends string>(
    stack: string,
    hosts: { name: string; role: R }[],
    root = CGROUP_ROOT,
): Record<string, { role: R; reading: CgroupReading }> {
    return Object.fromEntries(
        hosts.map((h) => {
            try {
                return [h.name, { role: h.role, reading: readHostCgroup(stack, h.name, root) }];
            } catch (err) {
                throw new Error(`host ${h.name}: ${(err as Error).message}`);
            }
        }),
    );
}
