// Mocks test of an aws tier with c2m:aws.ami pinned, in a region whose first zone lacks the LB's
// type (own file: the program module is imported once per process).
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OPERATOR_CIDR, ofType, runProgram, type ProgramRun } from "./harness.ts";

const PINNED = "ami-0123456789abcdef0";

describe("mocks: aws-16c64g with c2m:aws.ami pinned, m6i.4xlarge not offered in us-east-1a", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram(
            "aws-16c64g",
            { "c2m:aws": { operatorCidr: OPERATOR_CIDR, ami: PINNED } },
            { offeringsMissing: { "m6i.4xlarge": ["us-east-1a"] } },
        );
    });
    const instances = () => ofType(run, "aws:ec2/instance:Instance");

    test("every instance runs the pinned AMI; nothing is looked up", () => {
        assert.equal(instances().length, 30);
        for (const i of instances()) assert.equal(i.inputs.ami, PINNED, i.name);
        assert.equal(run.calls.filter((c) => c.token === "aws:ec2/getAmi:getAmi" || c.token === "aws:ssm/getParameter:getParameter").length, 0);
        assert.equal(ofType(run, "command:local:Command").filter((c) => /^printf /.test(c.inputs.create)).length, 0, "no AMI pin: c2m:aws.ami is the pin");
    });

    test("a pinned AMI is followed (changing the pin is a deliberate replacement, addresses freed first); user data still never replaces", () => {
        for (const i of instances()) {
            assert.deepEqual(i.options.ignoreChanges, ["userData"], i.name);
            assert.equal(i.options.deleteBeforeReplace, true, i.name);
        }
    });

    test("the lab goes to the first zone that offers every type", () => {
        assert.equal(ofType(run, "aws:ec2/subnet:Subnet")[0].inputs.availabilityZone, "us-east-1b");
    });
});
