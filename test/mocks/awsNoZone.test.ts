// Mocks test of an aws tier whose client type no zone offers: `lab up` stops with a clear error
// before any AWS resource exists (own file: the program module is imported once per process).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { OPERATOR_CIDR, runProgram, type Registered } from "./harness.ts";

describe("mocks: aws-4c30g where c6i.8xlarge is offered in no zone", () => {
    test("the program fails naming the key, each type and where it is offered; nothing but the provider was registered", async () => {
        const registered: Registered[] = [];
        let error: Error | undefined;
        try {
            const run = await runProgram(
                "aws-4c30g",
                { "c2m:aws": { operatorCidr: OPERATOR_CIDR } },
                {
                    offeringsMissing: { "c6i.8xlarge": ["us-east-1a", "us-east-1b"], "r6i.xlarge": ["us-east-1b"] },
                    registered,
                },
            );
            assert.fail(`the program ran: ${run.resources.length} resources`);
        } catch (err) {
            error = err as Error;
        }
        assert.ok(error);
        assert.match(error.message, /c2m:aws\.instanceTypes: no availability zone of us-east-1 \(us-east-1a, us-east-1b\) offers every type the lab launches/);
        assert.match(error.message, /haproxy r6i\.xlarge offered in us-east-1a/);
        assert.match(error.message, /client c6i\.8xlarge not offered in any zone of us-east-1/);
        assert.match(error.message, /backend c6i\.2xlarge offered in us-east-1a, us-east-1b/);
        assert.deepEqual(
            registered.map((r) => r.type),
            ["pulumi:providers:aws"],
        );
    });
});
