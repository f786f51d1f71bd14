// The AWS platform (see awsPlatform.ts): hosts are EC2 instances with kernels and limits of
// their own (c2m:aws); checked before anything exists, guarded by the policy pack, and what a
// stack leaves is what still carries its lab:stack tag.
import type { Platform } from "../platform.ts";
import type { LabConfig } from "../../config.ts";
import type { AwsResidue } from "./residue.ts";
import { awsSettings, instanceMemoryBytes } from "./settings.ts";
import { expiryFrom } from "../labTags.ts";
import { PINS } from "../../pins.ts";
import { ENA_ALLOWANCES_SCRIPT } from "../allowances.ts";

async function residue(stack: string, config: LabConfig): Promise<AwsResidue> {
    // Loaded only when asked: local stacks never load the AWS SDK.
    const [{ EC2Client }, { awsResidue }] = await Promise.all([import("@aws-sdk/client-ec2"), import("./residue.ts")]);
    const ec2 = new EC2Client({ region: config.aws.region });
    try {
        return await awsResidue(stack, config.aws.region, ec2);
    } finally {
        ec2.destroy();
    }
}

export const aws: Platform = {
    name: "aws",
    sharedKernel: false,
    needsPolicyPack: true,
    reapsWithoutState: false,
    pricedByPlanner: true,
    // Hosts may have ended themselves at their expiry, or been terminated by its schedule.
    refreshBeforeUp: true,
    // The ENA driver's allowance counters (conntrack, pps, bandwidth) and the kernel's conntrack drops.
    allowanceCountersScript: ENA_ALLOWANCES_SCRIPT,
    // No cgroup per host: a host is a whole instance (node_exporter's machine figures cover it).
    hostSampler: undefined,
    // EC2 hosts bring their own limits (c2m:aws.nofileCeiling, the instance type's memory).
    withMachineLimits: (config) => config,
    hostMemoryBytes: instanceMemoryBytes,
    // A host is a whole instance: what it may use, it reads itself (nproc, its own cgroup).
    hostCpuQuota: () => undefined,
    check: ({ stack, config, capacity }) => {
        awsSettings(stack, config, capacity);
    },
    async create({ stack, config, capacity }, hosts, tuning) {
        const settings = awsSettings(stack, config, capacity);
        // Loaded only now, so a local stack never loads @pulumi/aws nor registers an AWS resource
        // (and needs no AWS provider plugin).
        const { AwsPlatform, awsPlace } = await import("./awsPlatform.ts");
        const args = {
            stack,
            owner: config.owner,
            expiresAt: expiryFrom(new Date(), config.ttlHours),
            hosts,
            tuning,
            settings,
            versions: { node: PINS.node, vegeta: PINS.vegeta },
        };
        // The zone (and that it offers every instance type) is settled before anything that costs exists.
        return new AwsPlatform("lab", { ...args, ...(await awsPlace("lab", args)) });
    },
    residue,
    // Listed, not deleted: without state, removal by tag is left to the expiry schedule and the operator.
    reap: residue,
};
