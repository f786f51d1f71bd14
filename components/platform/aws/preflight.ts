// `lab preflight`: before anything is created, whether this account can run this tier. Read-only
// questions to AWS through a client passed in (tests give a fake one per answer; scripts/lib/awsPreflight.ts
// gives the AWS SDK's), and the state backend and passphrase the scheduled reaper must be able to
// use. Each failure names the number or setting and how to fix it. No I/O of its own.
import { ConfigError, type LabConfig } from "../../config.ts";
import type { CapacityPlan } from "../../plan/capacity.ts";
import { awsSettings, plannerInput } from "./settings.ts";
import { planTier } from "../../plan/planner.ts";
import { chooseAvailabilityZone, type Offerings } from "./availability.ts";
import { DEBIAN_AMI_OWNER, DEBIAN_AMI_PARAMETER_OF, debianAmiNameOf, debianReleaseOf } from "./image.ts";
import { imageOf, type ImageName } from "../../images.ts";
import { hasHostBits, ipToInt, readCidr } from "../addressPlan.ts";

/**
 * Service Quotas code of "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", counted
 * in vCPUs per region (AWS CLI User Guide, Service Quotas examples: `aws service-quotas
 * get-aws-default-service-quota --service-code ec2 --quota-code L-1216C47A`, usage metric
 * Resource vCPU, Class Standard/OnDemand, default 5). Every type the tiers use (c6i, m6i, r6i, t3) is a standard family.
 */
export const STANDARD_VCPU_QUOTA = { serviceCode: "ec2", quotaCode: "L-1216C47A" } as const;

export interface AwsImage {
    id: string;
    ownerId: string;
    name: string;
    state: string;
}

/** The read-only questions preflight asks; each throws (with AWS's error) when AWS cannot answer. */
export interface PreflightClient {
    /** STS GetCallerIdentity. */
    callerIdentity(): Promise<{ account: string; arn: string }>;
    /** Service Quotas GetServiceQuota (the account's value), else GetAWSDefaultServiceQuota. */
    vcpuQuota(): Promise<{ value: number; source: "applied" | "default" }>;
    /** EC2 DescribeInstances: running or pending On-Demand instances of the region, with their type, vCPUs and lab:stack tag. */
    instancesInUse(): Promise<{ instanceType: string; vcpus: number; stack?: string; spot?: boolean }[]>;
    /** EC2 DescribeAvailabilityZones (available zones of the region, in its order). */
    zones(): Promise<string[]>;
    /** EC2 DescribeInstanceTypeOfferings by availability zone, for these types. */
    offerings(types: string[]): Promise<Offerings>;
    /** EC2 DescribeImages of one id; undefined when the region has no such image. */
    image(id: string): Promise<AwsImage | undefined>;
    /** SSM GetParameter of one of Debian's public parameters: the region's current AMI id of that release. */
    debianAmi(parameter: string): Promise<string>;
    /** This machine's public IPv4 address as the internet sees it (checkip.amazonaws.com), if it can be told. */
    publicIp(): Promise<string | undefined>;
}

/**
 * Whether an instance type counts against L-1216C47A: the quota's name lists the standard families
 * A, C, D, H, I, M, R, T, Z; families with quotas of their own that start with those letters
 * (Inf, DL, HPC, Trn, Mac) do not.
 */
export function isStandardFamily(instanceType: string): boolean {
    const t = instanceType.toLowerCase();
    return /^[acdhimrtz]/.test(t) && !/^(inf|dl|hpc|trn|mac)/.test(t);
}

/** Where the state lives and how its secrets are unlocked (the environment `lab` gives pulumi). */
export interface StateSettings {
    backendUrl: string | undefined;
    passphraseSet: boolean;
    passphraseFile: string | undefined;
    /** The file `lab bootstrap` fills with a random passphrase for local stacks. */
    bootstrapPassphraseFile: string;
}

export interface Check {
    name: string;
    ok: boolean;
    detail: string;
    fix?: string;
}

const errorText = (err: unknown) => {
    const e = err as Error;
    return `${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message}`;
};

