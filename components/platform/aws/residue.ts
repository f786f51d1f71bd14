// What an AWS stack leaves behind: everything still tagged lab:stack=<stack> (the AWS provider
// tags every resource of the lab by default), listed with the EC2 API. Read-only. The client is
// passed in, so tests give a fake one and never reach AWS.
import {
    DescribeAddressesCommand,
    DescribeInstancesCommand,
    DescribeNetworkInterfacesCommand,
    DescribePlacementGroupsCommand,
    DescribeSecurityGroupsCommand,
    DescribeVolumesCommand,
    DescribeVpcsCommand,
    type EC2Client,
    type Filter,
} from "@aws-sdk/client-ec2";

export type Ec2 = Pick<EC2Client, "send">;

export type AwsResidue = {
    instances: string[];
    volumes: string[];
    networkInterfaces: string[];
    addresses: string[];
    securityGroups: string[];
    vpcs: string[];
    placementGroups: string[];
};

/** Every state but terminated (a terminated instance stays listed for about an hour, and costs nothing). */
const LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];

/** Items of every page of a paginated Describe call. */
async function allPages<T>(page: (token: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
    const items: T[] = [];
    let token: string | undefined;
    do {
        const p = await page(token);
        items.push(...p.items);
        token = p.next;
    } while (token);
    return items;
}

/** Everything tagged with the stack in the client's region; throws (never "none") when AWS cannot be asked. */
export async function awsResidue(stack: string, region: string, ec2: Ec2): Promise<AwsResidue> {
    const Filters: Filter[] = [{ Name: "tag:lab:stack", Values: [stack] }];
    try {
        const [instances, volumes, networkInterfaces, addresses, securityGroups, vpcs, placementGroups] = await Promise.all([
            allPages(async (NextToken) => {
                const out = await ec2.send(
                    new DescribeInstancesCommand({
                        Filters: [...Filters, { Name: "instance-state-name", Values: LIVE_INSTANCE_STATES }],
                        NextToken,
                    }),
                );
                const found = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
                return { items: found.map((i) => `${i.InstanceId} (${i.State?.Name ?? "unknown state"})`), next: out.NextToken };
            }),
            allPages(async (NextToken) => {
                const out = await ec2.send(new DescribeVolumesCommand({ Filters, NextToken }));
                return { items: (out.Volumes ?? []).map((v) => String(v.VolumeId)), next: out.NextToken };
            }),
            allPages(async (NextToken) => {
                const out = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters, NextToken }));
                return { items: (out.NetworkInterfaces ?? []).map((n) => String(n.NetworkInterfaceId)), next: out.NextToken };
            }),
            ec2.send(new DescribeAddressesCommand({ Filters })).then((out) => (out.Addresses ?? []).map((a) => `${a.AllocationId} (${a.PublicIp})`)),
            allPages(async (NextToken) => {
                const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters, NextToken }));
                return { items: (out.SecurityGroups ?? []).map((g) => String(g.GroupId)), next: out.NextToken };
            }),
            allPages(async (NextToken) => {
                const out = await ec2.send(new DescribeVpcsCommand({ Filters, NextToken }));
                return { items: (out.Vpcs ?? []).map((v) => String(v.VpcId)), next: out.NextToken };
            }),
            // A deleted group stays listed in state "deleted" for a while (EC2 API PlacementGroup.State:
            // pending | available | deleting | deleted): it is gone, not residue. The lab creates none
            // any more (fleet.ts); a stack from before still had one.
            ec2
                .send(new DescribePlacementGroupsCommand({ Filters }))
                .then((out) => (out.PlacementGroups ?? []).filter((g) => g.State !== "deleted").map((g) => `${g.GroupName} (${g.GroupId})`)),
        ]);
        return { instances, volumes, networkInterfaces, addresses, securityGroups, vpcs, placementGroups };
    } catch (err) {
        const e = err as Error;
        throw new Error(`AWS residue check of stack ${stack} in ${region} failed, so what it left is unknown: ${e.name}: ${e.message}`);
    }
}
