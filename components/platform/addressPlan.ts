// Address plan of a local lab: one IPv4 subnet inside 198.18.0.0/15, the bridge on its
// first address, hosts after it. Pure.

export interface Subnet {
    base: number;
    prefix: number;
}

const LAB_BASE = ipToInt("198.18.0.0");
const LAB_PREFIX = 15;

export function ipToInt(ip: string): number {
    const parts = ip.split(".");
    if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
        throw new Error(`"${ip}" is not an IPv4 address`);
    }
    return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** An IPv4 CIDR block's first address and prefix (0–32), or undefined when the text is not one. */
export function readCidr(cidr: string): Subnet | undefined {
    const match = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
    if (!match || Number(match[2]) > 32) return undefined;
    try {
        return { base: ipToInt(match[1]), prefix: Number(match[2]) };
    } catch {
        return undefined;
    }
}

export function hasHostBits(s: Subnet): boolean {
    return s.base % 2 ** (32 - s.prefix) !== 0;
}

export function parseSubnet(cidr: string): Subnet {
    const match = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
    if (!match) throw new Error(`"${cidr}" is not a CIDR block like 198.18.0.0/24`);
    const base = ipToInt(match[1]);
    const prefix = Number(match[2]);
    if (prefix < LAB_PREFIX || prefix > 29) {
        throw new Error(`"${cidr}": prefix must be /${LAB_PREFIX}../29 and inside 198.18.0.0/15`);
    }
    if (hasHostBits({ base, prefix })) throw new Error(`"${cidr}" has host bits set`);
    if (Math.floor(base / 2 ** (32 - LAB_PREFIX)) !== Math.floor(LAB_BASE / 2 ** (32 - LAB_PREFIX))) {
        throw new Error(`"${cidr}" is outside 198.18.0.0/15; the lab only sends load to its own benchmarking range`);
    }
    return { base, prefix };
}

/** Hosts a subnet can hold: all addresses minus network, broadcast and the bridge. */
export function subnetCapacity(cidr: string): number {
    const { prefix } = parseSubnet(cidr);
    return 2 ** (32 - prefix) - 3;
}

export interface AddressPlan {
    bridgeAddress: string;
    prefix: number;
    hostAddress(index: number): string;
    /** Extra addresses of the i-th client, allocated after all hosts' own addresses. */
    extraAddresses(hostCount: number, clientCount: number, perClient: number): (clientIndex: number) => string[];
}

export function addressPlan(cidr: string): AddressPlan {
    const { base, prefix } = parseSubnet(cidr);
    const capacity = subnetCapacity(cidr);
    return {
        bridgeAddress: intToIp(base + 1),
        prefix,
        hostAddress(index: number) {
            if (index < 0 || index >= capacity) throw new Error(`host index ${index} outside ${cidr}`);
            return intToIp(base + 2 + index);
        },
        extraAddresses(hostCount, clientCount, perClient) {
            const needed = hostCount + clientCount * perClient;
            if (needed > capacity) throw new Error(`${cidr} holds ${capacity} addresses, ${needed} needed`);
            return (clientIndex) => Array.from({ length: perClient }, (_, k) => intToIp(base + 2 + hostCount + clientIndex * perClient + k));
        },
    };
}

/** True when an address is one the lab may send load to: 198.18.0.0/15 or loopback. */
export function isLabTarget(ip: string): boolean {
    const n = ipToInt(ip);
    return Math.floor(n / 2 ** 17) === Math.floor(LAB_BASE / 2 ** 17) || Math.floor(n / 2 ** 24) === 127;
}
