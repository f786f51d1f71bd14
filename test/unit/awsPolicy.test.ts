import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { awsStringLimits, budgetCap, imdsv2Required, noSshFromInternet, POLICIES, ttlTags } from "../../policy/policies.ts";
import { labNaclIngress, LAB_NACL_EGRESS, LAB_SG_EGRESS, LAB_SG_INGRESS } from "../../components/platform/aws/trafficRules.ts";
import { outputShaped } from "../mocks/outputShape.ts";

const EXPIRES = new Date(Date.now() + 4 * 3_600_000).toISOString();
const TAGS = { "lab:stack": "aws-16c64g", "lab:owner": "operator", "lab:expires-at": EXPIRES };

/** Runs a resource policy the way the engine does; returns the violations it reports. */
function violations(policy: ResourceValidationPolicy, type: string, props: Record<string, any>): string[] {
    const found: string[] = [];
    const args = {
        type,
        props,
        urn: `urn:pulumi:s::c2m::${type}::r`,
        name: "r",
        opts: {},
        stackTags: new Map(),
        getConfig: () => ({}),
        notApplicable: () => {
            throw new Error("not applicable");
        },
        isType: () => false,
        asType: () => undefined,
    } as unknown as ResourceValidationArgs;
    const validate = policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const v of validate) v(args, (message) => found.push(message));
    return found;
}

function stackViolations(resources: { type: string; props: Record<string, any> }[], config: object = {}, policy: StackValidationPolicy = budgetCap): string[] {
    const found: string[] = [];
    policy.validateStack({ resources, stackTags: new Map(), getConfig: () => config } as unknown as StackValidationArgs, (m) => found.push(m));
    return found;
}

const instance = (over: Record<string, any> = {}) => ({
    instanceType: "c6i.8xlarge",
    metadataOptions: { httpTokens: "required" },
    rootBlockDevice: { volumeSize: 16 },
    tags: { ...TAGS, "lab:budget-usd-per-hour": "40" },
    ...over,
});

