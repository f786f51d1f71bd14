// `lab up` on aws refreshes the state first (hosts may have ended themselves at their expiry) and
// runs the policy pack; a local up does neither.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { upOptions } from "../../scripts/lib/pulumiStack.ts";
import { platformFor } from "../../components/platform/registry.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

describe("pulumi up options", () => {
    test("aws: refresh and the policy pack", () => {
        const options = upOptions(platformFor({ platform: "aws" }));
        assert.equal(options.refresh, true, JSON.stringify(options));
        assert.deepEqual(options.policyPacks, [join(REPO_ROOT, "policy", "analyzer")]);
        assert.equal(options.suppressOutputs, true, "outputs hold the SSH key: never printed");
    });
    test("local: no refresh (namespaces do not end themselves), no policy pack", () => {
        const options = upOptions(platformFor({ platform: "local" }));
        assert.ok(!options.refresh, JSON.stringify(options));
        assert.equal(options.policyPacks, undefined);
    });
    test("the platform decides, not its name", () => {
        assert.equal(upOptions({ needsPolicyPack: false, refreshBeforeUp: true }).refresh, true);
        assert.ok(!upOptions({ needsPolicyPack: true, refreshBeforeUp: false }).refresh);
    });
});
