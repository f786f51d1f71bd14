// The dead-man switch's second layer (the first: each host powers itself off at the expiry,
// expiry.ts): one-time EventBridge Scheduler schedules at the lab's expiry that terminate its
// instances (universal target ec2:terminateInstances), through a role the scheduler service alone
// can assume and that may only terminate instances tagged with this lab's lab:stack. Runs even if
// nobody runs `lab down`. One schedule per instance, each waiting for its own instance only: a
// launch that fails takes no other instance's schedule with it, and the role exists before any
// instance does.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { schedulerAt } from "../labTags.ts";

export const TERMINATE_TARGET_ARN = "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances";

export interface LabTeardownArgs {
    readonly stack: string;
    readonly region: string;
    readonly expiresAt: string;
    /** Each instance by host name; a schedule per instance. */
    readonly instances: { host: string; instanceId: pulumi.Input<string> }[];
    readonly tags: Record<string, string>;
}

/** Trust policy: only EventBridge Scheduler, only on behalf of this account. */
export function schedulerTrustPolicy(accountId: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Service: "scheduler.amazonaws.com" },
                Action: "sts:AssumeRole",
                Condition: { StringEquals: { "aws:SourceAccount": accountId } },
            },
        ],
    });
}

/** Permissions: terminate instances of this region and account carrying this lab's lab:stack tag, nothing else. */
export function terminatePolicy(stack: string, region: string, accountId: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Action: "ec2:TerminateInstances",
                Resource: `arn:aws:ec2:${region}:${accountId}:instance/*`,
                Condition: { StringEquals: { "aws:ResourceTag/lab:stack": stack } },
            },
        ],
    });
}

export class LabTeardown extends pulumi.ComponentResource {
    readonly schedules: aws.scheduler.Schedule[];
    readonly role: aws.iam.Role;

    constructor(name: string, args: LabTeardownArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsTeardown", name, {}, opts);
        const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        this.role = new aws.iam.Role(
            `${name}-role`,
            {
                description: `c2m lab ${args.stack}: terminates its instances at ${args.expiresAt}`,
                assumeRolePolicy: account.apply(schedulerTrustPolicy),
                tags: args.tags,
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            `${name}-terminate`,
            {
                role: this.role.id,
                policy: account.apply((id) => terminatePolicy(args.stack, args.region, id)),
            },
            { parent: this },
        );
        this.schedules = args.instances.map(
            ({ host, instanceId }) =>
                new aws.scheduler.Schedule(
                    `${name}-expiry-${host}`,
                    {
                        description: `c2m lab ${args.stack} expires at ${args.expiresAt} (lab:expires-at): terminate ${host}`,
                        scheduleExpression: schedulerAt(args.expiresAt),
                        scheduleExpressionTimezone: "UTC",
                        flexibleTimeWindow: { mode: "OFF" },
                        actionAfterCompletion: "NONE",
                        target: {
                            arn: TERMINATE_TARGET_ARN,
                            roleArn: this.role.arn,
                            input: pulumi.output(instanceId).apply((id) => JSON.stringify({ InstanceIds: [id] })),
                            retryPolicy: { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 3600 },
                        },
                    },
                    { parent: this },
                ),
        );
        this.registerOutputs({ roleArn: this.role.arn });
    }
}
