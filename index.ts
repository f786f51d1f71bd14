// c2m-lab: reads and validates the stack's config once, builds the hosts on the chosen
// platform, then runs the platform-free roles on them over SSH.
import * as pulumi from "@pulumi/pulumi";
import { METRICS_DEFAULTS, type LabConfig } from "./components/config.ts";
import { loadConfig, readPulumiConfig } from "./components/loadConfig.ts";
import type { HostSpec, ProgramPlatform } from "./components/platform/platform.ts";
import { renderTuning, socketsOnHost, type TuningPlan } from "./components/render/tuning.ts";
import type { CapacityPlan } from "./components/plan/capacity.ts";
import { attackSettings } from "./components/render/attack.ts";
import { Tuning } from "./components/roles/tuning.ts";
import { Haproxy } from "./components/roles/haproxy.ts";
import { Backends } from "./components/roles/backends.ts";
import { Clients } from "./components/roles/clients.ts";
import { Metrics, haproxyLogTarget } from "./components/roles/metrics.ts";
import type { Host } from "./components/types.ts";

function hostSpecs(config: LabConfig): HostSpec[] {
    const specs = (role: HostSpec["role"], prefix: string, count: number) => Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${i}`, role }));
    return [
        ...specs("haproxy", "haproxy", config.hosts.haproxy),
        ...specs("backend", "backend", config.hosts.backends),
        ...specs("client", "client", config.hosts.clients),
        ...specs("metrics", "metrics", config.hosts.metrics ?? 0),
    ];
}

/** Tuning of each host from the capacity plan; with a shared kernel, machine-wide values cover all hosts. */
function tuningPlans(config: LabConfig, capacity: CapacityPlan, specs: HostSpec[], platform: ProgramPlatform): Map<string, TuningPlan> {
    const sockets = (s: HostSpec) => socketsOnHost(s.role, capacity, config.hosts.backends);
    const machineSockets = specs.reduce((sum, s) => sum + sockets(s), 0);
    return new Map(
        specs.map((s) => [
            s.name,
            renderTuning({
                role: s.role,
                capacity,
                backends: config.hosts.backends,
                kernelSockets: platform.sharedKernel ? machineSockets : sockets(s),
                memoryBytes: platform.hostMemoryBytes(config, s.role),
            }),
        ]),
    );
}

const loaded = loadConfig(pulumi.getStack(), readPulumiConfig(new pulumi.Config("c2m")));
const { config, capacity } = loaded;
const platform: ProgramPlatform = loaded.platform;
const specs = hostSpecs(config);
const plans = tuningPlans(config, capacity, specs, platform);
const lab = await platform.create(loaded, specs, plans);
const hosts = lab.hosts;
const byRole = (role: Host["role"]) => hosts.filter((h) => h.role === role);
const tuning = new Tuning("tuning", { hosts, plans, sharedKernel: platform.sharedKernel });

const backends = new Backends("backends", {
    hosts: byRole("backend"),
    serversPerHost: capacity.backend.serversPerHost,
    basePort: config.backend.basePort,
    requestTimeoutMs: config.backend.requestTimeoutMs,
    maxConcurrent: config.backend.maxConcurrent,
    serviceTimeMs: config.backend.serviceTimeMs,
    nofile: plans.get(byRole("backend")[0].name)!.nofile,
    dependsOn: tuning.applied,
});

const lb = byRole("haproxy")[0];
const haproxy = new Haproxy("haproxy", {
    host: lb,
    settings: config.haproxy,
    servers: backends.servers,
    processes: capacity.haproxy.processes,
    maxconnPerProcess: capacity.haproxy.maxconnPerProcess,
    cpu: capacity.haproxy.cpu,
    nofile: plans.get(lb.name)!.nofile,
    dependsOn: [tuning.applied.get(lb.name)!, ...backends.started],
    logTarget: byRole("metrics")[0] ? haproxyLogTarget(byRole("metrics")[0]) : undefined,
});

const clients = new Clients("clients", {
    hosts: byRole("client"),
    bodyBytes: attackSettings(config.attack).bodyBytes,
    dependsOn: tuning.applied,
});

// Server-side metrics on the run's timeline, when the stack has a metrics host.
const metricsHost = byRole("metrics")[0];
const metrics = metricsHost
    ? new Metrics("metrics", {
          host: metricsHost,
          hosts,
          haproxyExporters: Array.from({ length: capacity.haproxy.processes }, (_, i) => ({
              host: lb,
              address: `${lb.address}:${config.haproxy.statsPort + i}`,
          })),
          pongServers: backends.servers,
          ...(config.metrics ?? METRICS_DEFAULTS),
          dependsOn: tuning.applied,
          targetsReady: [haproxy, ...backends.started],
      })
    : undefined;

export const inventory = hosts.map((h) => ({
    name: h.name,
    role: h.role,
    address: h.address,
    sourceAddresses: h.sourceAddresses,
    workDir: h.workDir,
    ssh: { host: h.ssh.host, port: h.ssh.port, user: h.ssh.user, binPath: h.binPath, hostKey: h.ssh.hostKey },
}));
export const vips = {
    plain: `http://${lb.address}:${config.haproxy.plainPort}/ping`,
    tls: config.haproxy.tls.enabled ? `https://${lb.address}:${config.haproxy.tlsPort}/ping` : undefined,
    /** One statistics page per HAProxy process (statsPort + index). */
    stats: Array.from({ length: capacity.haproxy.processes }, (_, i) => `http://${lb.address}:${config.haproxy.statsPort + i}/stats`),
};
export const sshPrivateKey = lab.sshPrivateKey;
export const labConfig = config;
export const namespacePrefix = lab.outputs.namespacePrefix;
export const runDir = lab.outputs.runDir;
export const haproxyConfig = haproxy.config;
export const haproxyPids = haproxy.pids;
export const capacityPlan = capacity;
/** Prometheus of the metrics host (runs pull their time series from it); absent without one. */
export const metricsEndpoint = metrics
    ? {
          prometheus: metrics.prometheusUrl,
          haproxyLog: metrics.haproxyLogUrl,
          scrapeIntervalS: (config.metrics ?? METRICS_DEFAULTS).scrapeIntervalS,
      }
    : undefined;
export const vegetaVersions = clients.vegetaVersions;
export const nofile = Object.fromEntries([...plans].map(([host, plan]) => [host, plan.nofile]));
/** EC2 facts of an aws stack (region, instance ids, expiry, teardown schedule); absent locally. */
export const aws = lab.outputs.summary;
/** When scheduled teardown (`lab reap --expired`, the AWS schedule and workflow) destroys the lab; renewed by each up. */
export const expiresAt = lab.outputs.expiresAt;
