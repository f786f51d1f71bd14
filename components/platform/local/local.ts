// The local platform (see localPlatform.ts): hosts are network namespaces of this machine,
// sharing its kernel and bound by its limits; what a stack leaves is found by name.
import type { Platform } from "../platform.ts";
import { expiryFrom } from "../labTags.ts";
import { withDetectedLimits } from "./limits.ts";
import { localResidue, reapLocal } from "./residue.ts";
import { CONNTRACK_STATS_SCRIPT } from "../allowances.ts";
import { cgroupHostSampler } from "./hostSampler.ts";
import { ConfigError } from "../../config.ts";
import { imageProblems, imageRootsOf } from "./imageChoice.ts";

export const local: Platform = {
    name: "local",
    sharedKernel: true,
    needsPolicyPack: false,
    reapsWithoutState: true,
    pricedByPlanner: false,
    refreshBeforeUp: false,
    // Each namespace's connection-tracking drops: the local analogue of EC2's allowances.
    allowanceCountersScript: CONNTRACK_STATS_SCRIPT,
    // Every host lives in a cgroup of its own (cgroups.ts): its memory and CPU are its own figures.
    hostSampler: cgroupHostSampler(),
    withMachineLimits: withDetectedLimits,
    // The machine's memory even for a host limited by its cgroup: one kernel, whose machine-wide
    // settings (tcp_mem) are sized from it; the cgroup's limit is what that host gets.
    hostMemoryBytes: (config) => config.local.memoryBytes ?? 0,
    // A namespace has no cgroup file system of its own: the quota it runs under is the config's.
    hostCpuQuota: (config, role) => config.local.hostLimits?.[role]?.cpuQuota,
    // Everything local (subnet, open files, memory) is a plan check; an image must be built first.
    check: ({ config }) => {
        const problems = imageProblems(config);
        if (problems.length > 0) throw new ConfigError(problems);
    },
    async create({ stack, config, capacity }, hosts, tuning) {
        // Before any resource: a host never starts from an image that is not there.
        const problems = imageProblems(config);
        if (problems.length > 0) throw new ConfigError(problems);
        // Loaded here so the CLI, which never creates hosts, does not load the Pulumi SDK.
        const { LocalPlatform } = await import("./localPlatform.ts");
        return new LocalPlatform("lab", {
            stack,
            subnet: config.local.subnet,
            hosts,
            binPath: process.env.C2M_BIN_PATH ?? "/usr/local/bin",
            extraClientAddresses: capacity.client.sourceAddresses - 1,
            // One kernel: every host's plan carries the same machine-wide settings.
            kernelSettings: tuning.get(hosts[0].name)!.kernel,
            expiresAt: expiryFrom(new Date(), config.ttlHours),
            hostLimits: config.local.hostLimits,
            imageRoots: imageRootsOf(config),
        });
    },
    residue: (stack) => localResidue(stack),
    reap: (stack) => reapLocal(stack),
};
