// The lab's network: one VPC in one AZ, one public subnet (SSH enters from the operator's
// address; lab traffic stays inside), an internet gateway for cloud-init's downloads, and the
// network ACL that pins what may reach the subnet (trafficRules.ts): the VPC's default ACL,
// adopted with the lab's rules (a VPC's default ACL goes with the VPC, so destroy deletes nothing
// of it and the reaper needs no ACL permission).
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { SUBNET_CIDR, VPC_CIDR } from "./addressPlan.ts";
import { LAB_NACL_EGRESS, labNaclIngress } from "./trafficRules.ts";

export interface LabNetworkArgs {
    /** Tags every resource carries (lab:stack, lab:owner, lab:expires-at). */
    readonly tags: Record<string, string>;
    /** AZ of the subnet: one that offers every instance type of the lab (availability.ts). */
    readonly availabilityZone: string;
    /** The only source the ACL lets SSH in from. */
    readonly operatorCidr: string;
}

export class LabNetwork extends pulumi.ComponentResource {
    readonly vpc: aws.ec2.Vpc;
    readonly subnet: aws.ec2.Subnet;
    /** The lab subnet's ACL: instances start only once its rules are in place. */
    readonly acl: aws.ec2.DefaultNetworkAcl;
    /**
     * The subnet's route to the internet gateway: instances start only once it is associated, or
     * cloud-init's apt would run with no route out (the VPC's main route table has none).
     */
    readonly routes: aws.ec2.RouteTableAssociation;

    constructor(name: string, args: LabNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsNetwork", name, {}, opts);
        const tags = (suffix: string) => ({ ...args.tags, Name: `${name}-${suffix}` });
        this.vpc = new aws.ec2.Vpc(
            `${name}-vpc`,
            {
                cidrBlock: VPC_CIDR,
                enableDnsHostnames: true,
                enableDnsSupport: true,
                tags: tags("vpc"),
            },
            { parent: this },
        );
        const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: this.vpc.id, tags: tags("igw") }, { parent: this });
        this.subnet = new aws.ec2.Subnet(
            `${name}-public`,
            {
                vpcId: this.vpc.id,
                cidrBlock: SUBNET_CIDR,
                availabilityZone: args.availabilityZone,
                mapPublicIpOnLaunch: false,
                tags: tags("public"),
            },
            { parent: this },
        );
        this.acl = new aws.ec2.DefaultNetworkAcl(
            `${name}-acl`,
            {
                defaultNetworkAclId: this.vpc.defaultNetworkAclId,
                subnetIds: [this.subnet.id],
                ingress: labNaclIngress(args.operatorCidr),
                egress: LAB_NACL_EGRESS.map((r) => ({ ...r })),
                tags: tags("acl"),
            },
            { parent: this },
        );
        const routes = new aws.ec2.RouteTable(
            `${name}-routes`,
            {
                vpcId: this.vpc.id,
                routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
                tags: tags("routes"),
            },
            { parent: this },
        );
        this.routes = new aws.ec2.RouteTableAssociation(`${name}-public-routes`, { subnetId: this.subnet.id, routeTableId: routes.id }, { parent: this });
        this.registerOutputs({ vpcId: this.vpc.id, subnetId: this.subnet.id, aclId: this.acl.id });
    }
}
