// The lab's security group: SSH only from the operator's CIDR, lab traffic only between
// members of the group, egress open (package and release downloads).
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export interface LabSecurityArgs {
    readonly vpcId: pulumi.Input<string>;
    /** The only source SSH is accepted from (validated: never 0.0.0.0/0). */
    readonly operatorCidr: string;
    readonly tags: Record<string, string>;
}

export class LabSecurity extends pulumi.ComponentResource {
    readonly group: aws.ec2.SecurityGroup;

    constructor(name: string, args: LabSecurityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsSecurity", name, {}, opts);
        if (/^0\.0\.0\.0\/0$/.test(args.operatorCidr)) {
            throw new pulumi.ResourceError("operatorCidr: SSH from 0.0.0.0/0 is refused", this);
        }
        this.group = new aws.ec2.SecurityGroup(`${name}-lab`, {
            vpcId: args.vpcId,
            description: "c2m lab: SSH from the operator only; lab traffic between lab hosts only",
            ingress: [
                { description: "SSH from the operator", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: [args.operatorCidr] },
                { description: "lab traffic between lab hosts", protocol: "-1", fromPort: 0, toPort: 0, self: true },
            ],
            egress: [{ description: "downloads (apt, releases)", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
            tags: { ...args.tags, Name: `${name}-lab` },
        }, { parent: this });
        this.registerOutputs({ groupId: this.group.id });
    }
}
