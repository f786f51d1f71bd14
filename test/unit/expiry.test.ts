// Scheduled teardown judges a stack by its expiresAt output: a stack it cannot judge is an error,
// never silently "not expired".
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { expiryOf } from "../../scripts/stack.ts";
import { platformFor } from "../../components/platform/registry.ts";

describe("expiryOf", () => {
    test("a deployed stack's lease", () => {
        assert.equal(expiryOf("s", { expiresAt: "2026-12-02T12:00:00.000Z", vips: {} }), "2026-12-02T12:00:00.000Z");
    });
    test("no outputs at all: nothing deployed, nothing to reap", () => {
        assert.equal(expiryOf("s", {}), undefined);
    });
    test("outputs without expiresAt, or an unreadable one, are errors naming the stack", () => {
        assert.throws(() => expiryOf("lab-a", { vips: {} }), /stack lab-a: .*no readable expiresAt \(got undefined\)/);
        assert.throws(() => expiryOf("lab-a", { expiresAt: "soon" }), /stack lab-a: .*"soon"/);
        assert.throws(() => expiryOf("lab-a", { expiresAt: 5 }), /got 5/);
    });
});

describe("teardown by platform", () => {
    test("EC2 state is kept after a failed destroy (nothing removes its resources by name); local leftovers are reaped by name", () => {
        assert.equal(platformFor({ platform: "aws" }).reapsWithoutState, false);
        assert.equal(platformFor({ platform: "local" }).reapsWithoutState, true);
    });
    test("EC2 hosts end themselves at expiry, so an expired aws stack drops its remote commands before destroy", () => {
        assert.equal(platformFor({ platform: "aws" }).hostsEndAtExpiry, true);
        assert.equal(platformFor({ platform: "local" }).hostsEndAtExpiry, false);
    });
});