async function ask<T>(name: string, q: () => Promise<T>, fix: string): Promise<{ value?: T; failed?: Check }> {
    try {
        return { value: await q() };
    } catch (err) {
        return { failed: { name, ok: false, detail: `AWS did not answer: ${errorText(err)}`, fix } };
    }
}

/** State backend and passphrase: the hourly reaper (.github/workflows/reap.yml) must read this stack's state and decrypt it. */
export function stateChecks(stack: string, s: StateSettings): Check[] {
    const checks: Check[] = [];
    const url = s.backendUrl ?? "";
    if (/^s3:\/\/[^/]+/.test(url)) {
        checks.push({ name: "state backend", ok: true, detail: `${url}: the scheduled reaper reads the same bucket (vars.PULUMI_BACKEND_URL)` });
    } else {
        checks.push({
            name: "state backend",
            ok: false,
            detail: `PULUMI_BACKEND_URL is ${url ? `"${url}"` : "unset"}: state on this machine cannot be read by the scheduled reaper, so a forgotten ${stack} would run until its instances end themselves, and its VPC, role and schedules would stay`,
            fix: "export PULUMI_BACKEND_URL=s3://<bucket>/<prefix> (the repository variable PULUMI_BACKEND_URL of .github/workflows/reap.yml), then run lab preflight again",
        });
    }
    const file = s.passphraseFile;
    if (!s.passphraseSet && !file) {
        checks.push({
            name: "passphrase",
            ok: false,
            detail: "neither PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set",
            fix: "export PULUMI_CONFIG_PASSPHRASE=<the value of the repository secret PULUMI_CONFIG_PASSPHRASE>",
        });
    } else if (!s.passphraseSet && file === s.bootstrapPassphraseFile) {
        checks.push({
            name: "passphrase",
            ok: false,
            detail: `the passphrase is lab bootstrap's random one (${file}), known to this machine only: the scheduled reaper could not decrypt ${stack}'s state`,
            fix: "export PULUMI_CONFIG_PASSPHRASE=<the value of the repository secret PULUMI_CONFIG_PASSPHRASE> (it takes precedence over the file)",
        });
    } else {
        checks.push({
            name: "passphrase",
            ok: true,
            detail: `${s.passphraseSet ? "PULUMI_CONFIG_PASSPHRASE" : `PULUMI_CONFIG_PASSPHRASE_FILE ${file}`}: it must equal the repository secret PULUMI_CONFIG_PASSPHRASE (only a run of the reaper can tell)`,
        });
    }
    return checks;
}

