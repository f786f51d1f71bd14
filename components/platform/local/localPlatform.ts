// The local platform: every host is a network namespace on one bridge, inside the stack's
// subnet of 198.18.0.0/15, running its own sshd. Roles reach it over SSH like an EC2 host.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Host } from "../../types.ts";
import type { HostSpec, PlatformHosts } from "../platform.ts";
import { addressPlan } from "../addressPlan.ts";
import { sysctlSaveScript, tuningScript, type Setting } from "../../render/tuning.ts";
import {
    bridgeCreateScript,
    bridgeDeleteScript,
    hostCreateScript,
    hostDeleteScript,
    KEYGEN_SCRIPT,
    localNames,
    parseHostKey,
    parseKeygenOutput,
} from "./scripts.ts";
import type { HostLimits } from "./cgroups.ts";

export interface LocalPlatformArgs {
    readonly stack: string;
    readonly subnet: string;
    readonly hosts: HostSpec[];
    /** Prepended to PATH on every host (the shared filesystem holds the tool cache). */
    readonly binPath: string;
    /** Extra source addresses each client gets besides its own (for vegeta -laddr). */
    readonly extraClientAddresses: number;
    /** Machine-wide kernel settings all hosts share: applied once, restored on destroy. */
    readonly kernelSettings: Setting[];
    /** UTC instant the lab expires (`lab reap --expired` destroys it then). */
    readonly expiresAt: string;
    /** Limits of each role's hosts (c2m:local.hostLimits); every host gets a cgroup, limited or not. */
    readonly hostLimits?: Partial<Record<HostSpec["role"], HostLimits>>;
    /** Root filesystem of the image each role's hosts run (local/image.ts); a role absent runs this machine's own. */
    readonly imageRoots?: Partial<Record<HostSpec["role"], string>>;
}

export class LocalPlatform extends pulumi.ComponentResource implements PlatformHosts {
    readonly hosts: Host[];
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly outputs: PlatformHosts["outputs"];

    constructor(name: string, args: LocalPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:platform:Local", name, {}, opts);
        const names = localNames(args.stack);
        const plan = addressPlan(args.subnet);
        this.outputs = { namespacePrefix: names.namespacePrefix, runDir: names.runDir, expiresAt: args.expiresAt, summary: undefined };

        const keygen = new command.local.Command(
            `${name}-ssh-key`,
            {
                create: KEYGEN_SCRIPT,
                logging: "none",
            },
            { parent: this, additionalSecretOutputs: ["stdout"] },
        );
        const keyPair = pulumi.secret(keygen.stdout.apply(parseKeygenOutput));
        this.sshPrivateKey = keyPair.privateKey;

        const bridge = new command.local.Command(
            `${name}-bridge`,
            {
                create: bridgeCreateScript(names.bridge, plan.bridgeAddress, plan.prefix),
                delete: bridgeDeleteScript(names.bridge, names.runDir),
                triggers: [names.bridge, args.subnet],
            },
            { parent: this },
        );

        // Saves the machine's values before raising them; destroy puts them back, but only when no
        // other local lab is running (lowering values under a running lab would break it).
        const savedKernel = `${names.runDir}/kernel-sysctl.saved`;
        const othersRunning = `ls /run/c2m/*/kernel-sysctl.saved 2>/dev/null | grep -vqx '${savedKernel}'`;
        const kernel = new command.local.Command(
            `${name}-kernel`,
            {
                create:
                    `set -e\nmkdir -p ${names.runDir}\n[ -e ${savedKernel} ] || { ${sysctlSaveScript(args.kernelSettings).split("\n").join("; ")}; } > ${savedKernel}\nset +e\n` +
                    tuningScript(args.kernelSettings),
                delete: `if [ -e ${savedKernel} ] && ! ${othersRunning}; then while IFS= read -r kv; do sysctl -q -w "$kv" || true; done < ${savedKernel}; fi; rm -f ${savedKernel}`,
                logging: "stderr",
            },
            { parent: this, dependsOn: [bridge] },
        );

        const extraAddresses = plan.extraAddresses(args.hosts.length, args.hosts.filter((h) => h.role === "client").length, args.extraClientAddresses);
        let clientIndex = 0;
        this.hosts = args.hosts.map((spec, index) => {
            const address = plan.hostAddress(index);
            const sourceAddresses = spec.role === "client" ? [address, ...extraAddresses(clientIndex++)] : [address];
            const script = {
                namespace: names.namespace(spec.name),
                veth: names.veth(index),
                bridge: names.bridge,
                address,
                extraAddresses: sourceAddresses.slice(1),
                prefix: plan.prefix,
                workDir: `${names.runDir}/${spec.name}`,
                binPath: args.binPath, // the tool cache stays visible in the host's clean home
                cgroup: { stack: args.stack, host: spec.name, limits: args.hostLimits?.[spec.role] },
                imageRoot: args.imageRoots?.[spec.role],
            };
            const host = new command.local.Command(
                `${name}-${spec.name}`,
                {
                    create: hostCreateScript(script),
                    delete: hostDeleteScript(script),
                    environment: { AUTHORIZED_KEY: keyPair.publicKey },
                    triggers: [script.namespace, script.address, JSON.stringify(script.cgroup), ...(script.imageRoot ? [script.imageRoot] : [])],
                    logging: "stderr",
                },
                { parent: this, dependsOn: [bridge, kernel], deleteBeforeReplace: true },
            );
            return {
                name: spec.name,
                role: spec.role,
                address,
                sourceAddresses,
                // Its key as the host printed it: a host made anew (another image, other limits) has another,
                // so every role's command on it sees a changed connection and runs again there.
                ssh: { host: address, port: 22, user: "root", privateKey: this.sshPrivateKey, hostKey: host.stdout.apply((o) => parseHostKey(o) as string) },
                workDir: script.workDir,
                binPath: args.binPath,
                ready: [host],
                resource: host,
            };
        });
        this.registerOutputs({});
    }
}
