// Every string each aws tier sends to AWS (names, descriptions, tags, user data) against the one
// table of AWS's limits (components/platform/aws/limits.ts): the program runs under mocks with
// each Pulumi.aws-*.yaml, so a new description with a character AWS refuses fails here.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AWS_TIERS, tierRun, type TierResource } from "../mocks/tierRuns.ts";
import { AUTONAME_SUFFIX, AWS_STRING_LIMITS, awsStringProblems, limitProblems } from "../../components/platform/aws/limits.ts";

const TIERS = AWS_TIERS;
tierRun(TIERS[0]); // every tier's run starts now, before the first test
type Resource = TierResource;

describe("AWS string limits: the table", () => {
    test("every limit cites its source", () => {
        for (const [name, l] of Object.entries(AWS_STRING_LIMITS)) assert.ok(l.source.length > 20 && l.max > 0, name);
    });
    test("the checker is real: an apostrophe in a group or rule description is refused, naming the character and the source", () => {
        const p = awsStringProblems("aws:ec2/securityGroup:SecurityGroup", "sg", {
            description: "the operator's SSH",
            ingress: [{ description: "ok (all)/0.0.0.0/0" }, { description: "subnet's ACL" }],
        });
        assert.equal(p.length, 2);
        assert.match(p[0], /description: security group description .* refuses: "'" \(EC2 API CreateSecurityGroup/);
        assert.match(p[1], /ingress\[1\]\.description: security group rule description/);
    });
    test("user data over 16 KB raw is refused; exactly 16 KB passes", () => {
        assert.deepEqual(limitProblems("userData", "x".repeat(16 * 1024), "u"), []);
        assert.match(limitProblems("userData", "x".repeat(16 * 1024 + 1), "u")[0], /16385 bytes, AWS accepts 16384 at most/);
        assert.match(limitProblems("userData", "é".repeat(8 * 1024 + 1), "u")[0], /bytes/, "counted in bytes, not characters");
    });
    test("tags: aws: prefix, long keys, characters outside the tag set", () => {
        const p = (tags: Record<string, string>) => awsStringProblems("aws:ec2/vpc:Vpc", "v", { tags });
        assert.deepEqual(p({ "lab:stack": "aws-smoke", "lab:expires-at": "2026-12-07T23:00:00Z" }), []);
        assert.match(p({ "aws:owner": "x" }).join(), /reserves/);
        assert.match(p({ ["k".repeat(129)]: "x" }).join(), /129 characters, AWS accepts 128/);
        assert.match(p({ k: "it's" }).join(), /refuses: "'"/);
    });
    test("a name the provider generates from the logical name is checked with its 8-character suffix", () => {
        const logical = "x".repeat(64 - AUTONAME_SUFFIX.length);
        assert.deepEqual(awsStringProblems("aws:scheduler/schedule:Schedule", logical, {}), []);
        assert.match(awsStringProblems("aws:scheduler/schedule:Schedule", `${logical}x`, {}).join(), /schedule name is 65 characters/);
        assert.match(awsStringProblems("aws:iam/role:Role", "lab teardown", {}).join(), /IAM role name .* refuses: " "/);
    });
});

describe("AWS string limits: every aws tier's resources", () => {
    test("there are aws tiers to check", () => assert.ok(TIERS.length >= 3, TIERS.join(", ")));
    for (const stack of TIERS) {
        test(`${stack}: every name, description, tag and user data fits AWS's limits`, async () => {
            const resources = await tierRun(stack);
            const aws = resources.filter((r) => r.type.startsWith("aws:"));
            // Not vacuous: the tier renders each kind of string the table covers.
            for (const t of ["aws:ec2/securityGroup:SecurityGroup", "aws:ec2/instance:Instance", "aws:iam/role:Role", "aws:scheduler/schedule:Schedule"]) {
                assert.ok(
                    aws.some((r) => r.type === t),
                    `${stack}: no ${t}`,
                );
            }
            assert.ok(
                aws.every(
                    (r) =>
                        r.type === "aws:iam/rolePolicy:RolePolicy" ||
                        r.type.includes("Association") ||
                        r.type === "aws:scheduler/schedule:Schedule" ||
                        Object.keys(r.inputs.tags ?? {}).length > 0,
                ),
                `${stack}: an untagged resource`,
            );
            assert.deepEqual(
                aws.flatMap((r) => awsStringProblems(r.type, r.name, r.inputs)),
                [],
            );
        });
    }
});
