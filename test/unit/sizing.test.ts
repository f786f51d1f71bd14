import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LabConfigSchema, type LabConfig } from "../../components/config.ts";
import { checkPlan, expectedConcurrencyPerClient, meanResponseMs } from "../../components/plan/sizing.ts";
import { FD_OVERHEAD, MAXCONN_HEADROOM, PORTS_PER_SOURCE_ADDRESS, planCapacity } from "../../components/plan/capacity.ts";
import { labMemoryBytes } from "../../components/plan/costs.ts";
import { PRESET_SETTINGS, type AttackSettings } from "../../components/render/attack.ts";
import { hostSysctls } from "../../components/render/tuning.ts";
import { randomIntInclusive } from "../../backend/pong.ts";

const settings = (over: Partial<AttackSettings>): AttackSettings => ({ ...PRESET_SETTINGS.smoke, ...over });

/** A schema-valid config without the plan checks parseLabConfig adds, so checkPlan can be called on it. */
const config = (raw: Record<string, unknown>): LabConfig => LabConfigSchema.parse(raw);

/** checkPlan's problems for a raw config. */
const problemsOf = (raw: Record<string, unknown>) => checkPlan(config(raw));

describe("meanResponseMs", () => {
    test("a wait uniform over the integers 0..sleep+1 averages (sleep+1)/2; times+1 writes add up", () => {
        for (const [sleepMs, times] of [
            [20, 2],
            [0, 0],
            [1, 5],
            [99, 0],
            [1000, 3],
        ]) {
            // Expected value of one wait, by enumerating the sleep+2 equally likely integers.
            const waits = Array.from({ length: sleepMs + 2 }, (_, i) => i);
            const oneWait = waits.reduce((a, b) => a + b, 0) / waits.length;
            assert.equal(meanResponseMs(settings({ sleepMs, times, holdMs: 0 })), oneWait * (times + 1));
        }
    });

    test("the seed's sleep 20 / times 2 averages 31.5 ms: 3 writes of ~10.5 ms", () => {
        assert.equal(meanResponseMs(settings({ sleepMs: 20, times: 2, holdMs: 0 })), 3 * 10.5);
    });

    test("hold adds its fixed wait once", () => {
        const without = meanResponseMs(settings({ sleepMs: 20, times: 2, holdMs: 0 }));
        assert.equal(meanResponseMs(settings({ sleepMs: 20, times: 2, holdMs: 250 })), without + 250);
    });

    test("agrees with the pong server's own random waits (sampled)", () => {
        // pong waits randomIntInclusive(0, sleep+1) before each of its times+1 writes (sleep > 0).
        const s = settings({ sleepMs: 20, times: 2, holdMs: 0 });
        const n = 20_000;
        let total = 0;
        for (let i = 0; i < n; i++) {
            for (let w = 0; w <= s.times; w++) total += randomIntInclusive(0, s.sleepMs + 1);
        }
        const sampled = total / n;
        // sd of one response ≈ sqrt(3) × 6.3 ms ≈ 11 ms; of the mean of 20000 ≈ 0.08 ms
        assert.ok(Math.abs(sampled - meanResponseMs(s)) < 0.5, `sampled ${sampled}, model ${meanResponseMs(s)}`);
    });
});

describe("expectedConcurrencyPerClient (Little's law L = λW)", () => {
    test("1000 req/s × 31.5 ms = 31.5 → 32 connections", () => {
        assert.equal(expectedConcurrencyPerClient(settings({ rate: 1000, sleepMs: 20, times: 2, holdMs: 0 })), 32);
    });

    test("an exact product is not rounded up", () => {
        // sleep 1 → mean wait 1 ms per write; times 0 → 1 ms; 2000 req/s × 0.001 s = 2
        assert.equal(expectedConcurrencyPerClient(settings({ rate: 2000, sleepMs: 1, times: 0, holdMs: 0 })), 2);
    });

    test("the seed's final command (3000 req/s, sleep 20, times 2) holds ~95 connections per client", () => {
        assert.equal(expectedConcurrencyPerClient(PRESET_SETTINGS.seed), Math.ceil(3000 * 0.0315));
    });

    test("never below one connection", () => {
        assert.equal(expectedConcurrencyPerClient(settings({ rate: 1, sleepMs: 0, times: 0, holdMs: 0 })), 1);
    });

    test("doubling the rate or the response time doubles the open connections", () => {
        const base = settings({ rate: 10_000, sleepMs: 99, times: 0, holdMs: 0, durationS: 60 }); // 10000 × 50 ms = 500
        assert.equal(expectedConcurrencyPerClient(base), 500);
        assert.equal(expectedConcurrencyPerClient({ ...base, rate: 20_000 }), 1000);
        assert.equal(expectedConcurrencyPerClient({ ...base, times: 1 }), 1000);
    });

    test("an attack shorter than one response holds at most every request it sent (rate × duration)", () => {
        // 1000 req/s for 5 s with 10 s holds: no request has finished when the attack ends
        assert.equal(expectedConcurrencyPerClient(settings({ rate: 1000, durationS: 5, holdMs: 10_000, sleepMs: 0, times: 0 })), 5000);
        // the same attack for 60 s reaches the steady state λW instead
        assert.equal(expectedConcurrencyPerClient(settings({ rate: 1000, durationS: 60, holdMs: 10_000, sleepMs: 1, times: 0 })), 10_001);
    });
});

