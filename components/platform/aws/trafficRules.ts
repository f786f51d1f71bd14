// What may reach an EC2 lab host, as data: the lab security group and the lab subnet's network
// ACL. Pure (no @pulumi/aws), so the policy pack can hold a stack to exactly this layout.
//
// Why two layers: a security group tracks every flow it cannot prove symmetric, and Nitro
// instances have a per-instance tracking allowance far below the 2.1M sockets the LB holds. AWS
// EC2 user guide, "Security group connection tracking" → "Untracked connections": TCP/UDP flows
// are untracked only when a rule allows all traffic (0.0.0.0/0) in one direction and a rule
// allows all response traffic (0.0.0.0/0, all ports) in the other. So the group allows everything
// both ways (no flow is tracked), and the subnet's network ACL (stateless, so it costs no
// tracking) pins what may reach a host: the VPC, SSH from the operator, and the return traffic
// of the hosts' own downloads. Everything else meets the ACL's final deny-all rule (`*`).
import { VPC_CIDR } from "./addressPlan.ts";

export const ANYWHERE = "0.0.0.0/0";

/**
 * Linux's default net.ipv4.ip_local_port_range: the source ports of the hosts' downloads
 * (cloud-init's apt and curl). The ACL lets the internet's answers in on these ports only, so a
 * lab service must not listen in this range (settings.ts refuses such ports) and a download
 * after the tuning widened the range must bind one of them (curl --local-port).
 */
export const EPHEMERAL_PORTS = { from: 32768, to: 60999 } as const;

export interface SecurityGroupRule {
    description: string;
    protocol: string;
    fromPort: number;
    toPort: number;
    cidrBlocks: string[];
}

/** The lab group's only ingress rule and only egress rule: all protocols, 0.0.0.0/0, so no flow is tracked. */
export const LAB_SG_INGRESS: readonly SecurityGroupRule[] = [
    {
        // AWS refuses an apostrophe here (charset and source: limits.ts).
        description: "all traffic, untracked; the network ACL of the lab subnet decides what reaches a host",
        protocol: "-1",
        fromPort: 0,
        toPort: 0,
        cidrBlocks: [ANYWHERE],
    },
];
export const LAB_SG_EGRESS: readonly SecurityGroupRule[] = [
    {
        description: "all traffic, untracked (lab traffic, replies, downloads)",
        protocol: "-1",
        fromPort: 0,
        toPort: 0,
        cidrBlocks: [ANYWHERE],
    },
];

export interface NetworkAclRule {
    ruleNo: number;
    action: "allow" | "deny";
    protocol: string;
    cidrBlock: string;
    fromPort: number;
    toPort: number;
}

/** Inbound rules of the lab subnet's ACL, evaluated by number; the ACL's `*` rule denies the rest. */
export function labNaclIngress(operatorCidr: string): NetworkAclRule[] {
    if (operatorCidr === ANYWHERE) throw new Error("operatorCidr: SSH from 0.0.0.0/0 is refused");
    return [
        { ruleNo: 100, action: "allow", protocol: "-1", cidrBlock: VPC_CIDR, fromPort: 0, toPort: 0 },
        { ruleNo: 110, action: "allow", protocol: "tcp", cidrBlock: operatorCidr, fromPort: 22, toPort: 22 },
        { ruleNo: 120, action: "allow", protocol: "tcp", cidrBlock: ANYWHERE, fromPort: EPHEMERAL_PORTS.from, toPort: EPHEMERAL_PORTS.to },
    ];
}

/** Outbound: everything (the group tracks nothing, so replies to SSH and downloads need this). */
export const LAB_NACL_EGRESS: readonly NetworkAclRule[] = [{ ruleNo: 100, action: "allow", protocol: "-1", cidrBlock: ANYWHERE, fromPort: 0, toPort: 0 }];

/** TCP ports in `ports` that the ACL opens to the internet (the downloads' return range). */
export function portsOpenToReturnTraffic(ports: number[]): number[] {
    return ports.filter((p) => p >= EPHEMERAL_PORTS.from && p <= EPHEMERAL_PORTS.to);
}
