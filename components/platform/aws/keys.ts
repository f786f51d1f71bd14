// The lab's SSH key: generated once (ssh-keygen, like the local platform), held in state as
// a Pulumi secret, its public half registered as an EC2 key pair and authorised for root.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import { KEYGEN_SCRIPT, parseKeygenOutput } from "../local/scripts.ts";

export interface LabKeyArgs {
    readonly tags: Record<string, string>;
}

export class LabKey extends pulumi.ComponentResource {
    readonly privateKey: pulumi.Output<string>;
    /** Not secret (it is a public key), so user data that embeds it stays readable in state. */
    readonly publicKey: pulumi.Output<string>;
    readonly keyPair: aws.ec2.KeyPair;

    constructor(name: string, args: LabKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:AwsKey", name, {}, opts);
        const keygen = new command.local.Command(
            `${name}-keygen`,
            {
                create: KEYGEN_SCRIPT,
                logging: "none",
            },
            { parent: this, additionalSecretOutputs: ["stdout"] },
        );
        const pair = keygen.stdout.apply(parseKeygenOutput);
        this.privateKey = pulumi.secret(pair.privateKey);
        this.publicKey = pulumi.unsecret(pair.publicKey);
        this.keyPair = new aws.ec2.KeyPair(
            `${name}-pair`,
            {
                publicKey: this.publicKey,
                tags: { ...args.tags, Name: name },
            },
            { parent: this },
        );
        this.registerOutputs({ keyName: this.keyPair.keyName });
    }
}
