import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../components/config.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import {
    FD_OVERHEAD,
    haproxyProcessesFor,
    MAXCONN_HEADROOM,
    planCapacity,
    PORTS_PER_SOURCE_ADDRESS,
    withSpreadHeadroom,
} from "../../components/plan/capacity.ts";
import { hostSysctls, kernelSysctls, renderTuning, socketsOnHost } from "../../components/render/tuning.ts";

const GB = 1024 ** 3;
const local = (nofileCeiling = 20_000, memoryBytes = 24 * GB) => ({ nofileCeiling, memoryBytes });

test("every process of every role stays under the open-file ceiling, whatever the target", () => {
    for (const connections of [20, 4000, 20_000, 100_000, 300_000]) {
        const p = planCapacity(parseLabConfig({ plan: { connections }, local: local(20_000, 64 * GB) }));
        for (const [role, nofile] of Object.entries({ haproxy: p.haproxy.nofile, client: p.client.nofile, backend: p.backend.nofile })) {
            assert.ok(nofile <= 20_000, `${connections}: ${role} nofile ${nofile}`);
        }
        assert.ok(2 * p.haproxy.maxconnPerProcess + FD_OVERHEAD <= 20_000, `${connections}: haproxy fds`);
        assert.ok(p.haproxy.processes * p.haproxy.maxconnPerProcess >= connections, `${connections}: haproxy processes hold the plan`);
        assert.ok(p.client.connectionsPerAddress <= PORTS_PER_SOURCE_ADDRESS, `${connections}: ports per source address`);
        assert.ok(p.client.sourceAddresses * p.client.connectionsPerAddress >= p.client.connectionsPerClient);
        assert.ok(p.backend.servers * p.backend.connectionsPerServer >= connections);
    }
});

test("no per-process cap (EC2): one HAProxy process, one source address per 64512 ports", () => {
    const p = planCapacity(
        parseLabConfig({
            platform: "local",
            plan: { connections: 1_190_000 },
            hosts: { clients: 4 },
            local: { nofileCeiling: 4_194_304, memoryBytes: 512 * GB, subnet: "198.18.0.0/24" },
        }),
    );
    assert.equal(p.haproxy.processes, 1);
    assert.equal(p.haproxy.maxconnPerProcess, Math.ceil(1_190_000 * MAXCONN_HEADROOM));
    // 297,500 per client over 64,512 ports per address → 5 addresses.
    assert.equal(p.client.sourceAddresses, Math.ceil(297_500 / PORTS_PER_SOURCE_ADDRESS));
});

test("HAProxy processes leave room for the kernel's uneven SO_REUSEPORT spread", () => {
    const perProcessLimit = Math.floor((20_000 - FD_OVERHEAD) / 2);
    for (const total of [20_000, 100_000, 300_000]) {
        const processes = haproxyProcessesFor(total, perProcessLimit);
        const perProcess = withSpreadHeadroom(Math.ceil(total / processes), processes);
        assert.ok(perProcess <= perProcessLimit);
        assert.ok(perProcess >= Math.ceil(total / processes) * 1.1, "at least 10% over the fair share");
        // One process fewer would not fit.
        if (processes > 1) assert.ok(withSpreadHeadroom(Math.ceil(total / (processes - 1)), processes - 1) > perProcessLimit);
    }
    assert.equal(withSpreadHeadroom(5000, 1), 5000, "a single process gets exactly its share");
});

test("refusals name the key and the number that breaks", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
        [
            { plan: { connections: 300_000, sourceAddressesPerClient: 2 }, local: local() },
            /c2m:plan\.sourceAddressesPerClient: 300000 connections over 2 clients need 8 source addresses per client .* config gives 2/,
        ],
        [
            { plan: { connections: 100_000 }, haproxy: { processes: 2 }, local: local() },
            /c2m:haproxy\.processes: 125000 connections \(c2m:plan\.connections 100000 \+ 25 % headroom\) over 2 HAProxy process\(es\) need \d+ open files each .* at most 20000; use 15 processes/,
        ],
        [{ plan: { connections: 100_000 }, haproxy: { maxconn: 50_000 }, local: local() }, /c2m:haproxy\.maxconn: 50000 is below c2m:plan\.connections 100000/],
        [
            { plan: { connections: 2_000_000, tlsShare: 1 }, local: local() },
            /c2m:plan\.connections: 2000000 connections \(100% TLS\) need ~\d+\.\d GB on this machine, which has 24\.0 GB/,
        ],
        [
            { plan: { connections: 100_000 }, haproxy: { statsPort: 440 }, local: local() },
            /c2m:haproxy: plainPort 80, tlsPort 443 and the statistics ports 440-454 \(one per process\) must not overlap/,
        ],
    ];
    for (const [raw, message] of cases) {
        assert.throws(
            () => parseLabConfig(raw),
            (err: unknown) => err instanceof ConfigError && message.test(err.message),
            String(message),
        );
    }
});

test("kernel settings grow with the plan and never ask for less than a sane floor", () => {
    const small = kernelSysctls(1000, 4096, 24 * GB);
    const big = kernelSysctls(1_000_000, 19_000, 24 * GB);
    const value = (xs: typeof small, key: string) =>
        xs
            .find((s) => s.key === key)!
            .value.split(" ")
            .map(Number);
    assert.ok(value(big, "fs.file-max")[0] >= 1_000_000 * 1.2, "room for every socket");
    assert.ok(value(big, "net.ipv4.tcp_mem")[2] > value(small, "net.ipv4.tcp_mem")[2]);
    assert.ok(value(big, "net.ipv4.tcp_mem")[2] * 4096 <= 0.6 * 24 * GB, "tcp_mem stays within 60% of memory");
    assert.ok(
        big.every((s) => s.atLeast),
        "machine-wide values are raised, never lowered",
    );
    assert.ok(
        kernelSysctls(10, 4096, GB).every((s) => s.why.length > 10),
        "each value carries its reason",
    );
    const conntrack = hostSysctls(500_000).find((s) => s.key === "net.netfilter.nf_conntrack_max")!;
    assert.ok(Number(conntrack.value) >= 500_000 && conntrack.optional, "conntrack sized for every socket where present");
});

test("tuning per role follows the sockets that role holds", () => {
    const config = parseLabConfig({ plan: { connections: 100_000 }, local: local() });
    const capacity = planCapacity(config);
    assert.equal(socketsOnHost("haproxy", capacity, 2), 200_000, "two sockets per connection on the load balancer");
    assert.equal(socketsOnHost("client", capacity, 2), 50_000);
    assert.equal(socketsOnHost("backend", capacity, 2), 50_000);
    const lb = renderTuning({ role: "haproxy", capacity, backends: 2, kernelSockets: 400_000, memoryBytes: 24 * GB });
    assert.equal(lb.nofile, capacity.haproxy.nofile);
    assert.match(lb.sysctls.find((s) => s.key === "net.ipv4.tcp_rmem")!.value, /^4096 16384 /, "small default buffers at scale");
});
