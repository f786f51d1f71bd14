// The lab's security group: all traffic both ways from/to 0.0.0.0/0, so EC2 tracks no flow (the
// LB's 2.1M sockets would exhaust the instance's connection-tracking allowance otherwise). What
// may reach a host is pinned by the lab subnet's network ACL (network.ts): the layout of both is
// trafficRules.ts. The group is only ever attached to instances in that subnet.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { LAB_SG_EGRESS, LAB_SG_INGRESS } from "./trafficRules.ts";

export interface LabSecurityArgs {
    readonly vpcId: pulumi.Input<string>;
    readonly tags: Record<string, string>;
}

export class LabSecurity extends pulumi.ComponentResource {
    readonly group: aws.ec2.SecurityGroup;

    constructor(name: string, args: LabSecurityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsSecurity", name, {}, opts);
        this.group = new aws.ec2.SecurityGroup(
            `${name}-lab`,
            {
                vpcId: args.vpcId,
                // AWS refuses an apostrophe here (charset and source: limits.ts).
                description:
                    "c2m lab traffic: untracked (all/0.0.0.0/0 both ways); the network ACL of the lab subnet lets in only the VPC, SSH from the operator and download replies",
                ingress: LAB_SG_INGRESS.map((r) => ({ ...r, cidrBlocks: [...r.cidrBlocks] })),
                egress: LAB_SG_EGRESS.map((r) => ({ ...r, cidrBlocks: [...r.cidrBlocks] })),
                tags: { ...args.tags, Name: `${name}-lab` },
            },
            { parent: this },
        );
        this.registerOutputs({ groupId: this.group.id });
    }
}
