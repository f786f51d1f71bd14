// The load balancer: a self-signed ECDSA certificate, a rendered haproxy.cfg checked with
// `haproxy -c`, then HAProxy started (or reloaded when the config changes).
import * as pulumi from "@pulumi/pulumi";
import type { Host } from "../types.ts";
import type { LabConfig } from "../config.ts";
import { renderHaproxyConfig, type BackendServer } from "../render/haproxyConfig.ts";
import { certificateScript, haproxyPaths, haproxyStartScript, haproxyStopScript } from "../render/haproxyScripts.ts";
import { hostCommand } from "./remote.ts";

export interface HaproxyArgs {
    readonly host: Host;
    readonly settings: LabConfig["haproxy"];
    readonly servers: BackendServer[];
    /** Processes sharing the listeners (SO_REUSEPORT) and the connections each accepts. */
    readonly processes: number;
    readonly maxconnPerProcess: number;
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
        this.config = renderHaproxyConfig({
            haproxy: settings,
            maxconnPerProcess: args.maxconnPerProcess,
            servers: args.servers,
            bindAddress: host.address,
            certPath: paths.pem,
            logTarget: args.logTarget,
        });
        const certificate = hostCommand(`${name}-certificate`, host, {
            create: certificateScript(paths, settings.tls.curve, host.address),
            triggerText: settings.tls.curve,
        }, { parent: this, dependsOn: args.dependsOn });
        const service = hostCommand(`${name}-service`, host, {
            create: haproxyStartScript(paths, { processes: args.processes, statsPort: settings.statsPort, nofile: args.nofile }),
            delete: haproxyStopScript(paths),
            stdin: this.config,
        }, { parent: this, dependsOn: [certificate, ...args.dependsOn] });
        this.pids = service.stdout;
        this.registerOutputs({ pids: this.pids });
    }
}
