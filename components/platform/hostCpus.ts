// The CPUs of the LB host as its processes see them, and the CPU time it is held to: what
// HAProxy's threads can be pinned to (components/plan/haproxyCpus.ts). Pure, from the config.
import type { LabConfig } from "../config.ts";
import { parseCpuList } from "../cpuList.ts";
import { instanceType } from "../plan/prices.ts";

/**
 * On EC2 the instance type's vCPUs, 0 … n-1 (components/plan/prices.ts cites AWS's instance type
 * specifications); locally the CPU list of the LB host's cgroup (c2m:local.hostLimits.haproxy.cpus).
 * undefined when not known (a type not in the table, a local LB without a CPU list).
 */
export function lbHostCpus(config: LabConfig): number[] | undefined {
    if (config.platform === "aws") {
        const vcpu = instanceType(config.aws.instanceTypes.haproxy)?.vcpu;
        return vcpu === undefined ? undefined : Array.from({ length: vcpu }, (_, i) => i);
    }
    const list = config.local.hostLimits?.haproxy?.cpus;
    return list === undefined ? undefined : parseCpuList(list);
}

/** CPUs' worth of time the LB host's processes get when less than its CPUs (a local cgroup's quota); undefined otherwise. */
export function lbCpuQuota(config: LabConfig): number | undefined {
    return config.platform === "local" ? config.local.hostLimits?.haproxy?.cpuQuota : undefined;
}

/** The LB host in words, for messages: "the 16 vCPUs of c6i.4xlarge", "the LB host's cgroup (…)". */
export function lbHostCpusText(config: LabConfig, cpus: readonly number[]): string {
    return config.platform === "aws"
        ? `the ${cpus.length} vCPUs of ${config.aws.instanceTypes.haproxy}`
        : `the LB host's cgroup (c2m:local.hostLimits.haproxy.cpus "${config.local.hostLimits?.haproxy?.cpus}")`;
}