function cidrHolds(cidr: string, ip: string): boolean {
    const b = readCidr(cidr);
    if (!b || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
    const mask = b.prefix === 0 ? 0 : (~0 << (32 - b.prefix)) >>> 0;
    return (ipToInt(ip) & mask) >>> 0 === (b.base & mask) >>> 0;
}

/** Every check, in order; a check whose question AWS could not answer fails, naming AWS's error. */
export async function preflightChecks(
    stack: string,
    config: LabConfig,
    capacity: CapacityPlan,
    client: PreflightClient,
    state: StateSettings,
): Promise<Check[]> {
    const checks: Check[] = [];
    const region = config.aws.region;
    // The stack's config, as `lab up` would refuse it (operator CIDR, types, addresses, budget).
    let settings: ReturnType<typeof awsSettings> | undefined;
    try {
        settings = awsSettings(stack, config, capacity);
        checks.push({
            name: "config",
            ok: true,
            detail: `Pulumi.${stack}.yaml: ${settings.plan.usd_per_hour} USD/h planned, cap ${settings.budgetUsdPerHour}`,
        });
    } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [errorText(err)];
        checks.push({
            name: "config",
            ok: false,
            detail: problems.join("; "),
            fix: "set the keys named (pulumi config set --path '<key>' <value> --stack " + stack + ", after pulumi stack init " + stack + ")",
        });
    }

    const id = await ask(
        "identity",
        () => client.callerIdentity(),
        "give this shell AWS credentials (AWS_PROFILE, or aws configure / aws sso login), then run lab preflight again",
    );
    checks.push(id.failed ?? { name: "identity", ok: true, detail: `account ${id.value!.account} as ${id.value!.arn}, region ${region}` });

    // The plan (vCPUs, types) even when the config check failed on something else (e.g. no CIDR yet).
    const plan =
        settings?.plan ??
        (() => {
            try {
                return planTier(plannerInput(stack, config, capacity));
            } catch {
                return undefined;
            }
        })();
    if (plan) {
        const needed = plan.vcpu_quota.vcpus_needed;
        const q = await ask(
            "vCPU quota",
            async () => ({ quota: await client.vcpuQuota(), running: await client.instancesInUse() }),
            `allow servicequotas:GetServiceQuota and ec2:DescribeInstances, or read the quota in the Service Quotas console (EC2, ${STANDARD_VCPU_QUOTA.quotaCode}, ${region})`,
        );
        if (q.failed) checks.push(q.failed);
        else {
            const { quota, running } = q.value!;
            // Running On-Demand standard instances of other stacks (this stack's own are replaced or kept by the up).
            const others = running.filter((i) => !i.spot && i.stack !== stack && isStandardFamily(i.instanceType));
            const inUse = others.reduce((sum, i) => sum + i.vcpus, 0);
            const free = quota.value - inUse;
            if (free < needed) {
                checks.push({
                    name: "vCPU quota",
                    ok: false,
                    detail:
                        `the lab runs ${needed} vCPUs of On-Demand Standard instances (${STANDARD_VCPU_QUOTA.quotaCode}); ${region}'s quota is ${quota.value} (${quota.source})` +
                        `${inUse ? `, ${inUse} already used by ${others.length} running instance(s)` : ""}, so ${Math.max(0, free)} are free: RunInstances would stop part-way with VcpuLimitExceeded, leaving part of the fleet billed`,
                    fix:
                        `aws service-quotas request-service-quota-increase --service-code ${STANDARD_VCPU_QUOTA.serviceCode} --quota-code ${STANDARD_VCPU_QUOTA.quotaCode} --desired-value ${needed + inUse} --region ${region}` +
                        `${inUse ? " (or stop the other instances)" : ""}, or start with lab up --stack aws-smoke`,
                });
            } else {
                checks.push({
                    name: "vCPU quota",
                    ok: true,
                    detail: `${needed} vCPUs needed, ${free} free of quota ${quota.value} (${quota.source}, ${STANDARD_VCPU_QUOTA.quotaCode}; ${inUse} used by other running instances)`,
                });
            }
        }

        const roles = new Set<string>(["haproxy", "backend", "client", ...(config.hosts.metrics ? ["metrics"] : [])]);
        const types = Object.fromEntries(
            Object.entries(plan.roles)
                .filter(([role]) => roles.has(role))
                .map(([role, r]) => [role, r.instance_type]),
        );
        const zones = await ask(
            "zone offerings",
            async () => ({ zones: await client.zones(), offerings: await client.offerings([...new Set(Object.values(types))]) }),
            "allow ec2:DescribeAvailabilityZones and ec2:DescribeInstanceTypeOfferings",
        );
        if (zones.failed) checks.push(zones.failed);
        else {
            try {
                const zone = chooseAvailabilityZone(region, zones.value!.zones, zones.value!.offerings, types);
                checks.push({
                    name: "zone offerings",
                    ok: true,
                    detail: `${zone} offers ${Object.entries(types)
                        .map(([r, t]) => `${r} ${t}`)
                        .join(", ")}`,
                });
            } catch (err) {
                const problems = err instanceof ConfigError ? err.problems.join("; ") : errorText(err);
                checks.push({
                    name: "zone offerings",
                    ok: false,
                    detail: problems,
                    fix: "set c2m:aws.instanceTypes to types offered together in one zone, or another c2m:aws.region",
                });
            }
        }
    }

    // The AMI of each image the hosts run (c2m:image; c2m:aws.ami pins them all to one).
    const pinned = config.aws.ami;
    const roles = ["haproxy", "backend", "client", ...(config.hosts.metrics ? ["metrics"] : [])];
    const images = [...new Set(roles.map((r) => imageOf(config.image, r)))];
    const byParameter = new Map<string, ImageName>();
    for (const image of images) if (!byParameter.has(DEBIAN_AMI_PARAMETER_OF[image])) byParameter.set(DEBIAN_AMI_PARAMETER_OF[image], image);
    const wanted: [string, ImageName][] = pinned ? [["c2m:aws.ami", images[0] ?? "machine"]] : [...byParameter].sort(([a], [b]) => a.localeCompare(b));
    for (const [where, image] of wanted) {
        const release = debianReleaseOf(image);
        const parameter = DEBIAN_AMI_PARAMETER_OF[image];
        const ami = pinned
            ? { value: pinned }
            : await ask(
                  "image",
                  () => client.debianAmi(parameter),
                  `allow ssm:GetParameter on ${parameter}, or set c2m:aws.ami to a Debian ${release} AMI of ${region}`,
              );
        if ("failed" in ami && ami.failed) {
            checks.push(ami.failed);
            continue;
        }
        const found = await ask("image", () => client.image(ami.value!), "allow ec2:DescribeImages");
        const fix = `set c2m:aws.ami to the id ${parameter} names in ${region} (aws ssm get-parameter --name ${parameter} --region ${region}), or remove it to use that parameter`;
        if (found.failed) checks.push(found.failed);
        else if (!found.value) checks.push({ name: "image", ok: false, detail: `${where} ${ami.value}: no such image in ${region}`, fix });
        else if (found.value.ownerId !== DEBIAN_AMI_OWNER || !debianAmiNameOf(image).test(found.value.name)) {
            checks.push({
                name: "image",
                ok: false,
                detail: `${where} ${ami.value} is "${found.value.name}" of account ${found.value.ownerId}, not Debian ${release} amd64 from Debian's account ${DEBIAN_AMI_OWNER}: the local lab's measurements would not be of its software`,
                fix,
            });
        } else if (found.value.state !== "available") {
            checks.push({ name: "image", ok: false, detail: `${where} ${ami.value} is ${found.value.state}, not available`, fix });
        } else {
            checks.push({
                name: "image",
                ok: true,
                detail: `${ami.value} ${found.value.name} (Debian's account ${DEBIAN_AMI_OWNER}) from ${where}${pinned ? "" : "; the first up keeps it for the stack's life"}`,
            });
        }
    }

    checks.push(...stateChecks(stack, state));

    const cidr = config.aws.operatorCidr;
    if (cidr === undefined || !readCidr(cidr) || hasHostBits(readCidr(cidr)!)) {
        checks.push({
            name: "operator CIDR",
            ok: false,
            detail: `c2m:aws.operatorCidr is ${cidr ?? "unset"}: SSH is let in from it only`,
            fix: `pulumi config set --path 'c2m:aws.operatorCidr' <your public IP>/32 --stack ${stack}`,
        });
    } else {
        const ip = await client.publicIp().catch(() => undefined);
        if (ip === undefined)
            checks.push({ name: "operator CIDR", ok: true, detail: `${cidr} (this machine's public address could not be told: check it is yours)` });
        else if (!cidrHolds(cidr, ip)) {
            checks.push({
                name: "operator CIDR",
                ok: false,
                detail: `c2m:aws.operatorCidr ${cidr} does not hold this machine's public address ${ip}: every SSH from here would be dropped by the lab's ACL`,
                fix: `pulumi config set --path 'c2m:aws.operatorCidr' ${ip}/32 --stack ${stack}`,
            });
        } else checks.push({ name: "operator CIDR", ok: true, detail: `${cidr} holds this machine's public address ${ip}` });
    }
    return checks;
}

export function formatChecks(stack: string, checks: Check[]): string {
    const failed = checks.filter((c) => !c.ok).length;
    return [
        ...checks.flatMap((c) => [`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`, ...(c.fix && !c.ok ? [`     fix: ${c.fix}`] : [])]),
        failed
            ? `preflight ${stack}: ${failed} of ${checks.length} checks failed: nothing was created`
            : `preflight ${stack}: all ${checks.length} checks passed`,
    ].join("\n");
}
