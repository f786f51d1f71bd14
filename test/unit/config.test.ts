import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { ConfigError, LabConfigSchema } from "../../components/config.ts";
import { intToIp, isLabTarget, parseSubnet } from "../../components/platform/addressPlan.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { FD_OVERHEAD, PORTS_PER_SOURCE_ADDRESS, planCapacity } from "../../components/plan/capacity.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";

/** Runs parseLabConfig and returns the ConfigError it must throw. */
function refusal(raw: Record<string, unknown>): ConfigError {
    try {
        parseLabConfig(raw);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
        return err;
    }
    assert.fail(`config was accepted: ${JSON.stringify(raw)}`);
}

/** The one problem that names `key` (exactly "key:" at the start). */
function problemFor(err: ConfigError, key: string): string {
    const found = err.problems.filter((p) => p.startsWith(`${key}:`));
    assert.ok(found.length >= 1, `no problem names ${key}; problems: ${JSON.stringify(err.problems)}`);
    return found[0];
}

describe("parseLabConfig: defaults", () => {
    test("an empty config fills in every default and passes the plan checks", () => {
        const cfg = parseLabConfig({});
        assert.equal(cfg.platform, "local");
        assert.equal(cfg.owner, "operator");
        assert.deepEqual(cfg.hosts, { haproxy: 1, backends: 2, clients: 2 });
        assert.equal(cfg.plan.connections, 4000);
        assert.equal(cfg.backend.serversPerHost, 10);
        assert.equal(cfg.backend.basePort, 8282);
        assert.equal(cfg.backend.requestTimeoutMs, 0, "Node's server timeouts off, as the seed needed");
        assert.equal(cfg.haproxy.maxconn, undefined, "derived from c2m:plan.connections");
        assert.equal(cfg.haproxy.processes, undefined, "derived from the fd ceiling");
        assert.deepEqual([cfg.haproxy.plainPort, cfg.haproxy.tlsPort, cfg.haproxy.statsPort], [80, 443, 8404]);
        assert.deepEqual(cfg.haproxy.tls, { enabled: true, curve: "P-256", maxVersion: "TLSv1.2" });
        assert.deepEqual(cfg.haproxy.timeouts, { connectMs: 5_000, clientMs: 7_200_000, serverMs: 7_200_000, queueMs: 60_000 });
        assert.equal(cfg.attack.preset, "smoke");
        assert.equal(cfg.local.subnet, "198.18.0.0/24");
        assert.equal(cfg.local.nofileCeiling, undefined, "the ceiling is detected later, never invented");
    });

    test("a partial nested object keeps what was given and fills the rest", () => {
        const cfg = parseLabConfig({ haproxy: { maxconn: 5000, tls: { enabled: false } }, hosts: { clients: 5 } });
        assert.equal(cfg.haproxy.maxconn, 5000);
        assert.equal(cfg.haproxy.plainPort, 80);
        assert.deepEqual(cfg.haproxy.tls, { enabled: false, curve: "P-256", maxVersion: "TLSv1.2" });
        assert.equal(cfg.haproxy.timeouts.clientMs, 7_200_000);
        assert.deepEqual(cfg.hosts, { haproxy: 1, backends: 2, clients: 5 });
    });

    test("attack overrides stay optional (undefined) so the preset supplies them", () => {
        const cfg = parseLabConfig({ attack: { preset: "seed", rate: 50 } });
        assert.equal(cfg.attack.preset, "seed");
        assert.equal(cfg.attack.rate, 50);
        assert.equal(cfg.attack.durationS, undefined);
    });

    test("a fully specified valid config comes back with every given value unchanged", () => {
        const raw = {
            platform: "local",
            owner: "ci.bot_1",
            ttlHours: 1,
            hosts: { haproxy: 1, backends: 3, clients: 4 },
            plan: { connections: 9000, tlsShare: 0.25, sourceAddressesPerClient: 2 },
            backend: { serversPerHost: 4, basePort: 9000, requestTimeoutMs: 0, maxConcurrent: 0, serviceTimeMs: 0 },
            haproxy: {
                maxconn: 9000,
                processes: 2,
                plainPort: 8080,
                tlsPort: 8443,
                statsPort: 9404,
                threads: 2,
                tls: { enabled: true, curve: "P-384", maxVersion: "TLSv1.3" },
                timeouts: { connectMs: 1000, clientMs: 100_000, serverMs: 100_000, queueMs: 1000 },
            },
            attack: {
                preset: "smoke",
                rate: 100,
                durationS: 2,
                connections: 10,
                workers: 2,
                timeoutS: 30,
                sleepMs: 5,
                times: 1,
                bodyBytes: 16,
                frontends: ["tls"],
            },
            local: { subnet: "198.19.4.0/24", nofileCeiling: 20_000 },
        };
        const cfg = parseLabConfig(raw) as unknown as Record<string, unknown>;
        for (const [section, value] of Object.entries(raw)) {
            if (typeof value !== "object") assert.equal(cfg[section], value, section);
            else assert.deepEqual(cfg[section], value, section);
        }
    });

    test("the committed local stack (Pulumi.local.yaml) is valid", () => {
        const file = fileURLToPath(new URL("../../Pulumi.local.yaml", import.meta.url));
        const doc = parseYaml(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
        const raw = Object.fromEntries(
            Object.entries(doc.config)
                .filter(([k]) => k.startsWith("c2m:"))
                .map(([k, v]) => [k.slice("c2m:".length), v]),
        );
        const cfg = parseLabConfig(raw);
        assert.equal(cfg.backend.serversPerHost, 4);
    });

    test("the default subnet lies inside the lab's range (198.18.0.0/15)", () => {
        const subnet = parseSubnet(parseLabConfig({}).local.subnet);
        assert.ok(isLabTarget(intToIp(subnet.base)));
        assert.ok(isLabTarget(intToIp(subnet.base + 2 ** (32 - subnet.prefix) - 1)));
    });
});

// Each row: raw config, the key its refusal must name, and text (numbers) the message must contain.
interface BadCase {
    name: string;
    raw: Record<string, unknown>;
    key: string;
    mentions: string[];
}

const smoke = PRESET_SETTINGS.smoke;
// Longest pong response of the smoke preset: times+1 writes, each waiting at most sleep+1 ms.
const smokeLongestMs = (smoke.sleepMs + 1) * (smoke.times + 1);

const BAD: BadCase[] = [
    { name: "zero backends", raw: { hosts: { backends: 0 } }, key: "c2m:hosts.backends", mentions: ["1"] },
    { name: "negative clients", raw: { hosts: { clients: -1 } }, key: "c2m:hosts.clients", mentions: ["1"] },
    { name: "two haproxy hosts", raw: { hosts: { haproxy: 2 } }, key: "c2m:hosts.haproxy", mentions: ["1"] },
    { name: "65 clients", raw: { hosts: { clients: 65 } }, key: "c2m:hosts.clients", mentions: ["64"] },
    { name: "fractional backends", raw: { hosts: { backends: 1.5 } }, key: "c2m:hosts.backends", mentions: ["int"] },
    { name: "zero maxconn", raw: { haproxy: { maxconn: 0 } }, key: "c2m:haproxy.maxconn", mentions: ["1"] },
    { name: "maxconn as a string", raw: { haproxy: { maxconn: "4000" } }, key: "c2m:haproxy.maxconn", mentions: ["number", "string"] },
    { name: "tls.enabled as a string", raw: { haproxy: { tls: { enabled: "yes" } } }, key: "c2m:haproxy.tls.enabled", mentions: ["boolean"] },
    { name: "unsupported curve", raw: { haproxy: { tls: { curve: "P-521" } } }, key: "c2m:haproxy.tls.curve", mentions: ["P-256", "P-384"] },
    { name: "port 0", raw: { haproxy: { plainPort: 0 } }, key: "c2m:haproxy.plainPort", mentions: ["1"] },
    { name: "port 65536", raw: { backend: { basePort: 65536 } }, key: "c2m:backend.basePort", mentions: ["65535"] },
    { name: "zero client timeout", raw: { haproxy: { timeouts: { clientMs: 0 } } }, key: "c2m:haproxy.timeouts.clientMs", mentions: ["0"] },
    { name: "negative request timeout", raw: { backend: { requestTimeoutMs: -1 } }, key: "c2m:backend.requestTimeoutMs", mentions: ["0"] },
    { name: "ttl of a month", raw: { ttlHours: 720 }, key: "c2m:ttlHours", mentions: ["168"] },
    { name: "owner with a space", raw: { owner: "Bad Owner" }, key: "c2m:owner", mentions: ["lowercase"] },
    { name: "platform not supported", raw: { platform: "gcp" }, key: "c2m:platform", mentions: ["local", "aws"] },
    { name: "no frontends to attack", raw: { attack: { frontends: [] } }, key: "c2m:attack.frontends", mentions: ["1"] },
    { name: "unknown frontend", raw: { attack: { frontends: ["quic"] } }, key: "c2m:attack.frontends.0", mentions: ["plain", "tls"] },
    { name: "unknown top-level key", raw: { bogus: 1 }, key: "c2m", mentions: ["bogus"] },
    { name: "unknown nested key (typo)", raw: { haproxy: { maxcon: 10 } }, key: "c2m:haproxy", mentions: ["maxcon"] },
    { name: "unknown attack key", raw: { attack: { durationSeconds: 10 } }, key: "c2m:attack", mentions: ["durationSeconds"] },
    { name: "unknown preset", raw: { attack: { preset: "huge" } }, key: "c2m:attack.preset", mentions: ["seed", "smoke"] },
    { name: "malformed subnet (3 octets)", raw: { local: { subnet: "198.18.0/24" } }, key: "c2m:local.subnet", mentions: ["198.18.0"] },
    { name: "subnet without prefix", raw: { local: { subnet: "198.18.0.0" } }, key: "c2m:local.subnet", mentions: ["198.18.0.0"] },
    { name: "subnet octet above 255", raw: { local: { subnet: "198.18.256.0/24" } }, key: "c2m:local.subnet", mentions: ["198.18.256.0"] },
    {
        name: "subnet 10.0.0.0/24 (private LAN)",
        raw: { local: { subnet: "10.0.0.0/24" } },
        key: "c2m:local.subnet",
        mentions: ["10.0.0.0/24", "198.18.0.0/15"],
    },
    {
        name: "subnet 192.168.1.0/24 (home LAN)",
        raw: { local: { subnet: "192.168.1.0/24" } },
        key: "c2m:local.subnet",
        mentions: ["192.168.1.0/24", "198.18.0.0/15"],
    },
    {
        name: "subnet 198.20.0.0/24 (just past the range)",
        raw: { local: { subnet: "198.20.0.0/24" } },
        key: "c2m:local.subnet",
        mentions: ["198.20.0.0/24", "198.18.0.0/15"],
    },
    { name: "subnet 198.16.0.0/24 (just before the range)", raw: { local: { subnet: "198.16.0.0/24" } }, key: "c2m:local.subnet", mentions: ["198.16.0.0/24"] },
    { name: "subnet wider than the range (/14)", raw: { local: { subnet: "198.16.0.0/14" } }, key: "c2m:local.subnet", mentions: ["/15"] },
    { name: "subnet with host bits", raw: { local: { subnet: "198.18.0.1/24" } }, key: "c2m:local.subnet", mentions: ["198.18.0.1/24", "host bits"] },
    {
        // one pinned HAProxy process: 4000 connections × 2 sockets + overhead > 5000 fds
        name: "maxconn needs more fds than the ceiling (processes pinned to 1)",
        raw: { haproxy: { maxconn: 4000, processes: 1 }, local: { nofileCeiling: 5000 } },
        key: "c2m:haproxy.processes",
        mentions: ["4000", String(2 * 4000 + FD_OVERHEAD), "5000"],
    },
    { name: "maxconn below the planned connections", raw: { haproxy: { maxconn: 100 } }, key: "c2m:haproxy.maxconn", mentions: ["100", "4000"] },
    { name: "plain and TLS on the same port", raw: { haproxy: { plainPort: 443 } }, key: "c2m:haproxy", mentions: ["443"] },
    { name: "stats on the plain port", raw: { haproxy: { statsPort: 80 } }, key: "c2m:haproxy", mentions: ["80"] },
    {
        // 3 processes serve statistics on 8404, 8405, 8406
        name: "plain port inside the per-process statistics ports",
        raw: { haproxy: { processes: 3, statsPort: 8404, plainPort: 8406 } },
        key: "c2m:haproxy",
        mentions: ["8406", "8404-8406"],
    },
    { name: "statistics ports past 65535", raw: { haproxy: { processes: 2, statsPort: 65535 } }, key: "c2m:haproxy", mentions: ["65536"] },
    {
        // 50 ms cannot wait for a response that may take (20+1) × 3 = 63 ms
        name: "attack timeout shorter than the longest response",
        raw: { attack: { timeoutS: 0.05 } },
        key: "c2m:attack.timeoutS",
        mentions: ["0.05", String(smokeLongestMs)],
    },
    {
        // hold adds a fixed wait: 100 + 63 ms > 100 ms
        name: "attack timeout shorter than hold + the longest response",
        raw: { attack: { timeoutS: 0.1, holdMs: 100 } },
        key: "c2m:attack.timeoutS",
        mentions: [String(100 + smokeLongestMs)],
    },
    {
        name: "HAProxy server timeout shorter than the attack timeout",
        raw: { haproxy: { timeouts: { serverMs: 60_000 } } },
        key: "c2m:haproxy.timeouts",
        mentions: ["60000", String(smoke.timeoutS * 1000)],
    },
    {
        name: "HAProxy client timeout shorter than the attack timeout",
        raw: { haproxy: { timeouts: { clientMs: 1_000 } }, attack: { timeoutS: 2 } },
        key: "c2m:haproxy.timeouts",
        mentions: ["1000", "2000"],
    },
    {
        name: "pong request timeout cuts the longest response",
        raw: { backend: { requestTimeoutMs: 10 } },
        key: "c2m:backend.requestTimeoutMs",
        mentions: ["10", String(smokeLongestMs)],
    },
    {
        // ports 65530..65539
        name: "backend ports run past 65535",
        raw: { backend: { basePort: 65530, serversPerHost: 10 } },
        key: "c2m:backend.serversPerHost",
        mentions: ["65530", "65539", "65535"],
    },
    {
        // a /29 has 8 addresses: network, broadcast and bridge leave 5 for 1 + 3 + 2 = 6 hosts
        name: "too many hosts for the subnet",
        raw: { local: { subnet: "198.18.0.0/29" }, hosts: { backends: 3, clients: 2 } },
        key: "c2m:local.subnet",
        mentions: ["198.18.0.0/29", "5", "6"],
    },
    {
        // 1 haproxy + 2 backends + 2 clients × 3 source addresses = 9 addresses > 5
        name: "clients' source addresses do not fit the subnet",
        raw: { local: { subnet: "198.18.0.0/29" }, plan: { sourceAddressesPerClient: 3 } },
        key: "c2m:local.subnet",
        mentions: ["5", "9"],
    },
    {
        // 200000 connections over 2 clients = 100000 per client, above one address's 64512 ports
        name: "one source address per client cannot hold the planned connections",
        raw: { plan: { connections: 200_000, sourceAddressesPerClient: 1 } },
        key: "c2m:plan.sourceAddressesPerClient",
        mentions: ["200000", String(PORTS_PER_SOURCE_ADDRESS), String(Math.ceil(100_000 / PORTS_PER_SOURCE_ADDRESS))],
    },
    {
        // a million connections take at least 4 kernel sockets each (several KB apiece): far more than 1 GB
        name: "planned connections need more memory than the machine has",
        raw: { plan: { connections: 1_000_000 }, local: { memoryBytes: 1024 ** 3 } },
        key: "c2m:plan.connections",
        mentions: ["1000000", "1.0 GB"],
    },
    {
        // 50000 req/s × 31.5 ms = 1575 open connections per client, above 4000 / 4 clients = 1000 planned
        name: "attack keeps more connections open than planned per client",
        raw: { attack: { rate: 50_000 }, hosts: { clients: 4 } },
        key: "c2m:plan.connections",
        mentions: ["1575", "1000"],
    },
];

describe("parseLabConfig: refusals", () => {
    test("the table has at least 15 bad inputs", () => assert.ok(BAD.length >= 15));

    for (const c of BAD) {
        test(`refuses ${c.name}, naming ${c.key}`, () => {
            const err = refusal(c.raw);
            const problem = problemFor(err, c.key);
            for (const m of c.mentions) assert.ok(problem.includes(m), `"${problem}" does not mention ${m}`);
            assert.ok(err.message.includes(problem), "the error message lists every problem");
        });
    }

    test("every problem is reported, not only the first", () => {
        const err = refusal({ hosts: { backends: 0, clients: 0 }, haproxy: { maxconn: -5 } });
        assert.equal(err.problems.length, 3);
        for (const key of ["c2m:hosts.backends", "c2m:hosts.clients", "c2m:haproxy.maxconn"]) problemFor(err, key);
    });

    test("plan problems are collected together too", () => {
        const err = refusal({ haproxy: { plainPort: 443 }, backend: { basePort: 65535, serversPerHost: 2 } });
        assert.equal(err.problems.length, 2);
        problemFor(err, "c2m:haproxy");
        problemFor(err, "c2m:backend.serversPerHost");
    });

    test("ConfigError is an Error with a name and its problems listed one per line", () => {
        const err = refusal({ hosts: { backends: 0 } });
        assert.ok(err instanceof Error);
        assert.equal(err.name, "ConfigError");
        assert.match(err.message, /^invalid lab configuration:\n {2}- c2m:hosts\.backends: /);
    });

    test("the fd refusal's suggestion is exact: the suggested process count passes, one fewer fails", () => {
        const base = { plan: { connections: 4000 }, local: { nofileCeiling: 5000 } };
        const err = refusal({ ...base, haproxy: { processes: 1 } });
        const suggested = Number(/use (\d+) processes/.exec(problemFor(err, "c2m:haproxy.processes"))?.[1]);
        assert.ok(Number.isInteger(suggested) && suggested >= 2, `suggested ${suggested}`);
        // two fds per proxied connection: 4000 connections need at least 8000 fds over the processes
        assert.ok(suggested * (5000 - FD_OVERHEAD) >= 2 * 4000);
        assert.doesNotThrow(() => parseLabConfig({ ...base, haproxy: { processes: suggested } }));
        assert.throws(() => parseLabConfig({ ...base, haproxy: { processes: suggested - 1 } }), ConfigError);
    });

    test("left unset, the HAProxy process count is derived so that each process fits the ceiling", () => {
        const cfg = parseLabConfig({ plan: { connections: 4000 }, local: { nofileCeiling: 5000 } });
        const cap = planCapacity(cfg);
        assert.ok(cap.haproxy.processes >= 2, "8000 sockets do not fit one 5000-fd process");
        assert.ok(2 * cap.haproxy.maxconnPerProcess + FD_OVERHEAD <= 5000);
        assert.ok(cap.haproxy.processes * cap.haproxy.maxconnPerProcess >= 4000);
    });

    test("boundaries that are just allowed are accepted", () => {
        // 65526 + 10 servers end at 65535
        assert.doesNotThrow(() => parseLabConfig({ backend: { basePort: 65526, serversPerHost: 10 } }));
        // a /29 holds exactly 5 hosts
        assert.doesNotThrow(() => parseLabConfig({ local: { subnet: "198.18.0.0/29" }, hosts: { backends: 2, clients: 2 } }));
        // the HAProxy timeouts equal to the attack timeout are enough
        assert.doesNotThrow(() => parseLabConfig({ haproxy: { timeouts: { clientMs: 70_000, serverMs: 70_000 } } }));
        // the upper end of the benchmarking range
        assert.doesNotThrow(() => parseLabConfig({ local: { subnet: "198.19.255.0/24" } }));
    });

    test("the schema alone (without plan checks) accepts what only the plan refuses", () => {
        // Keeps the split honest: plan problems come from checkPlan, not from the schema.
        assert.equal(LabConfigSchema.safeParse({ haproxy: { plainPort: 443 } }).success, true);
        assert.equal(LabConfigSchema.safeParse({ haproxy: { maxconn: 100 } }).success, true);
    });

    test("HAProxy timeouts stop at what HAProxy's timers hold: 2^31-1 ms (~24.8 days)", () => {
        const max = 2 ** 31 - 1;
        const long = { clientMs: max, serverMs: max, connectMs: max, queueMs: max };
        assert.doesNotThrow(() => parseLabConfig({ haproxy: { timeouts: long } }));
        for (const key of ["clientMs", "serverMs", "connectMs", "queueMs"]) {
            const err = refusal({ haproxy: { timeouts: { ...long, [key]: max + 1 } } });
            const problem = problemFor(err, `c2m:haproxy.timeouts.${key}`);
            assert.ok(problem.includes(String(max)), problem);
        }
    });
});
