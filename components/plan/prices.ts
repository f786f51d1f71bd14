// EC2 instance types the AWS tiers use: size, IPv4 addresses per network interface and the
// hourly on-demand price. Pure lookup table; the planner and the budget guardrail read it.
//
// Source: AWS "Amazon EC2 On-Demand Pricing" (https://aws.amazon.com/ec2/pricing/on-demand/),
// region us-east-1, Linux, shared tenancy; sizes and addresses per interface from AWS
// "Amazon EC2 instance type specifications" (https://docs.aws.amazon.com/ec2/latest/instancetypes/).
// Recorded: PRICES_AS_OF below. These list prices have not changed since the families launched,
// but they were written down from the published pages, not fetched from this machine (no network
// here): check them before trusting a bill to the cent. Other regions cost ~0–25 % more.

export const PRICES_AS_OF = "2026-11-25";

export interface InstanceType {
    vcpu: number;
    memoryGiB: number;
    /** Private IPv4 addresses one network interface can hold (primary + secondaries). */
    ipv4PerInterface: number;
    usdPerHour: number;
}

export const INSTANCE_TYPES: Record<string, InstanceType> = {
    // Tier 1 (seed: 4 cores / 30 GB, in 2017 an r3.xlarge with 30.5 GiB): memory optimised.
    "r6i.xlarge": { vcpu: 4, memoryGiB: 32, ipv4PerInterface: 15, usdPerHour: 0.252 },
    "r5.xlarge": { vcpu: 4, memoryGiB: 32, ipv4PerInterface: 15, usdPerHour: 0.252 },
    "r6i.2xlarge": { vcpu: 8, memoryGiB: 64, ipv4PerInterface: 15, usdPerHour: 0.504 },
    // Tier 2 (seed: 16 cores / 30 GB, in 2017 a c4.4xlarge / c3.4xlarge with 30 GiB): compute optimised.
    "c6i.4xlarge": { vcpu: 16, memoryGiB: 32, ipv4PerInterface: 30, usdPerHour: 0.68 },
    "c5.4xlarge": { vcpu: 16, memoryGiB: 32, ipv4PerInterface: 30, usdPerHour: 0.68 },
    // Tier 3 (seed: 16 cores / 64 GB, in 2017 an m4.4xlarge): general purpose.
    "m6i.4xlarge": { vcpu: 16, memoryGiB: 64, ipv4PerInterface: 30, usdPerHour: 0.768 },
    "m5.4xlarge": { vcpu: 16, memoryGiB: 64, ipv4PerInterface: 30, usdPerHour: 0.768 },
    // Clients (seed: 32-core machines, `vegeta -cpus=32`, in 2017 a c3.8xlarge).
    "c6i.8xlarge": { vcpu: 32, memoryGiB: 64, ipv4PerInterface: 30, usdPerHour: 1.36 },
    "c5.9xlarge": { vcpu: 36, memoryGiB: 72, ipv4PerInterface: 30, usdPerHour: 1.53 },
    "m6i.8xlarge": { vcpu: 32, memoryGiB: 128, ipv4PerInterface: 30, usdPerHour: 1.536 },
    // Backends (seed: 8 hosts × 10 Node pong servers; size not given): 8 vCPU for 10 processes.
    "c6i.2xlarge": { vcpu: 8, memoryGiB: 16, ipv4PerInterface: 15, usdPerHour: 0.34 },
    "c6i.xlarge": { vcpu: 4, memoryGiB: 8, ipv4PerInterface: 15, usdPerHour: 0.17 },
    "m6i.2xlarge": { vcpu: 8, memoryGiB: 32, ipv4PerInterface: 15, usdPerHour: 0.384 },
    // Small types for trying the platform out cheaply.
    "c6i.large": { vcpu: 2, memoryGiB: 4, ipv4PerInterface: 10, usdPerHour: 0.085 },
    "t3.medium": { vcpu: 2, memoryGiB: 4, ipv4PerInterface: 6, usdPerHour: 0.0416 },
};

/** Every public IPv4 address is billed since 2024-02-01 (one per instance here). */
const PUBLIC_IPV4_USD_PER_HOUR = 0.005;
/** gp3 storage, $0.08 per GB-month (730 hours). */
const GP3_USD_PER_GB_HOUR = 0.08 / 730;

export function instanceType(name: string): InstanceType | undefined {
    return Object.hasOwn(INSTANCE_TYPES, name) ? INSTANCE_TYPES[name] : undefined;
}

export interface FleetLine {
    role: string;
    instanceType: string;
    count: number;
}

/** Hourly cost of a fleet: instances, their public IPv4 addresses and root volumes. */
export function fleetUsdPerHour(fleet: FleetLine[], rootVolumeGb: number): number {
    const total = fleet.reduce((sum, line) => {
        const type = instanceType(line.instanceType);
        if (!type) throw new Error(`no price for instance type ${line.instanceType} (${line.role})`);
        return sum + line.count * (type.usdPerHour + PUBLIC_IPV4_USD_PER_HOUR + rootVolumeGb * GP3_USD_PER_GB_HOUR);
    }, 0);
    return Math.round(total * 1000) / 1000;
}
