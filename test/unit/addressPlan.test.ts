import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { addressPlan, intToIp, ipToInt, isLabTarget, parseSubnet, subnetCapacity } from "../../components/platform/addressPlan.ts";

describe("ipToInt / intToIp", () => {
    test("known addresses map to their 32-bit values", () => {
        assert.equal(ipToInt("0.0.0.0"), 0);
        assert.equal(ipToInt("0.0.0.1"), 1);
        assert.equal(ipToInt("0.0.1.0"), 256);
        assert.equal(ipToInt("1.2.3.4"), 0x01020304);
        assert.equal(ipToInt("255.255.255.255"), 2 ** 32 - 1);
        assert.equal(ipToInt("198.18.0.0"), 198 * 2 ** 24 + 18 * 2 ** 16);
    });

    test("values above 2^31 stay positive (no signed 32-bit overflow)", () => {
        assert.ok(ipToInt("198.18.0.1") > 0);
        assert.equal(intToIp(2 ** 31), "128.0.0.0");
        assert.equal(intToIp(2 ** 32 - 1), "255.255.255.255");
    });

    test("round trip int → ip → int over boundaries and a deterministic spread", () => {
        const values = [0, 1, 255, 256, 65535, 65536, 2 ** 24 - 1, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1];
        let x = 12345;
        for (let i = 0; i < 500; i++) {
            x = (x * 1103515245 + 12345) % 2 ** 31; // LCG: reproducible pseudo-random values
            values.push((x * 2) % 2 ** 32, x);
        }
        for (const v of values) {
            const ip = intToIp(v);
            assert.match(ip, /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
            assert.equal(ipToInt(ip), v, `${v} → ${ip}`);
        }
    });

    test("round trip ip → int → ip", () => {
        for (const ip of ["198.18.0.1", "198.19.255.254", "10.0.0.1", "127.0.0.1", "8.8.8.8", "0.255.0.255"]) {
            assert.equal(intToIp(ipToInt(ip)), ip);
        }
    });

    for (const bad of ["", "1.2.3", "1.2.3.4.5", "1.2.3.256", "a.b.c.d", "1.2.3.-1", " 1.2.3.4", "1.2.3.4 ", "1..3.4", "1.2.3.1234", "::1"]) {
        test(`ipToInt refuses ${JSON.stringify(bad)}`, () => {
            assert.throws(() => ipToInt(bad), /is not an IPv4 address/);
        });
    }
});

describe("parseSubnet", () => {
    test("parses a lab subnet", () => {
        assert.deepEqual(parseSubnet("198.18.0.0/24"), { base: ipToInt("198.18.0.0"), prefix: 24 });
        assert.deepEqual(parseSubnet("198.19.255.248/29"), { base: ipToInt("198.19.255.248"), prefix: 29 });
        assert.deepEqual(parseSubnet("198.18.0.0/15"), { base: ipToInt("198.18.0.0"), prefix: 15 });
    });

    const errors: [string, RegExp][] = [
        ["198.18.0.0", /not a CIDR block/],
        ["198.18.0.0/", /not a CIDR block/],
        ["198.18.0.0/abc", /not a CIDR block/],
        ["198.18.0.0/24/1", /not a CIDR block/],
        ["subnet", /not a CIDR block/],
        ["198.18.0/24", /not an IPv4 address/],
        ["198.18.0.0/14", /prefix must be \/15\.\.\/29/],
        ["198.18.0.0/30", /prefix must be/],
        ["198.18.0.0/32", /prefix must be/],
        ["198.18.0.128/24", /host bits set/],
        ["198.18.0.8/28", /host bits set/],
        ["198.19.0.0/15", /host bits set/],
        ["10.0.0.0/24", /outside 198\.18\.0\.0\/15/],
        ["192.168.1.0/24", /outside 198\.18\.0\.0\/15/],
        ["198.20.0.0/24", /outside 198\.18\.0\.0\/15/],
        ["198.17.255.0/24", /outside 198\.18\.0\.0\/15/],
        ["0.0.0.0/16", /outside/],
    ];
    for (const [cidr, message] of errors) {
        test(`refuses ${cidr}`, () => assert.throws(() => parseSubnet(cidr), message));
    }
});

describe("subnetCapacity", () => {
    test("a block's size minus network, broadcast and the bridge", () => {
        assert.equal(subnetCapacity("198.18.0.0/24"), 256 - 3);
        assert.equal(subnetCapacity("198.18.0.0/29"), 8 - 3);
        assert.equal(subnetCapacity("198.18.0.0/16"), 65536 - 3);
        assert.equal(subnetCapacity("198.18.0.0/15"), 131072 - 3);
    });

    test("each prefix bit halves the block", () => {
        for (let p = 15; p < 29; p++) {
            const wide = subnetCapacity(`198.18.0.0/${p}`) + 3;
            const narrow = subnetCapacity(`198.18.0.0/${p + 1}`) + 3;
            assert.equal(wide, 2 * narrow);
        }
    });

    test("refuses what parseSubnet refuses", () => {
        assert.throws(() => subnetCapacity("10.0.0.0/24"), /outside/);
    });
});

describe("addressPlan", () => {
    for (const cidr of ["198.18.0.0/24", "198.19.255.240/28", "198.18.7.0/29", "198.19.255.0/24"]) {
        test(`every host of ${cidr} is inside it, distinct, usable and never the bridge`, () => {
            const plan = addressPlan(cidr);
            const { base, prefix } = parseSubnet(cidr);
            const size = 2 ** (32 - prefix);
            const network = base;
            const broadcast = base + size - 1;
            assert.equal(plan.prefix, prefix);
            const bridge = ipToInt(plan.bridgeAddress);
            assert.ok(bridge > network && bridge < broadcast, "bridge is a usable address");

            const capacity = subnetCapacity(cidr);
            const seen = new Set<string>();
            for (let i = 0; i < capacity; i++) {
                const ip = plan.hostAddress(i);
                const n = ipToInt(ip);
                assert.ok(n > network && n < broadcast, `${ip} is not a usable address of ${cidr}`);
                assert.notEqual(ip, plan.bridgeAddress);
                assert.ok(isLabTarget(ip), `${ip} must be a lab target`);
                assert.ok(!seen.has(ip), `${ip} handed out twice`);
                seen.add(ip);
            }
            // The plan hands out every usable address: network, broadcast and bridge are all that is left.
            assert.equal(seen.size + 3, size);
            assert.throws(() => plan.hostAddress(capacity), /outside/);
            assert.throws(() => plan.hostAddress(-1), /outside/);
        });
    }

    test("a /24 puts the bridge on .1 and the first host on .2, the last on .254", () => {
        const plan = addressPlan("198.18.3.0/24");
        assert.equal(plan.bridgeAddress, "198.18.3.1");
        assert.equal(plan.hostAddress(0), "198.18.3.2");
        assert.equal(plan.hostAddress(subnetCapacity("198.18.3.0/24") - 1), "198.18.3.254");
    });

    test("two stacks on different /24s share no address", () => {
        const a = addressPlan("198.18.0.0/24");
        const b = addressPlan("198.18.1.0/24");
        const addrs = (p: typeof a) => new Set([p.bridgeAddress, ...Array.from({ length: 253 }, (_, i) => p.hostAddress(i))]);
        const inA = addrs(a);
        for (const ip of addrs(b)) assert.ok(!inA.has(ip), ip);
    });

    test("refuses a subnet outside the lab range", () => {
        assert.throws(() => addressPlan("192.168.1.0/24"), /outside/);
    });

    test("clients' extra source addresses: inside the subnet, after every host's own, none shared", () => {
        const cidr = "198.18.5.0/26"; // 64 - 3 = 61 usable
        const plan = addressPlan(cidr);
        const hostCount = 5;
        const clients = 2;
        const perClient = 4;
        const extra = plan.extraAddresses(hostCount, clients, perClient);
        const hostAddrs = Array.from({ length: hostCount }, (_, i) => plan.hostAddress(i));
        const all = [plan.bridgeAddress, ...hostAddrs];
        const { base } = parseSubnet(cidr);
        for (let c = 0; c < clients; c++) {
            const mine = extra(c);
            assert.equal(mine.length, perClient);
            for (const ip of mine) {
                const n = ipToInt(ip);
                assert.ok(n > base && n < base + 63, `${ip} outside ${cidr} or on its broadcast`);
                assert.ok(isLabTarget(ip));
                assert.ok(n > Math.max(...hostAddrs.map(ipToInt)), `${ip} is not after the hosts' addresses`);
            }
            all.push(...mine);
        }
        assert.equal(new Set(all).size, all.length, "an address handed out twice");
    });

    test("extra addresses that would not fit are refused, naming both numbers", () => {
        const plan = addressPlan("198.18.0.0/29"); // 5 usable
        assert.doesNotThrow(() => plan.extraAddresses(3, 1, 2));
        assert.throws(() => plan.extraAddresses(3, 1, 3), /holds 5 addresses, 6 needed/);
    });
});

describe("isLabTarget", () => {
    const yes = ["198.18.0.0", "198.18.0.1", "198.18.255.255", "198.19.0.1", "198.19.255.255", "127.0.0.1", "127.255.255.254"];
    const no = [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "8.8.8.8",
        "198.20.0.1",
        "198.17.255.255",
        "0.0.0.0",
        "255.255.255.255",
        "126.255.255.255",
        "128.0.0.1",
    ];
    for (const ip of yes) test(`${ip} is a lab target`, () => assert.equal(isLabTarget(ip), true));
    for (const ip of no) test(`${ip} is not a lab target`, () => assert.equal(isLabTarget(ip), false));

    test("refuses something that is not an address rather than guessing", () => {
        assert.throws(() => isLabTarget("lab.example"), /not an IPv4 address/);
    });
});
