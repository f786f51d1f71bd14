// The AWS platform: every host is an EC2 instance in a lab VPC, reached over SSH from the
// operator's address only; the roles run on it unchanged. Everything carries the lab's tags,
// and a schedule terminates the instances at the expiry even if nobody tears the lab down.
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

export interface AwsSummary {
    region: string;
    expiresAt: string;
    vpcId: string;
    instanceIds: string[];
    publicIps: string[];
    teardownSchedule: string;
    plannedUsdPerHour: number;
}

export class AwsPlatform extends pulumi.ComponentResource implements PlatformHosts {
    readonly hosts: Host[];
    readonly sshPrivateKey: pulumi.Output<string>;
    /** Non-secret facts for stack outputs (`lab reap`, the report). */
    readonly summary: pulumi.Output<AwsSummary>;
    readonly outputs: PlatformHosts["outputs"];

    constructor(name: string, args: AwsPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        const tags = labTags({ stack: args.stack, owner: args.owner, expiresAt: args.expiresAt });
        // One provider for the lab: its region, and the lab's tags as default tags, so a
        // resource added later without tags is still found and reaped by them.
        const provider = new aws.Provider(`${name}-aws`, { region: args.settings.region, defaultTags: { tags } });
        super("c2m:platform:Aws", name, {}, { ...opts, providers: { aws: provider } });
        const s = args.settings;

        const network = new LabNetwork(`${name}-net`, { tags }, { parent: this });
        const security = new LabSecurity(`${name}-sg`, { vpcId: network.vpc.id, operatorCidr: s.operatorCidr, tags }, { parent: this });
        const key = new LabKey(`${name}-key`, { tags }, { parent: this });
        this.sshPrivateKey = key.privateKey;

        const fleet = new AwsHosts(`${name}-hosts`, {
            stack: args.stack,
            hosts: args.hosts.map((h) => ({
                ...h,
                instanceType: s.instanceTypes[h.role] ?? METRICS_INSTANCE_TYPE,
                addresses: h.role === "client" ? s.sourceIpsPerClient : 1,
            })),
            subnetId: network.subnet.id,
            securityGroupId: security.group.id,
            keyName: key.keyPair.keyName,
            publicKey: key.publicKey,
            privateKey: key.privateKey,
            tuning: args.tuning,
            rootVolumeGb: s.rootVolumeGb,
            versions: args.versions,
            tags,
            instanceTags: { [BUDGET_TAG]: String(s.budgetUsdPerHour) },
        }, { parent: this });
        this.hosts = fleet.hosts;

        const teardown = new LabTeardown(`${name}-teardown`, {
            stack: args.stack, region: s.region, expiresAt: args.expiresAt,
            instanceIds: fleet.instances.map((i) => i.id), tags,
        }, { parent: this });

        this.summary = pulumi.output({
            region: s.region,
            expiresAt: args.expiresAt,
            vpcId: network.vpc.id,
            instanceIds: pulumi.all(fleet.instances.map((i) => i.id)),
            publicIps: pulumi.all(fleet.instances.map((i) => i.publicIp)),
            teardownSchedule: teardown.schedule.name,
            plannedUsdPerHour: s.plan.usd_per_hour,
        });
        // No namespaces on EC2.
        this.outputs = { namespacePrefix: undefined, runDir: WORK_ROOT, expiresAt: args.expiresAt, summary: this.summary };
        this.registerOutputs({ summary: this.summary });
    }
}
