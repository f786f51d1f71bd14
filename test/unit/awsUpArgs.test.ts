// `lab up` on aws refreshes the state first (hosts may have ended themselves at their expiry) and
// runs the policy pack; a local up does neither.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { upArgs } from "../../scripts/stack.ts";
import { platformFor } from "../../components/platform/registry.ts";

describe("pulumi up arguments", () => {
    test("aws: --refresh and the policy pack", () => {
        const args = upArgs("aws-16c64g", platformFor({ platform: "aws" }));
        assert.equal(args[0], "up");
        assert.deepEqual(args.slice(1, 3), ["--stack", "aws-16c64g"]);
        assert.ok(args.includes("--refresh"), args.join(" "));
        assert.ok(args.includes("--policy-pack"), args.join(" "));
        assert.ok(args.includes("--yes") && args.includes("--non-interactive"));
    });
    test("local: no refresh (namespaces do not end themselves), no policy pack", () => {
        const args = upArgs("local", platformFor({ platform: "local" }));
        assert.ok(!args.includes("--refresh"), args.join(" "));
        assert.ok(!args.includes("--policy-pack"), args.join(" "));
    });
    test("the platform decides, not its name", () => {
        assert.ok(upArgs("x", { needsPolicyPack: false, refreshBeforeUp: true }).includes("--refresh"));
        assert.ok(!upArgs("x", { needsPolicyPack: true, refreshBeforeUp: false }).includes("--refresh"));
    });
});
