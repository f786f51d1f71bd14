// What the AWS platform needs from the stack config, checked before any resource exists:
// the operator's CIDR, known instance types, addresses per client, the budget. Pure (no
// @pulumi/aws import), so `lab plan` and the tests use it without the AWS provider.
// (The per-process open-file ceiling on EC2 is c2m:aws.nofileCeiling, which the capacity
// plan reads; the local platform's detection of this machine's limits does not apply.)
import { ConfigError, labCertificate, METRICS_INSTANCE_TYPE, type LabConfig } from "../../config.ts";
import { planTier, problemText, type Plan, type PlannerInput } from "../../plan/planner.ts";
import { instanceType } from "../../plan/prices.ts";
import { planCapacity, type CapacityPlan } from "../../plan/capacity.ts";
import type { Role } from "../../types.ts";
import { ADDRESSES_PER_HOST, MAX_HOSTS } from "./addressPlan.ts";
import { EPHEMERAL_PORTS, portsOpenToReturnTraffic } from "./trafficRules.ts";
import { HAPROXY_LOG_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../../render/metrics.ts";
import { imageOf, SOURCE_BUILT_IMAGES, type ImageName } from "../../images.ts";
import { DEBIAN_RELEASE, debianReleaseOf } from "./image.ts";

/**
 * Source addresses per client: 1 + c2m:aws.secondaryIpsPerClient when set, else what the
 * capacity plan derives (c2m:plan.sourceAddressesPerClient, or the ports the plan needs).
 */
export function sourceIpsPerClient(config: LabConfig, capacity: CapacityPlan = planCapacity(config)): number {
    if (config.aws.secondaryIpsPerClient !== undefined) return 1 + config.aws.secondaryIpsPerClient;
    return capacity.client.sourceAddresses;
}

/** Memory of the instance type a role runs on. */
export function instanceMemoryBytes(config: LabConfig, role: Role): number {
    return (instanceType(config.aws.instanceTypes[role] ?? METRICS_INSTANCE_TYPE)?.memoryGiB ?? 0) * 1024 ** 3;
}

export function plannerInput(stack: string, config: LabConfig, capacity: CapacityPlan, overrides: Partial<PlannerInput> = {}): PlannerInput {
    return {
        stack,
        conns: config.plan.connections,
        tlsShare: config.plan.tlsShare,
        instanceTypes: { ...config.aws.instanceTypes, metrics: config.aws.instanceTypes.metrics ?? METRICS_INSTANCE_TYPE },
        clients: config.hosts.clients,
        metricsHosts: config.hosts.metrics ?? 0,
        backends: config.hosts.backends,
        serversPerHost: config.backend.serversPerHost,
        sourceIpsPerClient: sourceIpsPerClient(config, capacity),
        rootVolumeGb: config.aws.rootVolumeGb,
        budgetUsdPerHour: config.aws.budgetUsdPerHour,
        certificate: labCertificate(config.haproxy.tls),
        ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
    };
}

export interface AwsSettings {
    region: string;
    operatorCidr: string;
    instanceTypes: LabConfig["aws"]["instanceTypes"];
    sourceIpsPerClient: number;
    rootVolumeGb: number;
    budgetUsdPerHour: number;
    /** c2m:aws.ami: the image every instance runs; absent = Debian's public SSM parameter of each host's image, read once, then kept. */
    ami?: string;
    /** c2m:image of each role on EC2 (machine = the Debian 12 AMI; debian-13 = Debian 13's). */
    images: Record<Role, ImageName>;
    plan: Plan;
}

/** TCP ports the lab's services listen on, by the config key that sets them. */
function listeningPorts(config: LabConfig, capacity: CapacityPlan): [string, number[]][] {
    const range = (first: number, n: number) => Array.from({ length: n }, (_, i) => first + i);
    const h = config.haproxy;
    return [
        ["c2m:haproxy.plainPort", [h.plainPort]],
        ["c2m:haproxy.tlsPort", h.tls.enabled ? [h.tlsPort] : []],
        ["c2m:haproxy.statsPort", range(h.statsPort, capacity.haproxy.processes)],
        ["c2m:backend.basePort", range(config.backend.basePort, capacity.backend.serversPerHost)],
        ["metrics ports (components/render/metrics.ts)", config.hosts.metrics ? [PROMETHEUS_PORT, NODE_EXPORTER_PORT, HAPROXY_LOG_PORT] : [NODE_EXPORTER_PORT]],
    ];
}

/** Refuses, naming the key, what the AWS platform cannot build; returns the settings it uses. */
export function awsSettings(stack: string, config: LabConfig, capacity: CapacityPlan = planCapacity(config)): AwsSettings {
    const problems: string[] = [];
    const { aws } = config;
    if (aws.operatorCidr === undefined) {
        problems.push(
            "c2m:aws.operatorCidr: required on platform aws (SSH is only let in from it); " +
                "e.g. `pulumi config set --path 'c2m:aws.operatorCidr' 203.0.113.7/32`",
        );
    }
    for (const [role, type] of Object.entries(aws.instanceTypes)) {
        if (!instanceType(type)) problems.push(`c2m:aws.instanceTypes.${role}: no size/price known for "${type}" (components/plan/prices.ts)`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    const ips = sourceIpsPerClient(config, capacity);
    const clientType = instanceType(aws.instanceTypes.client)!;
    if (ips > clientType.ipv4PerInterface) {
        problems.push(
            `c2m:aws.secondaryIpsPerClient: ${aws.instanceTypes.client} holds ${clientType.ipv4PerInterface} private ` +
                `addresses per interface, the plan needs ${ips} per client; use more clients or a larger type`,
        );
    }
    if (ips > ADDRESSES_PER_HOST - 1) {
        problems.push(`c2m:aws.secondaryIpsPerClient: the address plan gives each host ${ADDRESSES_PER_HOST - 1} addresses at most, ${ips} asked`);
    }
    const hostCount = config.hosts.haproxy + config.hosts.backends + config.hosts.clients;
    if (hostCount > MAX_HOSTS) problems.push(`c2m:hosts: ${hostCount} hosts, the lab subnet holds ${MAX_HOSTS}`);
    const needed = capacity.client.sourceAddresses;
    if (ips < needed) {
        problems.push(
            `c2m:aws.secondaryIpsPerClient: ${ips - 1} gives each client ${ips} source addresses, ` +
                `the plan's ${config.plan.connections} connections over ${config.hosts.clients} clients need ${needed}`,
        );
    }
    for (const [key, ports] of listeningPorts(config, capacity)) {
        const open = portsOpenToReturnTraffic(ports);
        if (open.length) {
            problems.push(
                `${key}: port(s) ${open.join(", ")} are in ${EPHEMERAL_PORTS.from}-${EPHEMERAL_PORTS.to}, where the lab subnet's ` +
                    "network ACL lets the internet's replies to downloads in: a service listening there would be reachable from anywhere; use a port below " +
                    `${EPHEMERAL_PORTS.from}`,
            );
        }
    }
    const images = Object.fromEntries((["haproxy", "backend", "client", "metrics"] as Role[]).map((r) => [r, imageOf(config.image, r)])) as Record<
        Role,
        ImageName
    >;
    const otherRelease = Object.entries(images).filter(([, image]) => debianReleaseOf(image) !== Number(DEBIAN_RELEASE));
    if (aws.ami !== undefined && otherRelease.length) {
        problems.push(
            `c2m:aws.ami: pins every instance to ${aws.ami}, but c2m:image asks ${otherRelease.map(([r, i]) => `${r} ${i}`).join(", ")}: ` +
                "remove c2m:aws.ami (each image's AMI is then read from Debian's parameter and kept), or c2m:image",
        );
    }
    // An image whose HAProxy the rig builds from source exists only in the local tool cache.
    const built = Object.values(images).filter((i) => (SOURCE_BUILT_IMAGES as readonly string[]).includes(i));
    if (built.length)
        problems.push(`c2m:image: ${built[0]} is built from source into the local tool cache; EC2 runs Debian's own AMIs: machine, debian-12 or debian-13`);
    const plan = planTier(plannerInput(stack, config, capacity));
    problems.push(...plan.problems.filter((p) => p.kind === "budget").map(problemText));
    if (problems.length > 0) throw new ConfigError(problems);
    return {
        region: aws.region,
        operatorCidr: aws.operatorCidr!,
        instanceTypes: aws.instanceTypes,
        sourceIpsPerClient: ips,
        rootVolumeGb: aws.rootVolumeGb,
        budgetUsdPerHour: aws.budgetUsdPerHour,
        ami: aws.ami,
        images,
        plan,
    };
}