describe("policy pack", () => {
    test("every policy is mandatory", () => {
        assert.equal(POLICIES.length, 6);
        for (const p of POLICIES) assert.equal(p.enforcementLevel, "mandatory", p.name);
    });

    describe("TTL tags", () => {
        test("a tagged resource passes; default tags (tagsAll) count", () => {
            assert.deepEqual(violations(ttlTags, "aws:ec2/vpc:Vpc", { tags: TAGS }), []);
            assert.deepEqual(violations(ttlTags, "aws:ec2/vpc:Vpc", { tagsAll: TAGS }), []);
        });
        test("a missing tag is rejected, naming it", () => {
            const v = violations(ttlTags, "aws:ec2/instance:Instance", { tags: { "lab:stack": "s", "lab:owner": "o" } });
            assert.equal(v.length, 1);
            assert.match(v[0], /missing tag lab:expires-at/);
            assert.equal(violations(ttlTags, "aws:ec2/subnet:Subnet", {}).length, 3);
        });
        test("an expiry that is not a date, or too far away, is rejected", () => {
            assert.match(violations(ttlTags, "aws:ec2/vpc:Vpc", { tags: { ...TAGS, "lab:expires-at": "never" } })[0], /not a date/);
            const far = new Date(Date.now() + 30 * 24 * 3_600_000).toISOString();
            assert.match(violations(ttlTags, "aws:ec2/vpc:Vpc", { tags: { ...TAGS, "lab:expires-at": far } })[0], /more than 168 h away/);
        });
        test("untaggable types and non-AWS resources are not asked for tags", () => {
            assert.deepEqual(violations(ttlTags, "aws:scheduler/schedule:Schedule", {}), []);
            assert.deepEqual(violations(ttlTags, "command:remote:Command", {}), []);
        });
    });

    describe("no SSH from the internet", () => {
        const SG = "aws:ec2/securityGroup:SecurityGroup";
        const ACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl";
        const sgs = (...groups: Record<string, any>[][]) =>
            stackViolations(
                groups.map((ingress) => ({ type: SG, props: { ingress } })),
                {},
                noSshFromInternet,
            );
        const labAcl = (over: Record<string, any> = {}) => ({
            type: ACL,
            props: { subnetIds: ["subnet-1"], ingress: labNaclIngress("203.0.113.7/32"), egress: [...LAB_NACL_EGRESS], ...over },
        });
        const labGroup = { type: SG, props: { ingress: [...LAB_SG_INGRESS], egress: [...LAB_SG_EGRESS] } };
        const layout = (...resources: { type: string; props: Record<string, any> }[]) => stackViolations(resources, {}, noSshFromInternet);

        test("SSH from the operator's /32 and traffic from the group itself pass", () => {
            assert.deepEqual(
                sgs([
                    { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"] },
                    { protocol: "-1", fromPort: 0, toPort: 0, self: true },
                ]),
                [],
            );
        });
        test("SSH, all traffic or a port range with 22 from 0.0.0.0/0 or ::/0 is rejected", () => {
            assert.equal(sgs([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }]).length, 1);
            assert.equal(sgs([{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }]).length, 1);
            assert.equal(sgs([{ protocol: "tcp", fromPort: 1, toPort: 1024, ipv6CidrBlocks: ["::/0"] }]).length, 1);
        });
        test("HTTPS from anywhere is not SSH", () => {
            assert.deepEqual(sgs([{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }]), []);
        });
        test("standalone rules are checked too", () => {
            assert.equal(
                layout(
                    {
                        type: "aws:ec2/securityGroupRule:SecurityGroupRule",
                        props: { type: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] },
                    },
                    labAcl(),
                ).length,
                1,
            );
            assert.equal(
                layout(
                    {
                        type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                        props: { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "0.0.0.0/0" },
                    },
                    labAcl(),
                ).length,
                1,
            );
            assert.deepEqual(
                layout({
                    type: "aws:ec2/securityGroupRule:SecurityGroupRule",
                    props: { type: "egress", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] },
                }),
                [],
            );
        });
        test("the untracked lab group passes behind exactly the lab's network ACL", () => {
            assert.deepEqual(layout(labGroup, labAcl()), []);
        });
        test("the untracked lab group without the lab ACL, or with anything wider, is rejected", () => {
            assert.match(layout(labGroup).join("\n"), /exactly one lab network ACL.*found 0/);
            assert.match(layout(labGroup, labAcl({ ingress: labNaclIngress("0.0.0.0/1") })).join("\n"), /SSH in from 0\.0\.0\.0\/1/);
            assert.match(
                layout(
                    labGroup,
                    labAcl({
                        ingress: [
                            ...labNaclIngress("203.0.113.7/32"),
                            { ruleNo: 130, action: "allow", protocol: "udp", cidrBlock: "0.0.0.0/0", fromPort: 0, toPort: 65535 },
                        ],
                    }),
                ).join("\n"),
                /not exactly the lab's/,
            );
            assert.match(layout(labGroup, labAcl({ subnetIds: [] })).join("\n"), /guards no subnet/);
            assert.match(
                layout(labGroup, labAcl(), { type: "aws:ec2/networkAclRule:NetworkAclRule", props: {} }).join("\n"),
                /besides the lab subnet's default ACL/,
            );
            const ssh = labNaclIngress("203.0.113.7/32").map((r) => (r.ruleNo === 110 ? { ...r, cidrBlock: "0.0.0.0/0" } : r));
            assert.match(layout(labGroup, labAcl({ ingress: ssh })).join("\n"), /only the operator's CIDR/);
        });
        test('as validateStack sees them (outputs: protocol numbers, "" for unset blocks, computed ids), the lab group and ACL pass', () => {
            const out = (r: { type: string; props: Record<string, any> }) => ({ type: r.type, props: outputShaped(r.type, r.props, TAGS) });
            const acl = out(labAcl());
            assert.deepEqual(
                acl.props.ingress.map((e: any) => [e.protocol, e.ipv6CidrBlock]),
                [
                    ["-1", ""],
                    ["6", ""],
                    ["6", ""],
                ],
            );
            assert.deepEqual(layout(out(labGroup), acl), []);
        });
        test("on outputs too, a wider ACL or SSH from anywhere is rejected", () => {
            const out = (r: { type: string; props: Record<string, any> }) => ({ type: r.type, props: outputShaped(r.type, r.props, TAGS) });
            const extra = labAcl({
                ingress: [
                    ...labNaclIngress("203.0.113.7/32"),
                    { ruleNo: 130, action: "allow", protocol: "udp", cidrBlock: "0.0.0.0/0", fromPort: 0, toPort: 65535 },
                ],
            });
            assert.match(layout(out(labGroup), out(extra)).join("\n"), /not exactly the lab's/);
            const v6 = labAcl({ ingress: labNaclIngress("203.0.113.7/32").map((r) => (r.ruleNo === 110 ? { ...r, ipv6CidrBlock: "::/0" } : r)) });
            assert.match(layout(out(labGroup), out(v6)).join("\n"), /not exactly the lab's/);
            assert.equal(layout(out({ type: SG, props: { ingress: [{ protocol: "6", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }] } })).length, 1);
        });
        test("an all-traffic group with anything more than the 0.0.0.0/0 rule is not the lab group", () => {
            const wider = { type: SG, props: { ingress: [...LAB_SG_INGRESS, { protocol: "tcp", fromPort: 22, toPort: 22, ipv6CidrBlocks: ["::/0"] }] } };
            assert.ok(layout(wider, labAcl()).length >= 1);
        });
    });

    describe("AWS string limits", () => {
        test("a security group description with an apostrophe is refused before it is created, naming the resource", () => {
            const v = violations(awsStringLimits, "aws:ec2/securityGroup:SecurityGroup", { description: "the operator's SSH", tags: TAGS });
            assert.equal(v.length, 1);
            assert.match(v[0], /aws:ec2\/securityGroup:SecurityGroup r description: .* refuses: "'"/);
            assert.deepEqual(violations(awsStringLimits, "aws:ec2/securityGroup:SecurityGroup", { description: "SSH from the operator", tags: TAGS }), []);
        });
    });

    describe("IMDSv2", () => {
        test("required tokens pass; optional or absent are rejected", () => {
            assert.deepEqual(violations(imdsv2Required, "aws:ec2/instance:Instance", instance()), []);
            assert.equal(violations(imdsv2Required, "aws:ec2/instance:Instance", instance({ metadataOptions: { httpTokens: "optional" } })).length, 1);
            assert.equal(violations(imdsv2Required, "aws:ec2/instance:Instance", instance({ metadataOptions: undefined })).length, 1);
            assert.equal(violations(imdsv2Required, "aws:ec2/launchTemplate:LaunchTemplate", {}).length, 1);
        });
    });

    describe("budget cap", () => {
        const fleet = (clients: number, over: Record<string, any> = {}) => [
            { type: "aws:ec2/instance:Instance", props: instance({ instanceType: "m6i.4xlarge", ...over }) },
            ...Array.from({ length: 8 }, () => ({ type: "aws:ec2/instance:Instance", props: instance({ instanceType: "c6i.2xlarge", ...over }) })),
            ...Array.from({ length: clients }, () => ({ type: "aws:ec2/instance:Instance", props: instance(over) })),
        ];
        test("a seed tier (~$31/h) within its $40/h cap passes", () => {
            assert.deepEqual(stackViolations(fleet(20)), []);
        });
        test("too many clients for the cap is rejected with the cost", () => {
            const v = stackViolations(fleet(40));
            assert.equal(v.length, 1);
            assert.match(v[0], /49 instances \(1 × m6i\.4xlarge, 8 × c6i\.2xlarge, 40 × c6i\.8xlarge\) cost ~\$\d+(\.\d+)?\/h, above the cap of \$40\/h/);
        });
        test("the policy config can set a lower cap than the stack", () => {
            assert.equal(stackViolations(fleet(20), { maxUsdPerHour: 10 }).length, 1);
        });
        test("an unknown (unpriced) instance type is rejected", () => {
            assert.match(stackViolations([{ type: "aws:ec2/instance:Instance", props: instance({ instanceType: "u-24tb1.112xlarge" }) }])[0], /no known price/);
        });
        test("instances without a budget are rejected", () => {
            assert.match(stackViolations([{ type: "aws:ec2/instance:Instance", props: instance({ tags: TAGS }) }])[0], /no budget/);
        });
        test("a stack without instances (local) is not concerned", () => {
            assert.deepEqual(stackViolations([{ type: "command:local:Command", props: {} }]), []);
        });
    });
});
