// Address plan of an AWS lab. The VPC uses 198.18.0.0/16 — the same RFC 2544 benchmarking
// range as the local lab (AWS accepts non-RFC 1918 VPC blocks; 198.19.0.0/16 is the half it
// restricts) — so the rig's one safety rule, "load only goes to 198.18.0.0/15", holds
// unchanged on EC2. Addresses are fixed up front, so a Host's address is plain data like on
// the local platform. Pure.
import { intToIp, ipToInt } from "../addressPlan.ts";

export const VPC_CIDR = "198.18.0.0/16";
/** One public subnet in one AZ: 8192 addresses, 32 per host. */
export const SUBNET_CIDR = "198.18.0.0/19";
/** Each host owns a block of this many addresses: its primary and its secondary IPs. */
export const ADDRESSES_PER_HOST = 32;
/** Block 0 holds the addresses AWS reserves (.0 network, .1 router, .2 DNS, .3 future). */
export const MAX_HOSTS = 2 ** (32 - 19) / ADDRESSES_PER_HOST - 2;

/** All private addresses of host `index`: [primary, ...secondaries]. */
export function hostAddresses(index: number, count: number): string[] {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_HOSTS) throw new Error(`host index ${index} outside ${SUBNET_CIDR} (max ${MAX_HOSTS} hosts)`);
    if (!Number.isInteger(count) || count < 1 || count > ADDRESSES_PER_HOST - 1) throw new Error(`${count} addresses per host: 1..${ADDRESSES_PER_HOST - 1}`);
    const base = ipToInt(SUBNET_CIDR.split("/")[0]) + ADDRESSES_PER_HOST * (index + 1);
    return Array.from({ length: count }, (_, k) => intToIp(base + k));
}
