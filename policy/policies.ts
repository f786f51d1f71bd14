// The lab's guardrails as Pulumi policies: TTL tags on everything, no SSH from the internet,
// IMDSv2 only, and a fleet within the budget cap. Plain validate functions (no engine needed),
// so tests call them directly with violating and passing resources.
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { fleetUsdPerHour, instanceType } from "../components/plan/prices.ts";
// The tags, the TTL cap and the budget tag the lab stamps (and its config caps), defined once.
import { BUDGET_TAG, LAB_TAG, MAX_TTL_HOURS } from "../components/platform/labTags.ts";
// The one layout in which a security group may allow all traffic from anywhere (untracked flows).
import { ANYWHERE, LAB_NACL_EGRESS, LAB_SG_INGRESS, labNaclIngress } from "../components/platform/aws/trafficRules.ts";
// What AWS accepts in names, descriptions, tags and user data: one table, with its sources.
import { awsStringProblems } from "../components/platform/aws/limits.ts";

export const LAB_TAGS = Object.values(LAB_TAG);
/** AWS types the API gives no tags. */
export const UNTAGGABLE = new Set([
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:scheduler/schedule:Schedule",
    "aws:ec2/route:Route",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
]);
export const INSTANCE = "aws:ec2/instance:Instance";

type Props = Record<string, any>;
const tagsOf = (props: Props): Record<string, string> => ({ ...(props.tagsAll ?? {}), ...(props.tags ?? {}) });

export function ttlTagProblems(type: string, props: Props, now = new Date()): string[] {
    if (!type.startsWith("aws:") || UNTAGGABLE.has(type)) return [];
    const tags = tagsOf(props);
    const problems = LAB_TAGS.filter((k) => !tags[k]).map((k) => `missing tag ${k}: every lab resource must say whose it is and when it expires`);
    const expires = tags[LAB_TAG.expiresAt];
    if (expires) {
        const t = Date.parse(expires);
        if (!Number.isFinite(t)) problems.push(`${LAB_TAG.expiresAt} "${expires}" is not a date`);
        else if (t > now.getTime() + MAX_TTL_HOURS * 3_600_000) problems.push(`${LAB_TAG.expiresAt} ${expires} is more than ${MAX_TTL_HOURS} h away`);
    }
    return problems;
}

const OPEN = new Set(["0.0.0.0/0", "::/0"]);
const coversSsh = (rule: Props) => protocolKey(rule.protocol) === "-1" || ((rule.fromPort ?? 0) <= 22 && (rule.toPort ?? 65535) >= 22);

export function sshFromInternetProblems(type: string, props: Props): string[] {
    const rules: Props[] = [];
    if (type === "aws:ec2/securityGroup:SecurityGroup") rules.push(...(props.ingress ?? []));
    if (type === "aws:ec2/securityGroupRule:SecurityGroupRule" && props.type === "ingress") rules.push(props);
    if (type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
        rules.push({ protocol: props.ipProtocol, fromPort: props.fromPort, toPort: props.toPort, cidrBlocks: [props.cidrIpv4, props.cidrIpv6] });
    }
    return rules
        .filter((r) => coversSsh(r) && [...(r.cidrBlocks ?? []), ...(r.ipv6CidrBlocks ?? [])].some((c: string) => OPEN.has(c)))
        .map(
            (r) =>
                `ingress ${r.protocol}/${r.fromPort}-${r.toPort} from ${[...(r.cidrBlocks ?? []), ...(r.ipv6CidrBlocks ?? [])].filter(Boolean).join(", ")} ` +
                "opens SSH to the internet; allow the operator's CIDR only",
        );
}

export function imdsProblems(type: string, props: Props): string[] {
    if (type !== INSTANCE && type !== "aws:ec2/launchTemplate:LaunchTemplate") return [];
    return props.metadataOptions?.httpTokens === "required" ? [] : ['IMDSv2 not required: set metadataOptions.httpTokens = "required"'];
}

export interface BudgetConfig {
    maxUsdPerHour?: number;
}

/** Fleet cost against the lowest cap: the stack's (instance tag from c2m:aws.budgetUsdPerHour) or the policy config's. */
export function budgetProblems(resources: { type: string; props: Props }[], config: BudgetConfig = {}): string[] {
    const instances = resources.filter((r) => r.type === INSTANCE);
    if (instances.length === 0) return [];
    const problems: string[] = [];
    const unknown = instances.filter((i) => !instanceType(String(i.props.instanceType)));
    problems.push(
        ...[...new Set(unknown.map((i) => String(i.props.instanceType)))].map(
            (t) => `instance type ${t} has no known price: add it to components/plan/prices.ts`,
        ),
    );
    const caps = instances.map((i) => Number(tagsOf(i.props)[BUDGET_TAG])).filter((n) => Number.isFinite(n) && n > 0);
    if (config.maxUsdPerHour !== undefined) caps.push(config.maxUsdPerHour);
    if (caps.length === 0) return [...problems, `no budget: instances must carry ${BUDGET_TAG} (c2m:aws.budgetUsdPerHour)`];
    if (unknown.length > 0) return problems;
    const counts = new Map<string, number>();
    for (const i of instances) counts.set(i.props.instanceType, (counts.get(i.props.instanceType) ?? 0) + 1);
    const volume = Math.max(0, ...instances.map((i) => Number(i.props.rootBlockDevice?.volumeSize ?? 8)));
    const usd = fleetUsdPerHour(
        [...counts].map(([t, count]) => ({ role: t, instanceType: t, count })),
        volume,
    );
    const cap = Math.min(...caps);
    if (usd > cap) {
        problems.push(`${instances.length} instances (${[...counts].map(([t, n]) => `${n} × ${t}`).join(", ")}) cost ~$${usd}/h, above the cap of $${cap}/h`);
    }
    return problems;
}

