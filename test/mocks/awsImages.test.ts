// Mocks test of c2m:image on EC2: the LB on Debian 13, the rest on Debian 12 (the machine image):
// each release's AMI comes from its own Debian parameter, read once into its own pin (own file:
// the program module is imported once per process).
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OPERATOR_CIDR, ofType, runProgram, type ProgramRun } from "./harness.ts";

describe("mocks: aws-smoke with c2m:image haproxy=debian-13", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("aws-smoke", { "c2m:aws": { operatorCidr: OPERATOR_CIDR }, "c2m:image": { haproxy: "debian-13" } });
    });
    const instances = () => ofType(run, "aws:ec2/instance:Instance");

    test("each release's parameter is read once, into its own pin", () => {
        assert.deepEqual(
            run.calls
                .filter((c) => c.token === "aws:ssm/getParameter:getParameter")
                .map((c) => c.inputs.name)
                .sort(),
            ["/aws/service/debian/release/12/latest/amd64", "/aws/service/debian/release/13/latest/amd64"],
        );
        const pins = ofType(run, "command:local:Command").filter((c) => /^printf /.test(c.inputs.create));
        assert.deepEqual(pins.map((p) => p.name).sort(), ["lab-hosts-ami", "lab-hosts-ami-debian-13"]);
        for (const p of pins) assert.deepEqual(p.options.ignoreChanges, ["create"]);
    });

    test("the LB runs Debian 13's AMI, every other host Debian 12's", () => {
        for (const i of instances()) {
            assert.equal(i.inputs.ami, i.inputs.tags["lab:role"] === "haproxy" ? "ami-0deb13a0c0ffee000" : "ami-0deb12a0c0ffee000", i.name);
        }
    });
});
