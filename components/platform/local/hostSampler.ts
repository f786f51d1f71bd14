// Per-host samples of a local host: its own cgroup (cgroups.ts), read on the host over its SSH
// by a loop that prints the cgroup's files every few seconds (v1 or v2, whichever the machine
// has), parsed back on the operator's side with the same parsers the benches use. Pure.
import type { HostSample, HostSampler } from "../platform.ts";
import { CGROUP_ROOT, cgroupRel, parseCgroupV1, parseCgroupV2, type CgroupV1Files, type CgroupV2Files } from "./cgroups.ts";
import { shellQuote } from "../../render/hostPath.ts";

/** memory.stat keys the parsers read (v1: rss, cache; v2: anon, file, kernel, slab, kernel_stack, pagetables, sock). */
const STAT_KEYS = "rss|cache|anon|file|kernel|slab|kernel_stack|pagetables|sock";

const V1_FILES = ["memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat", "memory.oom_control", "memory.failcnt",
    "memory.kmem.usage_in_bytes", "memory.kmem.tcp.usage_in_bytes"] as const;
const V2_FILES = ["memory.current", "memory.max", "memory.stat", "memory.events", "cpu.stat"] as const;

/** Marks of the loop's output: a reading starts with `@ <unix ms>` and is whole once `@end` follows. */
const START = "@ ";
const END = "@end";
const FILE = "== ";

function loop(stack: string, host: string, intervalS: number, count: number): string {
    const rel = cgroupRel(stack, host);
    return [
        `c=${CGROUP_ROOT}`,
        `if [ -f $c/cgroup.controllers ]; then files="${V2_FILES.map((f) => `$c/${rel}/${f}`).join(" ")}"`,
        `else files="${V1_FILES.map((f) => `$c/memory/${rel}/${f}`).join(" ")} $c/cpuacct/${rel}/cpuacct.usage"; fi`,
        "i=0",
        `while [ $i -lt ${count} ]; do`,
        `  echo "${START}$(date +%s%3N)"`,
        // Shell built-ins only (read, case, echo): one reading costs the host one fork (date), not one per file.
        "  for f in $files; do",
        "    [ -r $f ] || continue",
        `    echo "${FILE}\${f##*/}"`,
        "    while IFS= read -r l; do",
        `      case $f in */memory.stat) case $l in ${STAT_KEYS.split("|").map((k) => `"${k} "*`).join("|")}) echo "$l" ;; esac ;; *) echo "$l" ;; esac`,
        "    done < $f",
        "  done",
        `  echo ${END}`,
        "  i=$((i + 1))",
        `  [ $i -lt ${count} ] && sleep ${intervalS}`,
        "done",
        "exit 0",
    ].join("\n");
}

/** One reading's files → a sample; throws naming the missing file (parseCgroupV1/V2). */
function toSample(t: number, files: Record<string, string>): { limitBytes: number | undefined; sample: HostSample } {
    const v2 = "memory.current" in files;
    const missing = (v2 ? V2_FILES : [...V1_FILES.filter((f) => !f.startsWith("memory.kmem.")), "cpuacct.usage"]).filter((f) => !(f in files));
    if (missing.length) throw new Error(`host sampler: a reading without ${missing.join(", ")} (is the host's cgroup there?)`);
    const r = v2 ? parseCgroupV2(files as unknown as CgroupV2Files) : parseCgroupV1(files as unknown as CgroupV1Files);
    return {
        limitBytes: r.limitBytes,
        sample: { t, memoryBytes: r.memoryBytes, anonBytes: r.anonBytes, fileBytes: r.fileBytes, kernelBytes: r.kernelBytes,
            socketBytes: r.socketBytes, cpuNs: r.cpuNs, oomKills: r.oomKills, limitHits: r.limitHits },
    };
}

/** The loop's output → readings in order; the last one is dropped when the stop cut it short. Pure. */
export function parseCgroupSamples(stdout: string): { limitBytes: number | undefined; samples: HostSample[] } {
    const samples: HostSample[] = [];
    let limitBytes: number | undefined;
    let t: number | undefined;
    let files: Record<string, string> = {};
    let file: string | undefined;
    for (const line of stdout.split("\n")) {
        if (line.startsWith(START)) {
            t = Number(line.slice(START.length));
            if (!Number.isFinite(t)) throw new Error(`host sampler: bad reading start ${JSON.stringify(line)}`);
            files = {};
            file = undefined;
        } else if (line === END) {
            if (t === undefined) throw new Error("host sampler: a reading ends that never started");
            const s = toSample(t, files);
            limitBytes = s.limitBytes;
            samples.push(s.sample);
            t = undefined;
        } else if (line.startsWith(FILE)) {
            file = line.slice(FILE.length);
            files[file] = "";
        } else if (file !== undefined && t !== undefined) {
            files[file] += `${line}\n`;
        } else if (line.trim()) {
            throw new Error(`host sampler: unexpected output ${JSON.stringify(line.slice(0, 120))}`);
        }
    }
    return { limitBytes, samples };
}

export const cgroupHostSampler: HostSampler = {
    source: "each host's own cgroup (v1: memory usage + kmem.tcp, cpuacct; v2: memory.current, cpu.stat)",
    // sh's $0 is the tag, so the loop's command line ends with it.
    script: (stack, host, { intervalS, count, tag }) => {
        if (!(intervalS > 0) || !Number.isInteger(count) || count < 1) throw new Error(`host sampler: interval ${intervalS} s × ${count} readings is not a sampling`);
        return `sh -c ${shellQuote(loop(stack, host, intervalS, count))} ${tag}`;
    },
    // Anchored at the end: the stop's own shell carries the tag followed by more text.
    stopScript: (tag) => `pkill -TERM -f -- ${shellQuote(`${tag}$`)} || true`,
    parse: parseCgroupSamples,
};
