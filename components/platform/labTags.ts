// The lab's expiry (every platform) and tags (every taggable AWS resource). Pure.

export interface LabTagsInput { stack: string; owner: string; expiresAt: string }

export const TAG_KEYS = ["lab:stack", "lab:owner", "lab:expires-at"] as const;

export function labTags(t: LabTagsInput): Record<string, string> {
    return { "lab:stack": t.stack, "lab:owner": t.owner, "lab:expires-at": t.expiresAt };
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
