// Limits of the machine the local platform runs on, detected rather than assumed.
import { readFileSync } from "node:fs";
import type { LabConfig } from "../../config.ts";

/** Hard RLIMIT_NOFILE of this process: the most open files any lab process here can get. */
export function detectNofileCeiling(): number {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const hard = line?.trim().split(/\s+/)[4];
    return hard === undefined || hard === "unlimited" ? 2 ** 30 : Number(hard);
}

/** MemTotal of this machine: every local host shares it. */
export function detectMemoryBytes(): number {
    const line = readFileSync("/proc/meminfo", "utf8").split("\n").find((l) => l.startsWith("MemTotal:"));
    return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

/** The config with this machine's limits filled in unless the stack sets them. */
export function withDetectedLimits(config: LabConfig): LabConfig {
    const { nofileCeiling = detectNofileCeiling(), memoryBytes = detectMemoryBytes() } = config.local;
    return { ...config, local: { ...config.local, nofileCeiling, memoryBytes } };
}
