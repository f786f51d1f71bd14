// The AWS residue check against a fake EC2 client: never reaches AWS.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    DescribeAddressesCommand,
    DescribeInstancesCommand,
    DescribeNetworkInterfacesCommand,
    DescribePlacementGroupsCommand,
    DescribeSecurityGroupsCommand,
    DescribeVolumesCommand,
    DescribeVpcsCommand,
    EC2ServiceException,
} from "@aws-sdk/client-ec2";
import { awsResidue, type Ec2 } from "../../components/platform/aws/residue.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";

type Answer = (input: Record<string, any>) => Record<string, unknown>;

/** A client answering each Describe command it is given an answer for (empty otherwise), recording the inputs. */
function fakeEc2(answers: Map<Function, Answer> = new Map()): { ec2: Ec2; calls: { command: string; input: Record<string, any> }[] } {
    const calls: { command: string; input: Record<string, any> }[] = [];
    const ec2 = {
        async send(command: { input: Record<string, any> }) {
            calls.push({ command: command.constructor.name, input: command.input });
            return answers.get(command.constructor)?.(command.input) ?? {};
        },
    } as unknown as Ec2;
    return { ec2, calls };
}

const tagged = new Map<Function, Answer>([
    [
        DescribeInstancesCommand,
        () => ({
            Reservations: [
                {
                    Instances: [
                        { InstanceId: "i-0aaa", State: { Name: "running" } },
                        { InstanceId: "i-0bbb", State: { Name: "stopped" } },
                    ],
                },
            ],
        }),
    ],
    [DescribeVolumesCommand, () => ({ Volumes: [{ VolumeId: "vol-0ccc" }] })],
    [DescribeNetworkInterfacesCommand, () => ({ NetworkInterfaces: [{ NetworkInterfaceId: "eni-0ddd" }] })],
    [DescribeAddressesCommand, () => ({ Addresses: [{ AllocationId: "eipalloc-0eee", PublicIp: "203.0.113.9" }] })],
    [DescribeSecurityGroupsCommand, () => ({ SecurityGroups: [{ GroupId: "sg-0fff" }] })],
    [DescribeVpcsCommand, () => ({ Vpcs: [{ VpcId: "vpc-0123" }] })],
    [DescribePlacementGroupsCommand, () => ({ PlacementGroups: [{ GroupName: "lab-hosts-pg", GroupId: "pg-0456" }] })],
]);

describe("AWS residue: what is still tagged lab:stack=<stack>", () => {
    test("lists every tagged resource by id, and says so", async () => {
        const { ec2 } = fakeEc2(tagged);
        const left = await awsResidue("aws-4c30g", "us-east-1", ec2);
        assert.deepEqual(left, {
            instances: ["i-0aaa (running)", "i-0bbb (stopped)"],
            volumes: ["vol-0ccc"],
            networkInterfaces: ["eni-0ddd"],
            addresses: ["eipalloc-0eee (203.0.113.9)"],
            securityGroups: ["sg-0fff"],
            vpcs: ["vpc-0123"],
            placementGroups: ["lab-hosts-pg (pg-0456)"],
        });
        assert.equal(residueCount(left), 8);
        const text = describeResidue(left);
        assert.match(text, /^residue check: LEFT BEHIND/);
        for (const id of ["i-0aaa", "i-0bbb", "vol-0ccc", "eni-0ddd", "eipalloc-0eee", "sg-0fff", "vpc-0123", "pg-0456"]) assert.ok(text.includes(id), id);
        assert.match(text, /network interfaces: eni-0ddd/);
    });

    test("a placement group in state deleted is gone, not residue (it stays listed a while after a clean destroy)", async () => {
        const answers = new Map<Function, Answer>([
            [
                DescribePlacementGroupsCommand,
                () => ({
                    PlacementGroups: [
                        { GroupName: "lab-hosts-cluster-1", GroupId: "pg-0old", State: "deleted" },
                        { GroupName: "lab-hosts-cluster-2", GroupId: "pg-0new", State: "available" },
                    ],
                }),
            ],
        ]);
        const left = await awsResidue("aws-4c30g", "us-east-1", fakeEc2(answers).ec2);
        assert.deepEqual(left.placementGroups, ["lab-hosts-cluster-2 (pg-0new)"]);
    });

    test("nothing tagged: none, naming each kind it looked for", async () => {
        const left = await awsResidue("aws-4c30g", "us-east-1", fakeEc2().ec2);
        assert.equal(residueCount(left), 0);
        assert.equal(
            describeResidue(left),
            "residue check: none (0 instances, 0 volumes, 0 network interfaces, 0 addresses, " + "0 security groups, 0 vpcs, 0 placement groups)",
        );
    });

    test("asks only for the stack's tag; instances in every state but terminated", async () => {
        const { ec2, calls } = fakeEc2();
        await awsResidue("aws-16c64g", "eu-west-3", ec2);
        assert.equal(calls.length, 7);
        for (const c of calls) assert.deepEqual(c.input.Filters[0], { Name: "tag:lab:stack", Values: ["aws-16c64g"] }, c.command);
        const states = calls.find((c) => c.command === "DescribeInstancesCommand")!.input.Filters[1];
        assert.equal(states.Name, "instance-state-name");
        assert.ok(!states.Values.includes("terminated"));
        assert.ok(states.Values.includes("running") && states.Values.includes("stopped"));
    });

    test("follows NextToken through every page", async () => {
        const pages = new Map<Function, Answer>([
            [
                DescribeVolumesCommand,
                (input) => (input.NextToken === undefined ? { Volumes: [{ VolumeId: "vol-1" }], NextToken: "page-2" } : { Volumes: [{ VolumeId: "vol-2" }] }),
            ],
        ]);
        const { ec2, calls } = fakeEc2(pages);
        assert.deepEqual((await awsResidue("s", "us-east-1", ec2)).volumes, ["vol-1", "vol-2"]);
        assert.deepEqual(
            calls.filter((c) => c.command === "DescribeVolumesCommand").map((c) => c.input.NextToken),
            [undefined, "page-2"],
        );
    });

    test('an AWS error is an error naming stack, region and cause, never "none"', async () => {
        const denied = new EC2ServiceException({
            name: "UnauthorizedOperation",
            $fault: "client",
            $metadata: { httpStatusCode: 403 },
            message: "You are not authorized to perform this operation.",
        });
        const failing = new Map<Function, Answer>([
            ...tagged,
            [
                DescribeVolumesCommand,
                () => {
                    throw denied;
                },
            ],
        ]);
        await assert.rejects(awsResidue("aws-4c30g", "us-east-1", fakeEc2(failing).ec2), (err: Error) => {
            assert.match(err.message, /aws-4c30g/);
            assert.match(err.message, /us-east-1/);
            assert.match(err.message, /UnauthorizedOperation: You are not authorized/);
            assert.match(err.message, /unknown/);
            assert.doesNotMatch(err.message, /none/);
            return true;
        });
    });
});
