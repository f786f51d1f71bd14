// The load balancer: a self-signed certificate (ECDSA P-256 by default, or RSA-2048), a rendered haproxy.cfg checked with
// `haproxy -c`, then HAProxy started (or reloaded when the config changes).
import * as pulumi from "@pulumi/pulumi";
import type { Host } from "../types.ts";
import { labCertificate, type LabConfig } from "../config.ts";
import { renderHaproxyConfig, type BackendServer, type HaproxyRenderInput } from "../render/haproxyConfig.ts";
import { certificatePaths, certificateScript, haproxyPaths, haproxyStartScript, haproxyStopScript } from "../render/haproxyScripts.ts";
import { hostCommand } from "./remote.ts";

export interface HaproxyArgs {
    readonly host: Host;
    readonly settings: LabConfig["haproxy"];
    readonly servers: BackendServer[];
    /** Processes sharing the listeners (SO_REUSEPORT) and the connections each accepts. */
    readonly processes: number;
    readonly maxconnPerProcess: number;
    /** Threads per process and their CPUs (the capacity plan's haproxy.cpu). */
    readonly cpu: NonNullable<HaproxyRenderInput["cpu"]>;
    readonly nofile: number;
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
    /** Where to send the request log (the metrics host's sink); none = no log. */
    readonly logTarget?: string;
}

export class Haproxy extends pulumi.ComponentResource {
    readonly config: string;
    /** PIDs of the running processes. */
    readonly pids: pulumi.Output<string>;

    constructor(name: string, args: HaproxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:role:Haproxy", name, {}, opts);
        const { host, settings } = args;
        const paths = haproxyPaths(host.workDir);
        const cert = labCertificate(settings.tls);
        this.config = renderHaproxyConfig({
            haproxy: settings,
            maxconnPerProcess: args.maxconnPerProcess,
            cpu: args.cpu,
            servers: args.servers,
            bindAddress: host.address,
            certPath: certificatePaths(paths, cert).pem,
            logTarget: args.logTarget,
        });
        const certificate = hostCommand(
            `${name}-certificate`,
            host,
            {
                create: certificateScript(paths, cert, host.address),
                // The ECDSA curves keep their earlier trigger text (labs up before the choice existed see no change).
                triggerText: cert === "ecdsa-p256" ? "P-256" : cert === "ecdsa-p384" ? "P-384" : cert,
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        const service = hostCommand(
            `${name}-service`,
            host,
            {
                create: haproxyStartScript(paths, { processes: args.processes, statsPort: settings.statsPort, nofile: args.nofile }),
                delete: haproxyStopScript(paths),
                stdin: this.config,
            },
            { parent: this, dependsOn: [certificate, ...args.dependsOn] },
        );
        this.pids = service.stdout;
        this.registerOutputs({ pids: this.pids });
    }
}
