// The pong servers: the seed's backend (backend/pong.ts), several per host on
// consecutive ports, server-side timeouts off.
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import type { Host } from "../types.ts";
import type { BackendServer } from "../render/haproxyConfig.ts";
import { pongPorts, pongStartScript, pongStopScript } from "../render/backendScripts.ts";
import { hostCommand } from "./remote.ts";

export interface BackendsArgs {
    readonly hosts: Host[];
    readonly serversPerHost: number;
    readonly basePort: number;
    readonly requestTimeoutMs: number;
    /** Capacity limit per pong process (0 = none). */
    readonly maxConcurrent?: number;
    readonly serviceTimeMs?: number;
    readonly nofile: number;
    readonly dependsOn: Map<string, pulumi.Resource>;
}

const PONG_SOURCE = readFileSync(new URL("../../backend/pong.ts", import.meta.url), "utf8");

export class Backends extends pulumi.ComponentResource {
    /** Every pong server, for HAProxy's backend pool. */
    readonly servers: BackendServer[];
    readonly started: pulumi.Resource[];

    constructor(name: string, args: BackendsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:role:Backends", name, {}, opts);
        const ports = pongPorts(args.basePort, args.serversPerHost);
        this.servers = args.hosts.flatMap((host) => ports.map((port) => ({ name: `${host.name}-${port}`, address: host.address, port })));
        this.started = args.hosts.map((host) =>
            hostCommand(
                `${name}-${host.name}`,
                host,
                {
                    create: pongStartScript({
                        workDir: host.workDir,
                        address: host.address,
                        ports,
                        nofile: args.nofile,
                        requestTimeoutMs: args.requestTimeoutMs,
                        maxConcurrent: args.maxConcurrent,
                        serviceTimeMs: args.serviceTimeMs,
                    }),
                    delete: pongStopScript(host.workDir),
                    stdin: PONG_SOURCE,
                },
                { parent: this, dependsOn: [args.dependsOn.get(host.name)!] },
            ),
        );
        this.registerOutputs({});
    }
}
