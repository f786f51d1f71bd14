// Scheduled teardown judges a stack by its expiresAt output: a stack it cannot judge is an error,
// never silently "not expired".
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { expiryFromState, expiryOf } from "../../scripts/lib/stackLeases.ts";
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

describe("expiryFromState (an up that failed part-way saved no outputs)", () => {
    const stackAndProvider = [{ type: "pulumi:pulumi:Stack" }, { type: "pulumi:providers:aws" }];
    test("nothing but the stack and its providers: nothing to reap", () => {
        assert.equal(expiryFromState("s", stackAndProvider), undefined);
    });
    test("created resources: the earliest lab:expires-at of their tags", () => {
        assert.equal(
            expiryFromState("s", [
                ...stackAndProvider,
                { type: "aws:ec2/vpc:Vpc", outputs: { tags: { "lab:expires-at": "2026-12-02T15:00:00Z" } } },
                { type: "aws:ec2/instance:Instance", inputs: { tags: { "lab:expires-at": "2026-12-02T14:00:00Z" } } },
            ]),
            "2026-12-02T14:00:00Z",
        );
    });
    test("created resources without the tag: an error, never skipped", () => {
        assert.throws(
            () => expiryFromState("lab-b", [...stackAndProvider, { type: "command:local:Command" }]),
            /stack lab-b: .*1 resources carries lab:expires-at/,
        );
    });
});

describe("teardown by platform", () => {
    test("EC2 state is kept after a failed destroy (nothing removes its resources by name); local leftovers are reaped by name", () => {
        assert.equal(platformFor({ platform: "aws" }).reapsWithoutState, false);
        assert.equal(platformFor({ platform: "local" }).reapsWithoutState, true);
    });
});
