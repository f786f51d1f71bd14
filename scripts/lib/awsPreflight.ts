// `lab preflight --stack aws-…`: whether this account can run this tier, asked before anything is
// created (components/platform/aws/preflight.ts holds the checks). This file builds the real,
// read-only AWS client (STS, Service Quotas, EC2 Describe calls, SSM GetParameter) and prints.
import { dirname } from "node:path";
import { type LoadedConfig, loadConfig, readConfigFile } from "../../components/loadConfig.ts";
import { labEnv, paths, REPO_ROOT, stackConfigFile } from "../toolchain/toolchain.ts";
import {
    formatChecks,
    preflightChecks,
    STANDARD_VCPU_QUOTA,
    type Check,
    type PreflightClient,
    type StateSettings,
} from "../../components/platform/aws/preflight.ts";

/** The read-only client on the AWS SDK (credentials from the usual chain: env, profile, SSO). */
export async function awsPreflightClient(region: string): Promise<PreflightClient & { destroy(): void }> {
    const [ec2m, stsm, sqm, ssmm] = await Promise.all([
        import("@aws-sdk/client-ec2"),
        import("@aws-sdk/client-sts"),
        import("@aws-sdk/client-service-quotas"),
        import("@aws-sdk/client-ssm"),
    ]);
    const ec2 = new ec2m.EC2Client({ region });
    const sts = new stsm.STSClient({ region });
    const sq = new sqm.ServiceQuotasClient({ region });
    const ssm = new ssmm.SSMClient({ region });
    return {
        async callerIdentity() {
            const out = await sts.send(new stsm.GetCallerIdentityCommand({}));
            return { account: String(out.Account), arn: String(out.Arn) };
        },
        async vcpuQuota() {
            const input = { ServiceCode: STANDARD_VCPU_QUOTA.serviceCode, QuotaCode: STANDARD_VCPU_QUOTA.quotaCode };
            try {
                const out = await sq.send(new sqm.GetServiceQuotaCommand(input));
                return { value: Number(out.Quota?.Value), source: "applied" as const };
            } catch (err) {
                // An account that never changed the quota has no applied value: AWS's default then holds.
                if ((err as Error).name !== "NoSuchResourceException") throw err;
                const out = await sq.send(new sqm.GetAWSDefaultServiceQuotaCommand(input));
                return { value: Number(out.Quota?.Value), source: "default" as const };
            }
        },
        async instancesInUse() {
            const found: { instanceType: string; vcpus: number; stack?: string; spot?: boolean }[] = [];
            let NextToken: string | undefined;
            do {
                const out = await ec2.send(
                    new ec2m.DescribeInstancesCommand({
                        Filters: [{ Name: "instance-state-name", Values: ["pending", "running"] }],
                        NextToken,
                    }),
                );
                for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
                    found.push({
                        instanceType: String(i.InstanceType),
                        vcpus: (i.CpuOptions?.CoreCount ?? 0) * (i.CpuOptions?.ThreadsPerCore ?? 1),
                        stack: i.Tags?.find((t) => t.Key === "lab:stack")?.Value,
                        spot: i.InstanceLifecycle === "spot",
                    });
                }
                NextToken = out.NextToken;
            } while (NextToken);
            return found;
        },
        async zones() {
            const out = await ec2.send(
                new ec2m.DescribeAvailabilityZonesCommand({
                    Filters: [
                        { Name: "state", Values: ["available"] },
                        { Name: "zone-type", Values: ["availability-zone"] },
                    ],
                }),
            );
            return (out.AvailabilityZones ?? []).map((z) => String(z.ZoneName));
        },
        async offerings(types) {
            const offerings = { instanceTypes: [] as string[], locations: [] as string[] };
            let NextToken: string | undefined;
            do {
                const out = await ec2.send(
                    new ec2m.DescribeInstanceTypeOfferingsCommand({
                        LocationType: "availability-zone",
                        Filters: [{ Name: "instance-type", Values: types }],
                        NextToken,
                    }),
                );
                for (const o of out.InstanceTypeOfferings ?? []) {
                    offerings.instanceTypes.push(String(o.InstanceType));
                    offerings.locations.push(String(o.Location));
                }
                NextToken = out.NextToken;
            } while (NextToken);
            return offerings;
        },
        async image(id) {
            try {
                const out = await ec2.send(new ec2m.DescribeImagesCommand({ ImageIds: [id] }));
                const i = out.Images?.[0];
                return i && { id: String(i.ImageId), ownerId: String(i.OwnerId), name: String(i.Name), state: String(i.State) };
            } catch (err) {
                if (/InvalidAMIID/.test((err as Error).name)) return undefined;
                throw err;
            }
        },
        async debianAmi(parameter) {
            const out = await ssm.send(new ssmm.GetParameterCommand({ Name: parameter }));
            return String(out.Parameter?.Value);
        },
        async publicIp() {
            const r = await fetch("https://checkip.amazonaws.com", { signal: AbortSignal.timeout(5000) });
            return r.ok ? (await r.text()).trim() : undefined;
        },
        destroy() {
            ec2.destroy();
            sts.destroy();
            sq.destroy();
            ssm.destroy();
        },
    };
}

/** The state settings `lab` hands pulumi (labEnv), as the reaper's needs judge them. */
export function stateSettings(env: NodeJS.ProcessEnv = labEnv()): StateSettings {
    return {
        backendUrl: env.PULUMI_BACKEND_URL,
        passphraseSet: Boolean(env.PULUMI_CONFIG_PASSPHRASE),
        passphraseFile: env.PULUMI_CONFIG_PASSPHRASE_FILE,
        bootstrapPassphraseFile: paths().passphraseFile,
    };
}

/** Runs every check of an aws stack; prints them; throws when one failed (nothing is created then). */
export async function preflight(stack: string, client?: PreflightClient): Promise<Check[]> {
    const loaded = loadConfig(stack, readConfigFile(dirname(stackConfigFile(stack)), stack));
    if (!loaded.platform.needsPolicyPack)
        throw new Error(`lab preflight asks AWS whether it can run a tier: stack ${stack} is on platform ${loaded.config.platform}, which needs none`);
    return preflightLoaded(stack, loaded, client);
}

/** The checks of a stack's config as loaded (a sweep cell's, a demo's): printed; throws when one failed. */
export async function preflightLoaded(stack: string, loaded: LoadedConfig, client?: PreflightClient): Promise<Check[]> {
    const real = client ? undefined : await awsPreflightClient(loaded.config.aws.region);
    try {
        const checks = await preflightChecks(stack, loaded.config, loaded.capacity, client ?? real!, stateSettings());
        console.log(formatChecks(stack, checks));
        const failed = checks.filter((c) => !c.ok);
        if (failed.length) throw new Error(`preflight of ${stack} failed (${failed.map((c) => c.name).join(", ")}): nothing was created`);
        return checks;
    } finally {
        real?.destroy();
    }
}

/** Every up's first step (pulumiStack.up): a stack on a billed cloud platform (the one that runs the policy pack) is preflighted; others are not asked. */
export async function preflightBeforeUp(stack: string, loaded: LoadedConfig, client?: PreflightClient): Promise<Check[] | undefined> {
    return loaded.platform.needsPolicyPack ? preflightLoaded(stack, loaded, client) : undefined;
}
