// One way to run a command on a lab host, shared by every role: SSH with the host's
// key, PATH set to the host's tools, retries while the host's sshd comes up.
// Each command goes with its host (deletedWith): a destroy needs no state edited to skip one.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createHash } from "node:crypto";
import type { Host } from "../types.ts";
import { remotePathPrefix } from "../render/hostPath.ts";

export interface HostCommandArgs {
    create: string;
    delete?: string;
    stdin?: pulumi.Input<string>;
    /** Rendered text whose change must re-run the command (its hash is the trigger). */
    triggerText?: string;
}

export function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

function withPath(host: Host, script: string): string {
    return `${remotePathPrefix(host.binPath)}\n${script}`;
}

export function hostCommand(name: string, host: Host, args: HostCommandArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return new command.remote.Command(
        name,
        {
            connection: {
                host: host.ssh.host,
                port: host.ssh.port,
                user: host.ssh.user,
                privateKey: host.ssh.privateKey,
                // Checked when the platform made the host's key (EC2); absent, the provider ignores it.
                hostKey: host.ssh.hostKey,
                dialErrorLimit: 20,
                perDialTimeout: 5,
            },
            create: withPath(host, args.create),
            delete: args.delete === undefined ? undefined : withPath(host, args.delete),
            stdin: args.stdin,
            triggers: args.triggerText === undefined ? undefined : [sha256(args.triggerText)],
            logging: "stderr",
        },
        { ...opts, deletedWith: host.resource, dependsOn: [...host.ready, ...toArray(opts.dependsOn)] },
    );
}

function toArray<T>(x: pulumi.Input<pulumi.Input<T>[]> | pulumi.Input<T> | undefined): pulumi.Input<T>[] {
    if (x === undefined) return [];
    return Array.isArray(x) ? x : [x as pulumi.Input<T>];
}