describe("ports per source address", () => {
    test("capacity and the tuned port range agree", () => {
        const [low, high] = hostSysctls(1)
            .find((s) => s.key === "net.ipv4.ip_local_port_range")!
            .value.split(/\s+/)
            .map(Number);
        assert.equal(PORTS_PER_SOURCE_ADDRESS, high - low + 1);
    });
});

describe("checkPlan", () => {
    test("the defaults have no problems", () => {
        assert.deepEqual(problemsOf({}), []);
    });

    test("haproxy.maxconn: equal to the planned connections passes, one below fails naming both", () => {
        assert.deepEqual(problemsOf({ plan: { connections: 3000 }, haproxy: { maxconn: 3000 } }), []);
        const problems = problemsOf({ plan: { connections: 3000 }, haproxy: { maxconn: 2999 } });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:haproxy\.maxconn: .*2999.*3000/);
    });

    test("pinned process count: exactly enough fds passes, one fd short fails with both numbers", () => {
        const connections = 3000;
        const maxconn = Math.ceil(connections * MAXCONN_HEADROOM); // the plan's headroom: 3750
        const needed = 2 * maxconn + FD_OVERHEAD; // two sockets per proxied connection
        const at = (ceiling: number) => problemsOf({ plan: { connections }, haproxy: { processes: 1 }, local: { nofileCeiling: ceiling } });
        assert.deepEqual(at(needed), []);
        const problems = at(needed - 1);
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:haproxy\.processes: /);
        assert.ok(problems[0].includes(String(needed)) && problems[0].includes(String(needed - 1)), problems[0]);
    });

    test("no ceiling known means no fd problem, however many connections", () => {
        const problems = problemsOf({ plan: { connections: 10_000_000, sourceAddressesPerClient: 100 }, hosts: { clients: 2 } });
        assert.ok(!problems.some((p) => p.startsWith("c2m:haproxy.processes")), problems.join("\n"));
    });

    test("source addresses: one client with one address holds exactly one address's ports, not one more", () => {
        const at = (connections: number) => problemsOf({ plan: { connections, sourceAddressesPerClient: 1 }, hosts: { clients: 1 } });
        assert.deepEqual(at(PORTS_PER_SOURCE_ADDRESS), []);
        const problems = at(PORTS_PER_SOURCE_ADDRESS + 1);
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:plan\.sourceAddressesPerClient: .*need 2 source addresses/);
    });

    test("source addresses: a low fd ceiling, not the ports, can be the per-address limit", () => {
        // 5000 fds per process: a client process can hold 5000 - overhead connections, far below 64512 ports
        const perProcess = 5000 - FD_OVERHEAD;
        const at = (connections: number) =>
            problemsOf({ plan: { connections, sourceAddressesPerClient: 1 }, hosts: { clients: 1 }, local: { nofileCeiling: 5000 } });
        assert.ok(!at(perProcess).some((p) => p.startsWith("c2m:plan.sourceAddressesPerClient")));
        assert.ok(at(perProcess + 1).some((p) => p.startsWith("c2m:plan.sourceAddressesPerClient")));
    });

    test("memory: the lab may use 85% of the machine", () => {
        const needed = labMemoryBytes(100_000, 0.5);
        const ok = Math.ceil(needed / 0.85) + 1;
        assert.deepEqual(problemsOf({ plan: { connections: 100_000 }, local: { memoryBytes: ok } }), []);
        const problems = problemsOf({ plan: { connections: 100_000 }, local: { memoryBytes: Math.floor(needed / 0.85) - 1024 } });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:plan\.connections: 100000 connections \(50% TLS\) need ~/);
    });

    test("memory: more TLS costs more than plain", () => {
        assert.ok(labMemoryBytes(100_000, 1) > labMemoryBytes(100_000, 0));
    });

    test("backend port range past 65535 names the last port", () => {
        const problems = problemsOf({ backend: { basePort: 65535, serversPerHost: 2 } });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:backend\.serversPerHost: 2 servers from port 65535 end at 65536/);
    });

    test("frontend ports must differ from each other and from every process's stats port", () => {
        for (const haproxy of [{ plainPort: 443 }, { statsPort: 443 }, { statsPort: 80 }, { processes: 2, statsPort: 8404, plainPort: 8405 }]) {
            const problems = problemsOf({ haproxy });
            assert.equal(problems.length, 1, JSON.stringify(haproxy));
            assert.match(problems[0], /^c2m:haproxy: /);
        }
        assert.deepEqual(problemsOf({ haproxy: { processes: 2, statsPort: 8404, plainPort: 8406 } }), []);
    });

    test("the attack may not keep more connections open per client than planned", () => {
        // 1 ms responses: rate r keeps r/1000 connections open; 2000 planned over 2 clients = 1000 each
        const at = (rate: number) => problemsOf({ plan: { connections: 2000 }, attack: { rate, sleepMs: 1, times: 0, durationS: 60 } });
        assert.deepEqual(at(1_000_000), []);
        const problems = at(1_001_000);
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:plan\.connections: .*1001.*1000/);
    });

    test("HAProxy timeouts must cover the attack timeout (client and server alike)", () => {
        for (const timeouts of [{ clientMs: 9_999 }, { serverMs: 9_999 }]) {
            const problems = problemsOf({ attack: { timeoutS: 10 }, haproxy: { timeouts } });
            assert.equal(problems.length, 1);
            assert.match(problems[0], /^c2m:haproxy\.timeouts: .*10000 ms/);
        }
        assert.deepEqual(problemsOf({ attack: { timeoutS: 10 }, haproxy: { timeouts: { clientMs: 10_000, serverMs: 10_000 } } }), []);
    });

    test("attack timeout vs the longest response: equal passes, 1 ms less fails", () => {
        // sleep 99, times 1: two writes of at most 100 ms = 200 ms
        assert.deepEqual(problemsOf({ attack: { sleepMs: 99, times: 1, timeoutS: 0.2 } }), []);
        const problems = problemsOf({ attack: { sleepMs: 99, times: 1, timeoutS: 0.199 } });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:attack\.timeoutS: 0\.199 s is shorter than the longest response .*200 ms/);
    });

    test("pong's request timeout: 0 disables it; a positive one must cover the longest response", () => {
        const attack = { sleepMs: 99, times: 1 }; // up to 200 ms
        assert.deepEqual(problemsOf({ attack, backend: { requestTimeoutMs: 0 } }), []);
        assert.deepEqual(problemsOf({ attack, backend: { requestTimeoutMs: 200 } }), []);
        const problems = problemsOf({ attack, backend: { requestTimeoutMs: 199 } });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:backend\.requestTimeoutMs: 199 ms cuts responses that take up to 200 ms/);
    });

    test("subnet: hosts plus every client's source addresses must fit; a malformed subnet is a problem, not a crash", () => {
        // a /28 holds 16 - 3 = 13: 1 haproxy + 2 backends + 2 clients × 5 addresses = 13
        assert.deepEqual(problemsOf({ local: { subnet: "198.18.0.0/28" }, plan: { sourceAddressesPerClient: 5 } }), []);
        const problems = problemsOf({ local: { subnet: "198.18.0.0/28" }, plan: { sourceAddressesPerClient: 6 } });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:local\.subnet: 198\.18\.0\.0\/28 holds 13 addresses, the plan needs 15/);
        const malformed = problemsOf({ local: { subnet: "nonsense" } });
        assert.equal(malformed.length, 1);
        assert.match(malformed[0], /^c2m:local\.subnet: "nonsense" is not a CIDR block/);
    });

    test("the capacity plan behind it: every process fits the ceiling and together they hold the plan", () => {
        for (const connections of [100, 4000, 50_000, 300_000]) {
            const cfg = config({ plan: { connections }, local: { nofileCeiling: 20_000 }, hosts: { clients: 4, backends: 4 } });
            const cap = planCapacity(cfg);
            assert.ok(2 * cap.haproxy.maxconnPerProcess + FD_OVERHEAD <= 20_000, `haproxy ${connections}`);
            assert.ok(cap.haproxy.processes * cap.haproxy.maxconnPerProcess >= connections);
            assert.ok(cap.client.sourceAddresses * cap.client.connectionsPerAddress >= cap.client.connectionsPerClient);
            assert.ok(cap.client.connectionsPerAddress <= Math.min(PORTS_PER_SOURCE_ADDRESS, 20_000 - FD_OVERHEAD));
            assert.ok(cap.backend.servers * cap.backend.connectionsPerServer >= connections);
            assert.ok(cap.backend.serversPerHost >= cfg.backend.serversPerHost, "never fewer pong servers than configured");
            for (const role of ["haproxy", "client", "backend"] as const) assert.ok(cap[role].nofile <= 20_000, role);
        }
    });
});
