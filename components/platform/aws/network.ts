// The lab's network: one VPC in one AZ, one public subnet (SSH enters from the operator's
// address; lab traffic stays inside), an internet gateway for cloud-init's downloads.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { SUBNET_CIDR, VPC_CIDR } from "./addressPlan.ts";

export interface LabNetworkArgs {
    /** Tags every resource carries (lab:stack, lab:owner, lab:expires-at). */
    readonly tags: Record<string, string>;
    /** AZ of the subnet; the region's first when absent. */
    readonly availabilityZone?: pulumi.Input<string>;
}

export class LabNetwork extends pulumi.ComponentResource {
    readonly vpc: aws.ec2.Vpc;
    readonly subnet: aws.ec2.Subnet;

    constructor(name: string, args: LabNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsNetwork", name, {}, opts);
        const tags = (suffix: string) => ({ ...args.tags, Name: `${name}-${suffix}` });
        const az = args.availabilityZone
            ?? aws.getAvailabilityZonesOutput({ state: "available" }, { parent: this }).names.apply((n) => n[0]);
        this.vpc = new aws.ec2.Vpc(`${name}-vpc`, {
            cidrBlock: VPC_CIDR, enableDnsHostnames: true, enableDnsSupport: true, tags: tags("vpc"),
        }, { parent: this });
        const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: this.vpc.id, tags: tags("igw") }, { parent: this });
        this.subnet = new aws.ec2.Subnet(`${name}-public`, {
            vpcId: this.vpc.id, cidrBlock: SUBNET_CIDR, availabilityZone: az,
            mapPublicIpOnLaunch: false, tags: tags("public"),
        }, { parent: this });
        const routes = new aws.ec2.RouteTable(`${name}-routes`, {
            vpcId: this.vpc.id,
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
            tags: tags("routes"),
        }, { parent: this });
        new aws.ec2.RouteTableAssociation(`${name}-public-routes`, { subnetId: this.subnet.id, routeTableId: routes.id }, { parent: this });
        this.registerOutputs({ vpcId: this.vpc.id, subnetId: this.subnet.id });
    }
}
