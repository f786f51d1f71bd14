// CPU lists as Linux writes them (cpuset.cpus, /sys/devices/system/cpu/online, c2m:local.hostLimits.<role>.cpus).

/** CPU list ("0-2,5") → CPU numbers; undefined when it is not a list. Pure. */
export function parseCpuList(list: string): number[] | undefined {
    const cpus: number[] = [];
    for (const part of list.trim().split(",")) {
        const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
        if (!m) return undefined;
        const first = Number(m[1]);
        const last = m[2] === undefined ? first : Number(m[2]);
        if (last < first) return undefined;
        for (let c = first; c <= last; c++) cpus.push(c);
    }
    return cpus;
}
