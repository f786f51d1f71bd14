// The one table of what AWS accepts in the strings the lab sends it (names, descriptions, tags,
// user data), each with its source, and the check of a resource's inputs against it. Pure: the
// mocks test of every aws tier and the policy pack (before anything is created) both run it, so a
// new description with a character AWS refuses fails CI instead of a first `lab up` half-way.

export interface StringLimit {
    /** What the limit is of, as the operator would look it up. */
    readonly what: string;
    /** Longest value: in characters (UTF-16 code units of ASCII text here), or bytes when `bytes`. */
    readonly max: number;
    readonly bytes?: boolean;
    /** Every character allowed (anchored); absent = any. */
    readonly charset?: RegExp;
    /** A prefix AWS reserves for itself. */
    readonly reservedPrefix?: RegExp;
    readonly source: string;
}

// EC2 CreateSecurityGroup (GroupDescription) and the provider's validator for group and rule
// descriptions (terraform-provider-aws internal/service/ec2/vpc_security_group.go,
// validSecurityGroupRuleDescription): a-z A-Z 0-9, space and ._-:/()#,@[]+=&;{}!$* — no apostrophe.
const SG_CHARSET = /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;

export const AWS_STRING_LIMITS = {
    securityGroupDescription: {
        what: "security group description",
        max: 255,
        charset: SG_CHARSET,
        source: "EC2 API CreateSecurityGroup GroupDescription; terraform-provider-aws internal/service/ec2/vpc_security_group.go",
    },
    securityGroupRuleDescription: {
        what: "security group rule description",
        max: 255,
        charset: SG_CHARSET,
        source: "EC2 API IpRange.Description; terraform-provider-aws validSecurityGroupRuleDescription (internal/service/ec2/vpc_security_group.go)",
    },
    tagKey: {
        what: "tag key",
        max: 128,
        charset: /^[\p{L}\p{N}\p{Zs}_.:/=+\-@]+$/u,
        reservedPrefix: /^aws:/i,
        source: "EC2 User Guide, Tag your Amazon EC2 resources, Tag restrictions",
    },
    tagValue: {
        what: "tag value",
        max: 256,
        charset: /^[\p{L}\p{N}\p{Zs}_.:/=+\-@]*$/u,
        source: "EC2 User Guide, Tag your Amazon EC2 resources, Tag restrictions",
    },
    userData: {
        what: "instance user data (raw, before base64)",
        max: 16 * 1024,
        bytes: true,
        source: "EC2 User Guide, Work with instance user data: limited to 16 KB in raw form, before it is base64-encoded",
    },
    iamRoleName: {
        what: "IAM role name",
        max: 64,
        charset: /^[\w+=,.@-]+$/,
        source: "IAM API CreateRole RoleName: length 1-64, pattern [\\w+=,.@-]+",
    },
    iamRoleDescription: {
        what: "IAM role description",
        max: 1000,
        // biome-ignore lint/suspicious/noControlCharactersInRegex: AWS's own pattern names tab, LF and CR as allowed
        charset: /^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$/,
        source: "IAM API CreateRole Description: length 0-1000, pattern [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*",
    },
    iamRolePolicyName: {
        what: "IAM inline policy name",
        max: 128,
        charset: /^[\w+=,.@-]+$/,
        source: "IAM API PutRolePolicy PolicyName: length 1-128, pattern [\\w+=,.@-]+",
    },
    scheduleName: {
        what: "EventBridge Scheduler schedule name",
        max: 64,
        charset: /^[0-9a-zA-Z\-_.]+$/,
        source: "EventBridge Scheduler API CreateSchedule Name: length 1-64, pattern [0-9a-zA-Z-_.]+",
    },
    scheduleDescription: {
        what: "EventBridge Scheduler schedule description",
        max: 512,
        source: "EventBridge Scheduler API CreateSchedule Description: length 0-512",
    },
    keyPairName: {
        what: "EC2 key pair name",
        max: 255,
        charset: /^[\x20-\x7E]+$/,
        source: "EC2 API ImportKeyPair KeyName: up to 255 ASCII characters",
    },
} as const satisfies Record<string, StringLimit>;

export type LimitName = keyof typeof AWS_STRING_LIMITS;

/**
 * Pulumi's AWS provider names a resource that is given no name `<logical name>-<7 hex>`
 * (pulumi/pulumi-terraform-bridge, tfbridge AutoNameTransform: "-" + 7 random characters).
 */
