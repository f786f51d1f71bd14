// Limits of the machine the local platform runs on, detected rather than assumed.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { ConfigError, machineProblems, type LabConfig, type MachineFacts } from "../../config.ts";

/** Hard RLIMIT_NOFILE of this process: the most open files any lab process here can get. */
export function detectNofileCeiling(): number {
    const line = readFileSync("/proc/self/limits", "utf8")
        .split("\n")
        .find((l) => l.startsWith("Max open files"));
    const hard = line?.trim().split(/\s+/)[4];
    return hard === undefined || hard === "unlimited" ? 2 ** 30 : Number(hard);
}

/** CPUs online on this machine (/sys/devices/system/cpu/online; else the count Node sees). */
export function onlineCpus(): number[] {
    try {
        const list = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
        const cpus: number[] = [];
        for (const part of list.split(",")) {
            const [a, b = a] = part.split("-").map(Number);
            for (let c = a; c <= b; c++) cpus.push(c);
        }
        if (cpus.length) return cpus;
    } catch {
        /* not Linux: fall through */
    }
    return cpus().map((_, i) => i);
}

/** MemTotal of this machine: every local host shares it. */
export function detectMemoryBytes(): number {
    const line = readFileSync("/proc/meminfo", "utf8")
        .split("\n")
        .find((l) => l.startsWith("MemTotal:"));
    return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

/**
 * The config with this machine's limits filled in unless the stack sets them; refused when it asks
 * for what the machine does not have (CPUs that are not online).
 */
export function withDetectedLimits(config: LabConfig, machine: MachineFacts = { onlineCpus: onlineCpus() }): LabConfig {
    const problems = machineProblems(config, machine);
    if (problems.length > 0) throw new ConfigError(problems);
    const { nofileCeiling = detectNofileCeiling(), memoryBytes = detectMemoryBytes() } = config.local;
    return { ...config, local: { ...config.local, nofileCeiling, memoryBytes } };
}
