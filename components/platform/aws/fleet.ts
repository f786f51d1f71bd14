// The lab's EC2 instances, one per host, in a cluster placement group: Ubuntu (c2m:aws.ami, or
// looked up by filter), IMDSv2 only, fixed private addresses (clients get secondary ones),
// cloud-init for the role's packages and the host's own end at the expiry. Each becomes the same
// Host data the local platform produces.
//
// A second `up` must neither fail nor replace the fleet behind the operator's back: a looked-up
// AMI that moved on and user data (which carries the expiry, renewed by each up) are ignored on
// existing instances — the expiry reaches them over SSH (expiryRenewScript), settings through the
// roles — and an instance that must be replaced is deleted first, since its private addresses
// are fixed and cannot be held by two instances at once.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import type { Host, Role } from "../../types.ts";
import { cloudInitReadyScript, renderCloudInit } from "./cloudInit.ts";
import type { TuningPlan } from "../../render/tuning.ts";
import { instanceType } from "../../plan/prices.ts";
import { hostAddresses, SUBNET_CIDR } from "./addressPlan.ts";
import { ROLE_TAG } from "../labTags.ts";
import { expiryRenewScript } from "./expiry.ts";

/** Canonical's account: the only owner whose images match the filter. */
export const UBUNTU_OWNER = "099720109477";
export const UBUNTU_IMAGE = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";
export const BIN_PATH = "/opt/c2m/bin";
export const WORK_ROOT = "/var/lib/c2m";

export interface AwsHostSpec { name: string; role: Role; instanceType: string; addresses: number }

export interface AwsHostsArgs {
    readonly stack: string;
    readonly hosts: AwsHostSpec[];
    readonly subnetId: pulumi.Input<string>;
    readonly securityGroupId: pulumi.Input<string>;
    readonly keyName: pulumi.Input<string>;
    readonly publicKey: pulumi.Input<string>;
    readonly privateKey: pulumi.Input<string>;
    /** Each host's tuning by name (sysctls and open files, as the tuning role applies them). */
    readonly tuning: Map<string, TuningPlan>;
    readonly rootVolumeGb: number;
    readonly versions: { node: string; vegeta: string };
    /** c2m:aws.ami when set (instances follow it); else Ubuntu is looked up and kept once launched. */
    readonly ami?: string;
    /** The lab's expiry: each host powers itself off (and terminates) then. */
    readonly expiresAt: string;
    /** What must be in place before an instance boots (the subnet's network ACL). */
    readonly networkReady: pulumi.Resource[];
    readonly tags: Record<string, string>;
    /** Extra tags on instances only (e.g. the budget the policy pack checks against). */
    readonly instanceTags?: Record<string, string>;
}

export class AwsHosts extends pulumi.ComponentResource {
    readonly hosts: Host[];
    readonly instances: aws.ec2.Instance[];
    readonly placementGroup: aws.ec2.PlacementGroup;

    constructor(name: string, args: AwsHostsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsHosts", name, {}, opts);
        const prefix = Number(SUBNET_CIDR.split("/")[1]);
        this.placementGroup = new aws.ec2.PlacementGroup(`${name}-cluster`, {
            strategy: "cluster", tags: { ...args.tags, Name: `${name}-cluster` },
        }, { parent: this });
        const ami = args.ami ?? aws.ec2.getAmiOutput({
            owners: [UBUNTU_OWNER],
            mostRecent: true,
            filters: [
                { name: "name", values: [UBUNTU_IMAGE] },
                { name: "architecture", values: ["x86_64"] },
                { name: "virtualization-type", values: ["hvm"] },
            ],
        }, { parent: this }).id;

        this.instances = [];
        this.hosts = args.hosts.map((spec, index) => {
            const type = instanceType(spec.instanceType);
            if (!type) throw new pulumi.ResourceError(`${spec.name}: unknown instance type ${spec.instanceType}`, this);
            const addresses = hostAddresses(index, spec.addresses);
            const workDir = `${WORK_ROOT}/${spec.name}`;
            const tuning = args.tuning.get(spec.name);
            if (!tuning) throw new pulumi.ResourceError(`${spec.name}: no tuning plan`, this);
            const userData = pulumi.output(args.publicKey).apply((publicKey) => renderCloudInit({
                stack: args.stack, host: spec.name, role: spec.role, publicKey,
                tuning,
                binPath: BIN_PATH, workDir, addresses, prefix, versions: args.versions, expiresAt: args.expiresAt,
            }));
            const tags = { ...args.tags, Name: `${args.stack}-${spec.name}`, [ROLE_TAG]: spec.role };
            const instance = new aws.ec2.Instance(`${name}-${spec.name}`, {
                ami,
                instanceType: spec.instanceType,
                subnetId: args.subnetId,
                vpcSecurityGroupIds: [args.securityGroupId],
                keyName: args.keyName,
                associatePublicIpAddress: true,
                privateIp: addresses[0],
                secondaryPrivateIps: addresses.length > 1 ? addresses.slice(1) : undefined,
                // T-family instances cannot join a cluster placement group.
                placementGroup: spec.instanceType.startsWith("t") ? undefined : this.placementGroup.name,
                metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
                rootBlockDevice: {
                    volumeType: "gp3", volumeSize: args.rootVolumeGb, deleteOnTermination: true, encrypted: true,
                    tags: { ...args.tags, Name: `${args.stack}-${spec.name}-root` },
                },
                instanceInitiatedShutdownBehavior: "terminate",
                userData,
                // A change of user data never stops, starts or replaces a running instance (see the header).
                userDataReplaceOnChange: false,
                tags: { ...tags, ...args.instanceTags },
            }, {
                parent: this,
                dependsOn: args.networkReady,
                deleteBeforeReplace: true,
                ignoreChanges: args.ami === undefined ? ["ami", "userData"] : ["userData"],
            });
            this.instances.push(instance);

            // The host is ready when cloud-init has finished and the role's tools answer.
            const ready = new command.remote.Command(`${name}-${spec.name}-ready`, {
                connection: {
                    host: instance.publicIp, port: 22, user: "root", privateKey: args.privateKey,
                    dialErrorLimit: 90, perDialTimeout: 10,
                },
                create: cloudInitReadyScript(spec.role, BIN_PATH, tuning.nofile),
                triggers: [instance.id],
                logging: "stderr",
            }, { parent: this });
            // This up's expiry on the running host (user data only reached it at first boot).
            const expiry = new command.remote.Command(`${name}-${spec.name}-expiry`, {
                connection: { host: instance.publicIp, port: 22, user: "root", privateKey: args.privateKey },
                create: expiryRenewScript(args.stack, args.expiresAt),
                triggers: [instance.id, args.expiresAt],
                logging: "stderr",
            }, { parent: this, dependsOn: [ready] });

            const host: Host = {
                name: spec.name,
                role: spec.role,
                address: addresses[0],
                sourceAddresses: spec.role === "client" ? addresses : [addresses[0]],
                ssh: { host: instance.publicIp, port: 22, user: "root", privateKey: args.privateKey },
                workDir,
                binPath: BIN_PATH,
                ready: [ready, expiry],
            };
            return host;
        });
        this.registerOutputs({ instanceIds: this.instances.map((i) => i.id) });
    }
}
