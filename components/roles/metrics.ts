// The metrics role: node_exporter (+ a process sampler) on every host, and Prometheus on the
// metrics host scraping them, HAProxy's built-in exporter (PROMEX, one per process) and every
// pong's /metrics. Platform-free: everything goes over SSH like the other roles.
import * as pulumi from "@pulumi/pulumi";
import type { Host } from "../types.ts";
import type { BackendServer } from "../render/haproxyConfig.ts";
import { readFileSync } from "node:fs";
import {
    HAPROXY_LOG_PORT,
    NODE_EXPORTER_PORT,
    PROMETHEUS_PORT,
    logSinkStartScript,
    logSinkStopScript,
    metricsPaths,
    nodeExporterStartScript,
    nodeExporterStopScript,
    prometheusStartScript,
    prometheusStopScript,
    renderPrometheusConfig,
    type ScrapeTarget,
} from "../render/metrics.ts";
import { hostCommand } from "./remote.ts";

const LOG_SINK_SOURCE = readFileSync(new URL("../../backend/logSink.ts", import.meta.url), "utf8");

/** Where HAProxy sends its request log when the lab has a metrics host (address:port, UDP syslog). */
export function haproxyLogTarget(metricsHost: Host): string {
    return `${metricsHost.address}:${HAPROXY_LOG_PORT}`;
}

export interface MetricsArgs {
    /** The host Prometheus runs on (role "metrics"). */
    readonly host: Host;
    /** Every host of the lab: each gets a node_exporter. */
    readonly hosts: Host[];
    /** HAProxy's PROMEX endpoints (address:port serving /metrics), one per HAProxy process. */
    readonly haproxyExporters: { host: Host; address: string }[];
    readonly pongServers: BackendServer[];
    readonly scrapeIntervalS: number;
    readonly retentionHours: number;
    /** Per host: what must exist before its exporter starts (e.g. the host's tuning). */
    readonly dependsOn: Map<string, pulumi.Resource>;
    /** Scrape targets that start later (HAProxy, pong): Prometheus starts after them. */
    readonly targetsReady: pulumi.Input<pulumi.Resource>[];
}

export class Metrics extends pulumi.ComponentResource {
    readonly prometheusUrl: string;
    /** The HAProxy request-log sink (GET /lines?from=&to=). */
    readonly haproxyLogUrl: string;
    readonly config: string;
    /** The sink itself (HAProxy's log lines sent before it is up are lost: UDP). */
    readonly logSink: pulumi.Resource;

    constructor(name: string, args: MetricsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:role:Metrics", name, {}, opts);
        const exporters = args.hosts.map((host) => {
            const paths = metricsPaths(host.workDir);
            return hostCommand(
                `${name}-node-${host.name}`,
                host,
                {
                    create: nodeExporterStartScript(paths, host.workDir, host.address),
                    delete: nodeExporterStopScript(paths),
                },
                { parent: this, dependsOn: args.dependsOn.has(host.name) ? [args.dependsOn.get(host.name)!] : [] },
            );
        });
        const sinkPaths = metricsPaths(args.host.workDir);
        this.logSink = hostCommand(
            `${name}-haproxy-log`,
            args.host,
            {
                create: logSinkStartScript(sinkPaths, args.host.address),
                delete: logSinkStopScript(sinkPaths),
                stdin: LOG_SINK_SOURCE,
                triggerText: LOG_SINK_SOURCE,
            },
            { parent: this, dependsOn: args.dependsOn.has(args.host.name) ? [args.dependsOn.get(args.host.name)!] : [], deleteBeforeReplace: true },
        );
        this.haproxyLogUrl = `http://${haproxyLogTarget(args.host)}`;
        const byAddress = new Map(args.hosts.map((h) => [h.address, h]));
        const targets: ScrapeTarget[] = [
            ...args.hosts.map((h) => ({ job: "node" as const, address: `${h.address}:${NODE_EXPORTER_PORT}`, labels: { host: h.name, role: h.role } })),
            ...args.haproxyExporters.map((e) => ({ job: "haproxy" as const, address: e.address, labels: { host: e.host.name, role: e.host.role } })),
            ...args.pongServers.map((s) => {
                const h = byAddress.get(s.address);
                return { job: "pong" as const, address: `${s.address}:${s.port}`, labels: { host: h?.name ?? s.address, role: "backend" } };
            }),
            { job: "prometheus", address: `${args.host.address}:${PROMETHEUS_PORT}`, labels: { host: args.host.name, role: args.host.role } },
        ];
        this.config = renderPrometheusConfig({ scrapeIntervalS: args.scrapeIntervalS, targets });
        const paths = metricsPaths(args.host.workDir);
        hostCommand(
            `${name}-prometheus`,
            args.host,
            {
                create: prometheusStartScript(paths, args.host.address, args.retentionHours),
                delete: prometheusStopScript(paths),
                stdin: this.config,
                triggerText: this.config,
            },
            { parent: this, dependsOn: [...exporters, ...toArray(args.targetsReady)], deleteBeforeReplace: true },
        );
        this.prometheusUrl = `http://${args.host.address}:${PROMETHEUS_PORT}`;
        this.registerOutputs({ prometheusUrl: this.prometheusUrl, haproxyLogUrl: this.haproxyLogUrl });
    }
}

function toArray<T>(x: pulumi.Input<T>[] | undefined): pulumi.Input<T>[] {
    return x ?? [];
}
