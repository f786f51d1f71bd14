// The lab's EC2 instances, one per host: Debian 12, or the release its role's c2m:image names
// (c2m:aws.ami, or Debian's public SSM parameter of that release, read once and then kept), IMDSv2 only, fixed private addresses (clients get secondary
// ones), cloud-init for the role's packages, the host's own SSH host key and its end at the
// expiry. Each becomes the same Host data the local platform produces.
//
// No placement group: AWS's placement guide (EC2 User Guide, "Placement strategies", cluster)
// advises launching a cluster group's instances in one request and of one type, else the launch is
// more likely to fail with insufficient capacity; the lab launches 29 instances of three types one
// by one, and its hosts talk over the VPC at a few Gb/s, far from what a cluster group adds.
//
// A second `up` must neither fail nor replace the fleet behind the operator's back: the AMI is
// read once (an AMI pin in state), so an instance re-created after it ended itself runs the image
// its peers run; user data (which carries the expiry, renewed by each up) is ignored on existing
// instances — the expiry reaches them over SSH (expiryRenewScript), settings through the roles —
// and an instance that must be replaced is deleted first, since its private addresses are fixed
// and cannot be held by two instances at once.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import type { Host, Role } from "../../types.ts";
import { cloudInitReadyScript, renderCloudInit } from "./cloudInit.ts";
import { KEYGEN_SCRIPT, parseKeygenOutput } from "../local/scripts.ts";
import { amiPinScript, DEBIAN_AMI_PARAMETER, DEBIAN_AMI_PARAMETER_OF } from "./image.ts";
import type { ImageName } from "../../images.ts";
import type { TuningPlan } from "../../render/tuning.ts";
import { instanceType } from "../../plan/prices.ts";
import { hostAddresses, SUBNET_CIDR } from "./addressPlan.ts";
import { ROLE_TAG } from "../labTags.ts";
import { expiryRenewScript } from "./expiry.ts";

export const BIN_PATH = "/opt/c2m/bin";
export const WORK_ROOT = "/var/lib/c2m";

export interface AwsHostSpec {
    name: string;
    role: Role;
    instanceType: string;
    addresses: number;
    /** c2m:image of the host's role: which Debian release's AMI it runs (machine = Debian 12). */
    image: ImageName;
}

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
    /** c2m:aws.ami when set (instances follow it); else Debian 12's public SSM parameter, read once and kept. */
    readonly ami?: string;
    /** The lab's expiry: each host powers itself off (and terminates) then. */
    readonly expiresAt: string;
    /** What must be in place before an instance boots (the subnet's network ACL, its route to the internet). */
    readonly networkReady: pulumi.Resource[];
    readonly tags: Record<string, string>;
    /** Extra tags on instances only (e.g. the budget the policy pack checks against). */
    readonly instanceTags?: Record<string, string>;
}

export class AwsHosts extends pulumi.ComponentResource {
    readonly hosts: Host[];
    readonly instances: aws.ec2.Instance[];
    /** The AMI of each image the hosts run: c2m:aws.ami, or the one Debian's parameter named at the first up. */
    readonly amis: Map<ImageName, pulumi.Output<string>>;

