// Limits of the machine the local platform runs on, detected rather than assumed.
import { readFileSync } from "node:fs";

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

/** Raw stack config with the detected limits filled in unless the stack sets them. */
export function withDetectedLimits(raw: Record<string, unknown>): Record<string, unknown> {
    const local = (raw.local ?? {}) as Record<string, unknown>;
    return { ...raw, local: { nofileCeiling: detectNofileCeiling(), memoryBytes: detectMemoryBytes(), ...local } };
}
