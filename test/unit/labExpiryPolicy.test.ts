// The policy every stack obeys, local or AWS: the root stack exports a near, future expiresAt.
// (test/e2e/policyPack.test.ts runs it through the real engine.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { StackValidationArgs } from "@pulumi/policy";
import { AWS_POLICIES, expiryProblems, labExpiry, POLICIES, STACK } from "../../policy/policies.ts";
import { MAX_TTL_HOURS } from "../../components/platform/labTags.ts";

const NOW = new Date("2026-11-25T12:00:00Z");
const stack = (outputs: Record<string, unknown>) => [
    { type: STACK, props: outputs },
    { type: "command:remote:Command", props: {} },
];
const inHours = (h: number) => new Date(NOW.getTime() + h * 3_600_000).toISOString();

describe("lab-expiry policy", () => {
    test("a stack expiring within the maximum passes", () => {
        assert.deepEqual(expiryProblems(stack({ expiresAt: inHours(4) }), {}, NOW), []);
        assert.deepEqual(expiryProblems(stack({ expiresAt: inHours(MAX_TTL_HOURS) }), {}, NOW), []);
    });
    test("further than the maximum is refused, naming c2m:ttlHours; the policy config can lower the maximum", () => {
        assert.match(
            expiryProblems(stack({ expiresAt: inHours(MAX_TTL_HOURS + 1) }), {}, NOW)[0],
            /169\.0 h away, above the 168 h maximum: lower c2m:ttlHours/,
        );
        assert.match(expiryProblems(stack({ expiresAt: inHours(48) }), { maxTtlHours: 24 }, NOW)[0], /above the 24 h maximum/);
        assert.deepEqual(expiryProblems(stack({ expiresAt: inHours(12) }), { maxTtlHours: 24 }, NOW), []);
    });
    test("no expiresAt, not a date, or already past is refused", () => {
        assert.match(expiryProblems(stack({}), {}, NOW)[0], /exports no expiresAt/);
        assert.match(expiryProblems(stack({ expiresAt: "" }), {}, NOW)[0], /exports no expiresAt/);
        assert.match(expiryProblems(stack({ expiresAt: "soon" }), {}, NOW)[0], /not a date/);
        assert.match(expiryProblems(stack({ expiresAt: inHours(-1) }), {}, NOW)[0], /already past/);
    });
    test("runs through the policy's validateStack with the pack's config", () => {
        const found: string[] = [];
        const args = {
            resources: stack({ expiresAt: new Date(Date.now() + 100 * 3_600_000).toISOString() }),
            stackTags: new Map(),
            getConfig: () => ({ maxTtlHours: 10 }),
        };
        labExpiry.validateStack!(args as unknown as StackValidationArgs, (m) => found.push(m));
        assert.equal(found.length, 1);
        assert.match(found[0], /above the 10 h maximum/);
    });
    test("is in the pack beside the AWS rules, mandatory, its config capped at the lab's maximum", () => {
        assert.deepEqual(
            POLICIES.map((p) => p.name),
            [...AWS_POLICIES.map((p) => p.name), "lab-expiry"],
        );
        assert.equal(labExpiry.enforcementLevel, "mandatory");
        assert.equal((labExpiry.configSchema?.properties?.maxTtlHours as { maximum: number } | undefined)?.maximum, MAX_TTL_HOURS);
    });
});