    constructor(name: string, args: AwsHostsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsHosts", name, {}, opts);
        const prefix = Number(SUBNET_CIDR.split("/")[1]);
        // Read once: the pin keeps the first answer in state (its command never runs again), so a
        // later up, or an instance re-created after it ended itself, gets the same image as its peers.
        // c2m:aws.ami overrides it: changing that is a deliberate replacement of the fleet.
        // One pin per Debian parameter the hosts' images name (c2m:image; Debian 12's is `${name}-ami`).
        const pins = new Map<string, pulumi.Output<string>>();
        const pin = (parameter: string, image: ImageName) => {
            if (!pins.has(parameter)) {
                pins.set(
                    parameter,
                    new command.local.Command(
                        parameter === DEBIAN_AMI_PARAMETER ? `${name}-ami` : `${name}-ami-${image}`,
                        {
                            create: aws.ssm.getParameterOutput({ name: parameter }, { parent: this }).value.apply(amiPinScript),
                            logging: "none",
                        },
                        { parent: this, ignoreChanges: ["create"] },
                    ).stdout.apply((out) => out.trim()),
                );
            }
            return pins.get(parameter)!;
        };
        this.amis = new Map();
        for (const image of new Set(args.hosts.map((h) => h.image))) {
            this.amis.set(image, args.ami !== undefined ? pulumi.output(args.ami) : pin(DEBIAN_AMI_PARAMETER_OF[image], image));
        }

        this.instances = [];
        this.hosts = args.hosts.map((spec, index) => {
            const type = instanceType(spec.instanceType);
            if (!type) throw new pulumi.ResourceError(`${spec.name}: unknown instance type ${spec.instanceType}`, this);
            const addresses = hostAddresses(index, spec.addresses);
            const workDir = `${WORK_ROOT}/${spec.name}`;
            const tuning = args.tuning.get(spec.name);
            if (!tuning) throw new pulumi.ResourceError(`${spec.name}: no tuning plan`, this);
            // The host's SSH key, made here and given to it by cloud-init: every SSH to it (Pulumi's
            // and the lab's) checks it, so a recycled public IP cannot answer in its place.
            const hostKeygen = new command.local.Command(
                `${name}-${spec.name}-hostkey`,
                {
                    create: KEYGEN_SCRIPT,
                    logging: "none",
                },
                { parent: this, additionalSecretOutputs: ["stdout"] },
            );
            const hostKeyPair = hostKeygen.stdout.apply(parseKeygenOutput);
            const hostKey = pulumi.unsecret(hostKeyPair.publicKey);
            // Secret: it carries the host's private key (kept encrypted in state like the lab key).
            const userData = pulumi.secret(
                pulumi.all([args.publicKey, hostKeyPair]).apply(([publicKey, pair]) =>
                    renderCloudInit({
                        stack: args.stack,
                        host: spec.name,
                        role: spec.role,
                        publicKey,
                        hostKey: pair,
                        tuning,
                        binPath: BIN_PATH,
                        workDir,
                        addresses,
                        prefix,
                        versions: args.versions,
                        expiresAt: args.expiresAt,
                    }),
                ),
            );
            const tags = { ...args.tags, Name: `${args.stack}-${spec.name}`, [ROLE_TAG]: spec.role };
            const instance = new aws.ec2.Instance(
                `${name}-${spec.name}`,
                {
                    ami: this.amis.get(spec.image)!,
                    instanceType: spec.instanceType,
                    subnetId: args.subnetId,
                    vpcSecurityGroupIds: [args.securityGroupId],
                    keyName: args.keyName,
                    associatePublicIpAddress: true,
                    privateIp: addresses[0],
                    secondaryPrivateIps: addresses.length > 1 ? addresses.slice(1) : undefined,
                    metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
                    rootBlockDevice: {
                        volumeType: "gp3",
                        volumeSize: args.rootVolumeGb,
                        deleteOnTermination: true,
                        encrypted: true,
                        tags: { ...args.tags, Name: `${args.stack}-${spec.name}-root` },
                    },
                    instanceInitiatedShutdownBehavior: "terminate",
                    userData,
                    // A change of user data never stops, starts or replaces a running instance (see the header).
                    userDataReplaceOnChange: false,
                    tags: { ...tags, ...args.instanceTags },
                },
                {
                    parent: this,
                    dependsOn: args.networkReady,
                    deleteBeforeReplace: true,
                    ignoreChanges: ["userData"],
                },
            );
            this.instances.push(instance);

            // The host is ready when cloud-init has finished and the role's tools answer.
            const ready = new command.remote.Command(
                `${name}-${spec.name}-ready`,
                {
                    connection: {
                        host: instance.publicIp,
                        port: 22,
                        user: "root",
                        privateKey: args.privateKey,
                        hostKey,
                        dialErrorLimit: 90,
                        perDialTimeout: 10,
                    },
                    create: cloudInitReadyScript(spec.role, BIN_PATH, tuning.nofile),
                    triggers: [instance.id],
                    logging: "stderr",
                },
                { parent: this },
            );
            // This up's expiry on the running host (user data only reached it at first boot).
            const expiry = new command.remote.Command(
                `${name}-${spec.name}-expiry`,
                {
                    connection: { host: instance.publicIp, port: 22, user: "root", privateKey: args.privateKey, hostKey },
                    create: expiryRenewScript(args.stack, args.expiresAt),
                    triggers: [instance.id, args.expiresAt],
                    logging: "stderr",
                },
                { parent: this, dependsOn: [ready] },
            );

            const host: Host = {
                name: spec.name,
                role: spec.role,
                address: addresses[0],
                sourceAddresses: spec.role === "client" ? addresses : [addresses[0]],
                ssh: { host: instance.publicIp, port: 22, user: "root", privateKey: args.privateKey, hostKey },
                workDir,
                binPath: BIN_PATH,
                ready: [ready, expiry],
                resource: instance,
            };
            return host;
        });
        this.registerOutputs({ instanceIds: this.instances.map((i) => i.id) });
    }
}