export const AUTONAME_SUFFIX = "-abcdef0";

/** A string against one limit: [] when it fits, else what is wrong and the limit's source. */
export function limitProblems(limitName: LimitName, value: string, where: string): string[] {
    const limit: StringLimit = AWS_STRING_LIMITS[limitName];
    const size = limit.bytes ? Buffer.byteLength(value, "utf8") : [...value].length;
    const problems: string[] = [];
    if (size > limit.max)
        problems.push(`${where}: ${limit.what} is ${size} ${limit.bytes ? "bytes" : "characters"}, AWS accepts ${limit.max} at most (${limit.source})`);
    if (limit.charset && !limit.charset.test(value)) {
        const bad = [...new Set([...value].filter((c) => !limit.charset!.test(c)))];
        problems.push(
            `${where}: ${limit.what} ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)} has character(s) AWS refuses: ` +
                `${bad.map((c) => JSON.stringify(c)).join(" ")} (${limit.source})`,
        );
    }
    if (limit.reservedPrefix?.test(value)) problems.push(`${where}: ${limit.what} "${value}" starts with a prefix AWS reserves (${limit.source})`);
    return problems;
}

type Props = Record<string, any>;

/** Which input of which type goes to which limit; `autoname` = the provider names it from the logical name. */
const BY_TYPE: Record<string, { prop: string; limit: LimitName }[]> = {
    "aws:ec2/securityGroup:SecurityGroup": [{ prop: "description", limit: "securityGroupDescription" }],
    "aws:ec2/instance:Instance": [{ prop: "userData", limit: "userData" }],
    "aws:iam/role:Role": [
        { prop: "description", limit: "iamRoleDescription" },
        { prop: "name", limit: "iamRoleName" },
    ],
    "aws:iam/rolePolicy:RolePolicy": [{ prop: "name", limit: "iamRolePolicyName" }],
    "aws:scheduler/schedule:Schedule": [
        { prop: "description", limit: "scheduleDescription" },
        { prop: "name", limit: "scheduleName" },
    ],
    "aws:ec2/keyPair:KeyPair": [{ prop: "keyName", limit: "keyPairName" }],
};

/** Types whose `name`/`keyName` the provider fills from the logical name when the program gives none. */
const AUTONAMED: Record<string, string> = {
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:scheduler/schedule:Schedule": "name",
    "aws:ec2/keyPair:KeyPair": "keyName",
};

/**
 * Every string of one resource's inputs that AWS checks, against the table: descriptions (of the
 * resource and of its inline rules), names (given, or the provider's autoname from `logicalName`),
 * tags, user data. Returns the problems, each naming the resource, the property and the source.
 */
export function awsStringProblems(type: string, logicalName: string, props: Props): string[] {
    if (!type.startsWith("aws:")) return [];
    const at = (prop: string) => `${type} ${logicalName} ${prop}`;
    const problems: string[] = [];
    const autonamed = AUTONAMED[type];
    for (const { prop, limit } of BY_TYPE[type] ?? []) {
        let value = props[prop];
        if ((value === undefined || value === "") && prop === autonamed) value = `${logicalName}${AUTONAME_SUFFIX}`;
        if (typeof value === "string") problems.push(...limitProblems(limit, value, at(prop)));
    }
    if (type === "aws:ec2/securityGroup:SecurityGroup") {
        for (const way of ["ingress", "egress"]) {
            (props[way] ?? []).forEach((rule: Props, i: number) => {
                if (typeof rule?.description === "string")
                    problems.push(...limitProblems("securityGroupRuleDescription", rule.description, at(`${way}[${i}].description`)));
            });
        }
    }
    if (type === "aws:ec2/securityGroupRule:SecurityGroupRule" && typeof props.description === "string") {
        problems.push(...limitProblems("securityGroupRuleDescription", props.description, at("description")));
    }
    const tagSets: [string, Props | undefined][] = [
        ["tags", props.tags],
        ["rootBlockDevice.tags", props.rootBlockDevice?.tags],
    ];
    for (const [where, tags] of tagSets) {
        for (const [key, value] of Object.entries(tags ?? {})) {
            problems.push(...limitProblems("tagKey", key, at(`${where} key`)));
            if (typeof value === "string") problems.push(...limitProblems("tagValue", value, at(`${where}.${key}`)));
        }
    }
    return problems;
}
