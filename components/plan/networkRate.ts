// Milestone #2's network rate, checked: what a run's clients sent a second (vegeta's bytes out over
// the span it sent in) against what its settings plan, for the presets that must generate one
// (components/render/attack.ts PRESET_NETWORK_TARGETS). Pure.
import { type AttackSettings, PRESET_NETWORK_TARGETS, plannedNetworkBytesPerS } from "../render/attack.ts";

/** Share of the planned rate a run must reach: vegeta's pacing sends the planned requests, a few lost at the ends. */
export const NETWORK_RATE_MIN_SHARE = 0.95;

export interface NetworkCheck {
    plannedBytesPerS: number;
    achievedBytesPerS: number;
    /** The seed's figure for the preset (at full scale). */
    seedBytesPerS: number;
    ok: boolean;
    line: string;
}

/** The fields of `vegeta report -type=json` this reads (bytes and nanoseconds). */
export interface VegetaTraffic {
    bytes_out?: { total?: number };
    duration?: number;
}

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB/s`;

/**
 * undefined when the preset has no network target. A run whose summary lacks the bytes or the span
 * fails the check: the target cannot be said to be met.
 */
export function checkNetworkRate(
    preset: string | undefined,
    settings: AttackSettings,
    clients: number,
    summary: VegetaTraffic | undefined,
): NetworkCheck | undefined {
    const target = preset === undefined ? undefined : PRESET_NETWORK_TARGETS[preset as keyof typeof PRESET_NETWORK_TARGETS];
    if (!target) return undefined;
    const planned = plannedNetworkBytesPerS(settings, clients);
    const bytes = summary?.bytes_out?.total;
    const seconds = (summary?.duration ?? 0) / 1e9;
    const achieved = bytes !== undefined && seconds > 0 ? bytes / seconds : 0;
    const ok = achieved >= NETWORK_RATE_MIN_SHARE * planned;
    const line =
        `network ${mb(achieved)} sent of ${mb(planned)} planned (${clients} clients × ${settings.rate}/s × ${settings.bodyBytes} B; ` +
        `the seed's ${target.seed}) ${ok ? "reached" : `NOT reached (< ${NETWORK_RATE_MIN_SHARE * 100} %)`}`;
    return { plannedBytesPerS: planned, achievedBytesPerS: Math.round(achieved), seedBytesPerS: target.seedBytesPerS, ok, line };
}