function perResource(check: (type: string, props: Props) => string[]) {
    return (args: ResourceValidationArgs, report: ReportViolation) => {
        for (const problem of check(args.type, args.props)) report(problem);
    };
}

export const ttlTags: ResourceValidationPolicy = {
    name: "lab-ttl-tags",
    description: "Every taggable AWS resource carries lab:stack, lab:owner and a near lab:expires-at.",
    enforcementLevel: "mandatory",
    validateResource: perResource((type, props) => ttlTagProblems(type, props)),
};

const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
const DEFAULT_ACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl";
/** ACL resources other than the lab subnet's default ACL: each could widen what reaches a host. */
const OTHER_ACL_TYPES = new Set([
    "aws:ec2/networkAcl:NetworkAcl",
    "aws:ec2/networkAclRule:NetworkAclRule",
    "aws:ec2/networkAclAssociation:NetworkAclAssociation",
]);

/**
 * IANA numbers of the protocol names the lab writes. validateStack sees outputs, where the provider
 * records an ACL entry's protocol as its number ("tcp" → "6", "all" → "-1") and an unset IPv6
 * block as "" (terraform-provider-aws internal/service/ec2/vpc_network_acl.go, flattenNetworkACLEntry;
 * ianaProtocolAToI); validateResource and the program use the names: both compare equal here.
 */
const IANA_PROTOCOL: Record<string, string> = { all: "-1", icmp: "1", tcp: "6", udp: "17" };
export const protocolKey = (p: unknown) => IANA_PROTOCOL[String(p).toLowerCase()] ?? String(p);
const blockKey = (b: unknown) => (b === undefined || b === null || b === "" ? null : String(b));
const ruleKey = (r: Props) =>
    JSON.stringify([
        Number(r.ruleNo ?? 0),
        r.action,
        protocolKey(r.protocol),
        blockKey(r.cidrBlock),
        blockKey(r.ipv6CidrBlock),
        Number(r.fromPort ?? 0),
        Number(r.toPort ?? 0),
    ]);
const sameRules = (actual: Props[] | undefined, expected: readonly Props[]) =>
    JSON.stringify((actual ?? []).map(ruleKey).sort()) === JSON.stringify(expected.map(ruleKey).sort());
const prefixOf = (cidr: string) => Number(cidr.split("/")[1] ?? -1);

/** The group allows exactly all traffic from 0.0.0.0/0 (the untracked lab group) and nothing else. */
function isUntrackedLabGroup(props: Props): boolean {
    const ingress: Props[] = props.ingress ?? [];
    const expected = LAB_SG_INGRESS[0];
    return (
        ingress.length === 1 &&
        protocolKey(ingress[0].protocol) === protocolKey(expected.protocol) &&
        Number(ingress[0].fromPort ?? 0) === 0 &&
        Number(ingress[0].toPort ?? 0) === 0 &&
        JSON.stringify(ingress[0].cidrBlocks ?? []) === JSON.stringify(expected.cidrBlocks) &&
        !ingress[0].self &&
        !(ingress[0].ipv6CidrBlocks ?? []).length &&
        !(ingress[0].securityGroups ?? []).length &&
        !(ingress[0].prefixListIds ?? []).length
    );
}

/** Problems of the stack's network ACLs against the lab's: VPC in, SSH from the operator only, download replies; nothing wider. */
export function labAclProblems(resources: { type: string; props: Props }[]): string[] {
    const others = resources.filter((r) => OTHER_ACL_TYPES.has(r.type));
    if (others.length)
        return [`network ACL resources besides the lab subnet's default ACL (${others.map((r) => r.type).join(", ")}) may open the lab: not allowed`];
    const acls = resources.filter((r) => r.type === DEFAULT_ACL);
    if (acls.length !== 1) return [`a security group open to 0.0.0.0/0 needs exactly one lab network ACL on the lab subnet, found ${acls.length}`];
    const acl = acls[0].props;
    if (!(acl.subnetIds ?? []).length) return ["the lab network ACL guards no subnet"];
    const ssh = (acl.ingress ?? []).find((r: Props) => Number(r.ruleNo) === 110);
    const operatorCidr = String(ssh?.cidrBlock ?? "");
    if (operatorCidr === ANYWHERE || prefixOf(operatorCidr) < 8)
        return [`the lab network ACL lets SSH in from ${operatorCidr || "nowhere"}: only the operator's CIDR (/8 or narrower)`];
    const problems: string[] = [];
    if (!sameRules(acl.ingress, labNaclIngress(operatorCidr))) {
        problems.push(
            `the lab network ACL's inbound rules are not exactly the lab's (VPC all, ${operatorCidr} tcp/22, replies to downloads): ${(acl.ingress ?? []).map(ruleKey).join(" ")}`,
        );
    }
    if (!sameRules(acl.egress, LAB_NACL_EGRESS)) problems.push("the lab network ACL's outbound rules are not exactly the lab's (all traffic out)");
    return problems;
}

