// The shape in which the engine hands a stack's resources to a policy's validateStack: their
// *outputs* (node_modules/@pulumi/policy/policy.d.ts, PolicyResource.props: "The outputs of the
// resource"; pulumi/pulumi pkg/resource/deploy/step_generator.go runs AnalyzeStack on the final
// states), not the inputs the program wrote. Built from the provider's own flatteners, so a policy
// that compares against input spellings fails here as it would after a real `lab up`:
//  - network ACL entries: terraform-provider-aws internal/service/ec2/vpc_network_acl.go
//    flattenNetworkACLEntry records the protocol as its IANA number ("tcp" → "6", all → "-1"),
//    and the entry set's unset attributes come back as the zero value ("" for ipv6_cidr_block,
//    0 for icmp_code/icmp_type);
//  - security group rules: internal/service/ec2/vpc_security_group.go flattens every rule with
//    all its attributes (empty lists for ipv6_cidr_blocks, prefix_list_ids, security_groups,
//    self false, description "");
//  - every resource gets its computed id and arn, and tags_all = the provider's default tags
//    merged with its own (internal/tags: tags_all is computed).
// Not a test file.

type Props = Record<string, any>;

/** IANA protocol numbers of the names the lab uses (the provider's ianaProtocolAToI table). */
const IANA: Record<string, number> = { all: -1, icmp: 1, tcp: 6, udp: 17 };
const protocolNumber = (p: unknown) => {
    const s = String(p);
    return /^-?\d+$/.test(s) ? s : String(IANA[s.toLowerCase()] ?? s);
};

function aclEntry(e: Props): Props {
    return {
        action: e.action,
        ruleNo: e.ruleNo,
        cidrBlock: e.cidrBlock ?? "",
        ipv6CidrBlock: e.ipv6CidrBlock ?? "",
        fromPort: e.fromPort ?? 0,
        toPort: e.toPort ?? 0,
        protocol: protocolNumber(e.protocol),
        icmpCode: e.icmpCode ?? 0,
        icmpType: e.icmpType ?? 0,
    };
}

function sgRule(r: Props): Props {
    return {
        cidrBlocks: r.cidrBlocks ?? [],
        description: r.description ?? "",
        fromPort: r.fromPort ?? 0,
        toPort: r.toPort ?? 0,
        ipv6CidrBlocks: r.ipv6CidrBlocks ?? [],
        prefixListIds: r.prefixListIds ?? [],
        protocol: String(r.protocol),
        securityGroups: r.securityGroups ?? [],
        self: r.self ?? false,
    };
}

let serial = 0;
const id = (prefix: string) => `${prefix}-0${(++serial).toString(16).padStart(16, "0")}`;
const ID_PREFIX: Record<string, string> = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": "acl",
    "aws:ec2/instance:Instance": "i",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/keyPair:KeyPair": "key",
};

/** One resource's outputs as the provider records them, from its inputs and the provider's default tags. */
export function outputShaped(type: string, inputs: Props, defaultTags: Record<string, string> = {}): Props {
    const out: Props = { ...inputs, id: id(ID_PREFIX[type] ?? "res"), arn: `arn:aws:mock:us-east-1:123456789012:${type}/${serial}` };
    if (type.startsWith("aws:") && inputs.tags !== undefined) out.tagsAll = { ...defaultTags, ...inputs.tags };
    if (type === "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl") {
        out.ingress = (inputs.ingress ?? []).map(aclEntry);
        out.egress = (inputs.egress ?? []).map(aclEntry);
        out.subnetIds = inputs.subnetIds ?? [];
    }
    if (type === "aws:ec2/securityGroup:SecurityGroup") {
        out.ingress = (inputs.ingress ?? []).map(sgRule);
        out.egress = (inputs.egress ?? []).map(sgRule);
        out.name ??= `${type}-abcdef0`;
        out.namePrefix = "";
        out.revokeRulesOnDelete = false;
    }
    if (type === "aws:ec2/instance:Instance") {
        out.metadataOptions = {
            httpEndpoint: "enabled",
            httpProtocolIpv6: "disabled",
            httpPutResponseHopLimit: 1,
            httpTokens: "optional",
            instanceMetadataTags: "disabled",
            ...inputs.metadataOptions,
        };
        out.rootBlockDevice = {
            deleteOnTermination: true,
            encrypted: false,
            iops: 3000,
            kmsKeyId: "",
            throughput: 125,
            volumeId: id("vol"),
            volumeSize: 8,
            volumeType: "gp3",
            ...inputs.rootBlockDevice,
            tagsAll: { ...defaultTags, ...inputs.rootBlockDevice?.tags },
        };
        out.privateIp = inputs.privateIp ?? "";
        out.ipv6Addresses = [];
    }
    return out;
}

/** The provider's default tags (the lab's provider is registered with `defaultTags: { tags }`). */
export function providerDefaultTags(resources: { type: string; inputs: Props }[]): Record<string, string> {
    const provider = resources.find((r) => r.type === "pulumi:providers:aws");
    const raw = provider?.inputs.defaultTags;
    const parsed = typeof raw === "string" ? JSON.parse(raw) : raw;
    return parsed?.tags ?? {};
}
