// The lab's expiry (every platform) and tags (every taggable AWS resource). Pure.
// The policy pack checks the same tags, TTL and budget tag: it imports them from here.

/** Tags every lab resource carries: whose it is, and when scheduled teardown destroys it. */
export const LAB_TAG = { stack: "lab:stack", owner: "lab:owner", expiresAt: "lab:expires-at" } as const;
/** On each instance: c2m:aws.budgetUsdPerHour, the cap the policy pack holds the fleet's cost to. */
export const BUDGET_TAG = "lab:budget-usd-per-hour";
/** On each instance: the host's role. */
export const ROLE_TAG = "lab:role";
/** Longest lab lifetime (c2m:ttlHours). */
export const MAX_TTL_HOURS = 168;

export interface LabTagsInput {
    stack: string;
    owner: string;
    expiresAt: string;
}

export function labTags(t: LabTagsInput): Record<string, string> {
    return { [LAB_TAG.stack]: t.stack, [LAB_TAG.owner]: t.owner, [LAB_TAG.expiresAt]: t.expiresAt };
}

/** When the lab expires: `ttlHours` after `now`, to the second, UTC ISO 8601 ("2026-11-26T03:00:00Z"). */
export function expiryFrom(now: Date, ttlHours: number): string {
    const at = new Date(Math.ceil((now.getTime() + ttlHours * 3_600_000) / 1000) * 1000);
    return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** EventBridge Scheduler one-time expression for an ISO instant: at(yyyy-mm-ddThh:mm:ss), UTC. */
export function schedulerAt(expiresAt: string): string {
    const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})Z$/.exec(expiresAt);
    if (!match) throw new Error(`expiry "${expiresAt}" is not a UTC instant like 2026-11-26T03:00:00Z`);
    return `at(${match[1]})`;
}

/** True when a lab tagged with `expiresAt` is past it at `now`. */
export function isExpired(expiresAt: string, now: Date): boolean {
    const t = Date.parse(expiresAt);
    return Number.isFinite(t) && t <= now.getTime();
}