/**
 * SSH from the internet is refused, with one exception: the untracked lab group (all traffic from
 * 0.0.0.0/0, so no flow is connection-tracked) when the stack's network ACL is exactly the lab's,
 * which lets in only the VPC, SSH from the operator and download replies (trafficRules.ts).
 */
export function trafficLayoutProblems(resources: { type: string; props: Props }[]): string[] {
    const problems: string[] = [];
    for (const r of resources) {
        const open = sshFromInternetProblems(r.type, r.props);
        if (open.length === 0) continue;
        if (r.type !== SECURITY_GROUP || !isUntrackedLabGroup(r.props)) {
            problems.push(...open);
            continue;
        }
        const acl = labAclProblems(resources);
        problems.push(...acl.map((p) => `security group open to 0.0.0.0/0: ${p}`));
    }
    return problems;
}

export const noSshFromInternet: StackValidationPolicy = {
    name: "lab-no-ssh-from-internet",
    description: "No security group lets SSH in from 0.0.0.0/0 or ::/0, except the untracked lab group behind exactly the lab's network ACL.",
    enforcementLevel: "mandatory",
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
        for (const problem of trafficLayoutProblems(args.resources)) report(problem);
    },
};

export const imdsv2Required: ResourceValidationPolicy = {
    name: "lab-imdsv2-required",
    description: "Instances require IMDSv2 session tokens.",
    enforcementLevel: "mandatory",
    validateResource: perResource(imdsProblems),
};

export const budgetCap: StackValidationPolicy = {
    name: "lab-budget-cap",
    description: "Instance types are known and the fleet's hourly cost is within the stack's budget cap.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { maxUsdPerHour: { type: "number", minimum: 0 } } },
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
        for (const problem of budgetProblems(args.resources, args.getConfig<BudgetConfig>())) report(problem);
    },
};

export const STACK = "pulumi:pulumi:Stack";
export interface ExpiryConfig {
    maxTtlHours?: number;
}

/**
 * The lab's lease, on every platform: the root stack exports `expiresAt` (what `lab reap --expired`
 * and the reap workflow read), a UTC instant in the future and at most `maxTtlHours` away
 * (the policy config's, else the longest TTL the config allows).
 */
export function expiryProblems(resources: { type: string; props: Props }[], config: ExpiryConfig = {}, now = new Date()): string[] {
    const stack = resources.find((r) => r.type === STACK);
    if (!stack) return [];
    const max = config.maxTtlHours ?? MAX_TTL_HOURS;
    const at = stack.props.expiresAt;
    if (typeof at !== "string" || at === "") {
        return ["the stack exports no expiresAt: scheduled teardown (lab reap --expired) could not tell when to destroy it"];
    }
    const t = Date.parse(at);
    if (!Number.isFinite(t)) return [`expiresAt "${at}" is not a date`];
    if (t <= now.getTime()) return [`expiresAt ${at} is already past`];
    const hours = (t - now.getTime()) / 3_600_000;
    if (hours > max) return [`expiresAt ${at} is ${hours.toFixed(1)} h away, above the ${max} h maximum: lower c2m:ttlHours`];
    return [];
}

export const labExpiry: StackValidationPolicy = {
    name: "lab-expiry",
    description: "Every lab stack (local or AWS) exports expiresAt, in the future and within the maximum TTL.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { maxTtlHours: { type: "number", exclusiveMinimum: 0, maximum: MAX_TTL_HOURS } } },
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
        for (const problem of expiryProblems(args.resources, args.getConfig<ExpiryConfig>())) report(problem);
    },
};

/**
 * Before a resource is created (validateResource sees its inputs), every string AWS checks fits
 * AWS's documented limits (components/platform/aws/limits.ts): a bad character is refused by the
 * pack, naming the resource and the property, instead of by AWS half-way through an up.
 */
export const awsStringLimits: ResourceValidationPolicy = {
    name: "lab-aws-string-limits",
    description: "Names, descriptions, tags and user data fit AWS's documented lengths and character sets.",
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        for (const problem of awsStringProblems(args.type, args.name, args.props)) report(problem);
    },
};

/** What the AWS resources of an aws-* stack obey (a local stack has none of their types). */
export const AWS_POLICIES = [ttlTags, noSshFromInternet, imdsv2Required, budgetCap, awsStringLimits];
/** The pack: the AWS rules and the rules every stack obeys. */
export const POLICIES = [...AWS_POLICIES, labExpiry];
