// Limits of the machine the local platform runs on, detected rather than assumed.
import { readFileSync } from "node:fs";

/** Hard RLIMIT_NOFILE of this process: the most open files any lab process here can get. */
export function detectNofileCeiling(): number {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const hard = line?.trim().split(/\s+/)[4];
    return hard === undefined || hard === "unlimited" ? 2 ** 30 : Number(hard);
}

/** Raw stack config with the detected ceiling filled in unless the stack sets one. */
export function withDetectedLimits(raw: Record<string, unknown>): Record<string, unknown> {
    const local = (raw.local ?? {}) as Record<string, unknown>;
    return { ...raw, local: { nofileCeiling: detectNofileCeiling(), ...local } };
}
