// The AWS platform: every host is an EC2 instance in a lab VPC, reached over SSH from the
// operator's address only; the roles run on it unchanged. Everything carries the lab's tags;
// each host powers itself off at the expiry, and schedules terminate the instances then too,
// even if nobody tears the lab down. Before anything that costs exists, the program checks the
// instance types are offered in the zone it picks (awsPlace).
import * as pulumi from "@pulumi/pulumi";
import { METRICS_INSTANCE_TYPE } from "../../config.ts";
import * as aws from "@pulumi/aws";
import type { Host } from "../../types.ts";
import type { HostSpec, PlatformHosts } from "../platform.ts";
import type { AwsSettings } from "./settings.ts";
import type { TuningPlan } from "../../render/tuning.ts";
import { BUDGET_TAG, labTags } from "../labTags.ts";
import { LabNetwork } from "./network.ts";
import { LabSecurity } from "./security.ts";
import { LabKey } from "./keys.ts";
import { AwsHosts, WORK_ROOT } from "./fleet.ts";
import { LabTeardown } from "./teardown.ts";
import { chooseAvailabilityZone } from "./availability.ts";

export interface AwsPlatformArgs {
    readonly stack: string;
    readonly owner: string;
    /** UTC instant the lab expires (tag lab:expires-at and the teardown schedule). */
    readonly expiresAt: string;
    readonly hosts: HostSpec[];
    /** Each host's tuning by name: cloud-init applies it at boot. */
    readonly tuning: Map<string, TuningPlan>;
    readonly settings: AwsSettings;
    readonly versions: { node: string; vegeta: string };
}

/** Where the lab goes, found out before anything that costs exists (awsPlace). */
export interface AwsPlace {
    /** The lab's provider: its region, and the lab's tags as default tags. */
    readonly provider: aws.Provider;
    readonly availabilityZone: string;
}

export interface AwsSummary {
    region: string;
    expiresAt: string;
    vpcId: string;
    availabilityZone: string;
    instanceIds: string[];
    publicIps: string[];
    teardownSchedules: string[];
    plannedUsdPerHour: number;
}

export class AwsPlatform extends pulumi.ComponentResource implements PlatformHosts {
    readonly hosts: Host[];
    readonly sshPrivateKey: pulumi.Output<string>;
    /** Non-secret facts for stack outputs (`lab reap`, the report). */
    readonly summary: pulumi.Output<AwsSummary>;
    readonly outputs: PlatformHosts["outputs"];

    constructor(name: string, args: AwsPlatformArgs & AwsPlace, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:Aws", name, {}, { ...opts, providers: { aws: args.provider } });
        const tags = labTags({ stack: args.stack, owner: args.owner, expiresAt: args.expiresAt });
        const s = args.settings;

        const network = new LabNetwork(
            `${name}-net`,
            {
                tags,
                availabilityZone: args.availabilityZone,
                operatorCidr: s.operatorCidr,
            },
            { parent: this },
        );
        const security = new LabSecurity(`${name}-sg`, { vpcId: network.vpc.id, tags }, { parent: this });
        const key = new LabKey(`${name}-key`, { tags }, { parent: this });
        this.sshPrivateKey = key.privateKey;

        const fleet = new AwsHosts(
            `${name}-hosts`,
            {
                stack: args.stack,
                hosts: args.hosts.map((h) => ({
                    ...h,
                    instanceType: s.instanceTypes[h.role] ?? METRICS_INSTANCE_TYPE,
                    addresses: h.role === "client" ? s.sourceIpsPerClient : 1,
                    image: s.images[h.role],
                })),
                subnetId: network.subnet.id,
                securityGroupId: security.group.id,
                keyName: key.keyPair.keyName,
                publicKey: key.publicKey,
                privateKey: key.privateKey,
                tuning: args.tuning,
                rootVolumeGb: s.rootVolumeGb,
                versions: args.versions,
                ami: s.ami,
                expiresAt: args.expiresAt,
                networkReady: [network.acl, network.routes],
                tags,
                instanceTags: { [BUDGET_TAG]: String(s.budgetUsdPerHour) },
            },
            { parent: this },
        );
        this.hosts = fleet.hosts;

        // The role depends on no instance; each schedule on its own instance only.
        const teardown = new LabTeardown(
            `${name}-teardown`,
            {
                stack: args.stack,
                region: s.region,
                expiresAt: args.expiresAt,
                instances: fleet.instances.map((instance, i) => ({ host: args.hosts[i].name, instanceId: instance.id })),
                tags,
            },
            { parent: this },
        );

        // What exists, should a launch fail (an output whose resource failed is left out, not fatal).
        const existing = <T>(values: pulumi.Output<T>[]) =>
            pulumi.all(values.map((v) => pulumi.recover(v, () => undefined as T))).apply((xs) => xs.filter((x) => x !== undefined));
        this.summary = pulumi.output({
            region: s.region,
            availabilityZone: args.availabilityZone,
            expiresAt: args.expiresAt,
            vpcId: network.vpc.id,
            instanceIds: existing(fleet.instances.map((i) => i.id)),
            publicIps: existing(fleet.instances.map((i) => i.publicIp)),
            teardownSchedules: existing(teardown.schedules.map((x) => x.name)),
            plannedUsdPerHour: s.plan.usd_per_hour,
        });
        // No namespaces on EC2.
        this.outputs = { namespacePrefix: undefined, runDir: WORK_ROOT, expiresAt: args.expiresAt, summary: this.summary };
        this.registerOutputs({ summary: this.summary });
    }
}

/**
 * The lab's provider, then its zone: the first of the region's zones that offers every instance
 * type of the lab, asked before anything that costs exists (a clear error otherwise).
 */
export async function awsPlace(name: string, args: AwsPlatformArgs): Promise<AwsPlace> {
    const s = args.settings;
    const tags = labTags({ stack: args.stack, owner: args.owner, expiresAt: args.expiresAt });
    // One provider for the lab: its region, and the lab's tags as default tags, so a resource
    // added later without tags is still found and reaped by them.
    const provider = new aws.Provider(`${name}-aws`, { region: s.region, defaultTags: { tags } });
    const types: Record<string, string> = { ...s.instanceTypes };
    if (args.hosts.some((h) => h.role === "metrics")) types.metrics ??= METRICS_INSTANCE_TYPE;
    for (const role of Object.keys(types)) if (!args.hosts.some((h) => h.role === role)) delete types[role];
    const [zones, offerings] = await Promise.all([
        aws.getAvailabilityZones({ state: "available", filters: [{ name: "zone-type", values: ["availability-zone"] }] }, { provider }),
        aws.ec2.getInstanceTypeOfferings(
            {
                locationType: "availability-zone",
                filters: [{ name: "instance-type", values: [...new Set(Object.values(types))] }],
            },
            { provider },
        ),
    ]);
    const availabilityZone = chooseAvailabilityZone(s.region, zones.names, offerings, types);
    return { provider, availabilityZone };
}
