// Per-host samples of a local host: the cgroup the local platform put it in (cgroups.ts), read
// on this machine the way the residue check finds the stack's cgroups. A host's SSH session
// cannot read it: `ip netns exec` gives the host's sshd a /sys of its network namespace, without
// the cgroup file systems. Reading from outside also charges the host nothing for being measured.
import type { HostSampler } from "../platform.ts";
import { CGROUP_ROOT, readHostCgroup } from "./cgroups.ts";

/** The local platform's sampler; `root` is where the cgroup file systems are mounted (tests point it elsewhere). */
export function cgroupHostSampler(root = CGROUP_ROOT): HostSampler {
    return {
        source: "each host's own cgroup, read on the machine (v1: memory usage + kmem.tcp, cpuacct; v2: memory.current, cpu.stat)",
        read(stack, host) {
            const { limitBytes, underOom: _, ...reading } = readHostCgroup(stack, host, root);
            return { limitBytes, sample: { t: Date.now(), ...reading } };
        },
    };
}
