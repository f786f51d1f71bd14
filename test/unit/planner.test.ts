import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    clientsNeeded,
    formatPlan,
    lbHeadroom,
    planTier,
    problemText,
    SEED_KIB_PER_ESTABLISHED_SOCKET,
    sourceIpsNeeded,
    TIGHT_HEADROOM,
    usableMemoryGiB,
} from "../../components/plan/planner.ts";
import { FD_OVERHEAD, PORTS_PER_SOURCE_ADDRESS } from "../../components/plan/capacity.ts";
import { HAPROXY_PROCESS_BASE_MIB, lbConnectionsInMemory, PER_CONNECTION_COSTS, roleKBPerConnection } from "../../components/plan/costs.ts";
import { fleetUsdPerHour, INSTANCE_TYPES, PRICES_AS_OF } from "../../components/plan/prices.ts";
import { IMPOSSIBLE_EXIT_CODE, plan, planStack, readTierConfig, SEED_TIERS, seedTierHeadroom } from "../../scripts/lib/tierPlan.ts";
import { refuseImpossible, servableLimit } from "../../components/plan/planner.ts";
import { seedTierPlannerInput } from "./helpers.ts";

const GIB_KB = 1024 * 1024;
const round1 = (n: number) => Math.round(n * 10) / 10;
/** GiB the LB needs for `conns` connections at the cost table's price (2 kernel sockets + HAProxy's own). */
const lbNeedGiB = (conns: number, tlsShare = 1) => (conns * roleKBPerConnection("haproxy", tlsShare)) / GIB_KB;

const base = seedTierPlannerInput;

describe("planner", () => {
    test("LB memory follows the per-connection costs: 2 kernel sockets + HAProxy TLS", () => {
        const p = planTier(base());
        const c = PER_CONNECTION_COSTS;
        const expected = (1_050_000 * (2 * c.kernelPerSocketKB + c.haproxyTlsKB)) / 1024 / 1024;
        assert.equal(p.lb_memory_gb, Math.round(expected * 10) / 10);
        assert.equal(p.established_sockets, 2_100_000);
        assert.equal(p.lb_nofile, 2 * 1_050_000 + FD_OVERHEAD);
    });
    test("plain connections cost less than TLS ones", () => {
        assert.ok(planTier(base({ tlsShare: 0 })).lb_memory_gb < planTier(base({ tlsShare: 1 })).lb_memory_gb);
    });
    test("the seed's OOM: 30 GB does not hold 2.1M sockets at the seed's observed cost, 64 GB does", () => {
        assert.ok(SEED_KIB_PER_ESTABLISHED_SOCKET > 20 && SEED_KIB_PER_ESTABLISHED_SOCKET < 22);
        const small = planTier(base({ instanceTypes: { ...base().instanceTypes, haproxy: "c6i.4xlarge" } }));
        assert.ok(
            small.warnings.some((w) => /seed's observed/.test(w)),
            small.warnings.join("\n"),
        );
        const big = planTier(base());
        assert.ok(!big.warnings.some((w) => /seed's observed/.test(w)));
        // 1.3M sockets (the seed's crash) at the seed's rate is ~26 GiB: the edge of a 30 GB box.
        assert.ok(Math.abs((1_300_000 * SEED_KIB_PER_ESTABLISHED_SOCKET) / 1024 / 1024 - 26.2) < 0.5);
    });
    test("a target the box cannot hold does not fit and says why", () => {
        const p = planTier(base({ conns: 2_000_000, instanceTypes: { ...base().instanceTypes, haproxy: "r6i.xlarge" } }));
        assert.equal(p.fits, false);
        assert.equal(p.problems[0].kind, "memory");
        // 32 GiB nominal leaves ~30.5 GiB usable: 3 % kept by the kernel, 0.5 GiB by the OS (was "leaves 30 GiB": nominal − a flat 2 GiB).
        assert.match(
            problemText(p.problems[0]),
            /^haproxy: 2000000 connections .* need ~\d+(\.\d)? GiB, r6i\.xlarge leaves ~30\.5 GiB usable \(32 GiB nominal − 3 % kernel − 0\.5 GiB OS\)/,
        );
    });
    test("2.1M established sockets need far fewer than 20 clients when each has several IPs", () => {
        assert.equal(clientsNeeded(1_050_000, 1, 51.5, 64), Math.ceil(1_050_000 / PORTS_PER_SOURCE_ADDRESS)); // 17: the seed's ~20
        const p = planTier(base({ sourceIpsPerClient: 8 }));
        assert.ok(p.clients_needed <= 3, `needed ${p.clients_needed}`);
        assert.ok(p.usd_per_hour_with_clients_needed < p.usd_per_hour / 2);
    });
    test("too many connections per source address is a problem", () => {
        const p = planTier(base({ clients: 2, sourceIpsPerClient: 1 }));
        assert.ok(p.problems.some((x) => x.kind === "ports" && /above the 64512 ports/.test(x.message)));
        assert.equal(sourceIpsNeeded(525_000), 9);
    });
    test("budget cap refusal names the key", () => {
        const p = planTier(base({ budgetUsdPerHour: 1 }));
        const budget = p.problems.filter((x) => x.kind === "budget");
        assert.deepEqual(
            budget.map((x) => x.key),
            ["c2m:aws.budgetUsdPerHour"],
        );
        assert.match(formatPlan(p), /^  DOES NOT FIT: c2m:aws\.budgetUsdPerHour: the fleet costs ~\$[\d.]+\/h, above the cap of \$1\/h$/m);
    });
    test("bad targets are refused", () => {
        assert.throws(() => planTier(base({ conns: 0 })), /--conns/);
        assert.throws(() => planTier(base({ tlsShare: 2 })), /--tls-share/);
        assert.throws(() => planTier(base({ instanceTypes: { ...base().instanceTypes, client: "zz.top" } })), /c2m:aws\.instanceTypes\.client/);
    });
    test("memory is judged against usable memory (nominal − 3 % kernel − 0.5 GiB OS); a fit with < 10 % to spare is called tight, with its headroom", () => {
        // TLS connections filling 93 % of a 32 GiB box's usable memory (32 × 0.97 − 0.5 = 30.54 GiB): a fit, tight.
        const usable = usableMemoryGiB(32);
        const conns = Math.floor((0.93 * usable * GIB_KB) / roleKBPerConnection("haproxy", 1));
        const small = planTier(base({ conns, instanceTypes: { ...base().instanceTypes, haproxy: "r6i.xlarge" } }));
        const need = lbNeedGiB(conns);
        assert.equal(small.lb_memory_gb, round1(need));
        assert.equal(small.lb_usable_gb, 30.5);
        assert.equal(small.lb_headroom_gb, round1(usable - need));
        assert.ok(small.fits);
        assert.deepEqual(small.tight, ["haproxy"]);
        const warning = small.warnings.find((w) => w.startsWith("haproxy: tight:"));
        assert.ok(warning, small.warnings.join("\n"));
        const esc = (n: number) => String(round1(n)).replace(".", "\\.");
        assert.match(warning, new RegExp(`~${esc(need)} GiB of ~30\\.5 GiB usable on r6i\\.xlarge .*~${esc(usable - need)} GiB \\(7 %\\) to spare`));
        // At Karpenter's 7.5 % (32 × 0.925 − 0.5 = 29.1 GiB) 93 % of 30.54 still fits: the warning says that too.
        assert.match(warning, /still fits if the kernel keeps 7\.5 % .*~29\.1 GiB usable/);
        assert.match(formatPlan(small), /^  fits, tight on haproxy \(see the warning\)$/m);
        const big = planTier(base());
        assert.equal(big.lb_usable_gb, 61.6);
        assert.deepEqual(big.tight, []);
        assert.match(formatPlan(big), /^  fits$/m);
    });
    test("headroom: connections that fit (the function bench:oom checks), the target, % to spare, the dominant term", () => {
        const usable = usableMemoryGiB(32);
        const c = PER_CONNECTION_COSTS;
        const tls = lbHeadroom(1_050_000, 1, usable);
        assert.equal(tls.conns_that_fit, lbConnectionsInMemory(usable * 2 ** 30, 1, 1));
        assert.equal(tls.target, 1_050_000);
        assert.equal(tls.headroom_pct, round1((100 * (usable - lbNeedGiB(1_050_000) - HAPROXY_PROCESS_BASE_MIB / 1024)) / usable));
        assert.deepEqual(tls.terms, {
            kernel_sockets_kb: round1(2 * c.kernelPerSocketKB),
            haproxy_kb: round1(roleKBPerConnection("haproxy", 1) - 2 * c.kernelPerSocketKB),
        });
        assert.equal(tls.per_conn_kb, round1(roleKBPerConnection("haproxy", 1)));
        // Whichever term is larger is named: HAProxy's TLS state, or the kernel's two sockets for plain connections.
        assert.match(tls.dominant, c.haproxyTlsKB > 2 * c.kernelPerSocketKB ? /^HAProxy's own TLS state/ : /^the kernel's 2 sockets/);
        assert.match(
            lbHeadroom(1000, 0, usable).dominant,
            c.haproxyPlainKB > 2 * c.kernelPerSocketKB ? /^HAProxy's own plain state/ : /^the kernel's 2 sockets/,
        );
        // A target past what fits has negative headroom and is a memory problem in the plan.
        const over = tls.conns_that_fit + 10_000;
        assert.ok(lbHeadroom(over, 1, usable).headroom_pct < 0);
        const p = planTier(base({ conns: over, instanceTypes: { ...base().instanceTypes, haproxy: "r6i.xlarge" } }));
        assert.equal(p.fits, false);
        assert.deepEqual(p.lb_headroom, lbHeadroom(over, 1, usableMemoryGiB(32)));
        assert.match(
            formatPlan(p),
            new RegExp(
                `^  headroom: the LB holds ~${tls.conns_that_fit} connections, target ${over}: -[\\d.]+ % of usable memory to spare; .* dominated by `,
                "m",
            ),
        );
    });
    test("vCPU quota: every host's vCPUs against On-Demand Standard L-1216C47A, stated with what new accounts get", () => {
        const p = planTier(base());
        assert.equal(p.vcpu_quota.code, "L-1216C47A");
        assert.equal(p.vcpu_quota.vcpus_needed, 16 + 8 * 8 + 20 * 32); // 720
        assert.match(p.vcpu_quota.name, /^Running On-Demand Standard \(A, C, D, H, I, M, R, T, Z\) instances$/);
        assert.match(
            formatPlan(p),
            /vCPU quota: 720 vCPUs of "Running On-Demand Standard \(A, C, D, H, I, M, R, T, Z\) instances" \(L-1216C47A, per region; new accounts: 5–32\)/,
        );
        assert.ok(
            p.warnings.some((w) => /vCPU quota: the lab runs 720 vCPUs .* starts at 5–32 on new accounts/.test(w)),
            p.warnings.join("\n"),
        );
        // A lab within what any new account has is not warned about.
        const tiny = planTier(
            base({ conns: 1000, clients: 1, backends: 1, instanceTypes: { haproxy: "c6i.large", backend: "c6i.large", client: "c6i.large" } }),
        );
        assert.equal(tiny.vcpu_quota.vcpus_needed, 6);
        assert.ok(!tiny.warnings.some((w) => /vCPU quota/.test(w)));
    });
    test("every host is priced and counted, the metrics host too", () => {
        const without = planTier(base());
        const withMetrics = planTier(base({ metricsHosts: 1, instanceTypes: { ...base().instanceTypes, metrics: "c6i.large" } }));
        const metricsLine = fleetUsdPerHour([{ role: "metrics", instanceType: "c6i.large", count: 1 }], 16);
        assert.ok(
            Math.abs(withMetrics.usd_per_hour - without.usd_per_hour - metricsLine) < 0.002,
            `${withMetrics.usd_per_hour} vs ${without.usd_per_hour} + ${metricsLine}`,
        );
        assert.equal(withMetrics.vcpu_quota.vcpus_needed, without.vcpu_quota.vcpus_needed + 2);
        assert.equal(withMetrics.roles.metrics?.instance_type, "c6i.large");
        assert.match(formatPlan(withMetrics), /^  metrics +1 × c6i\.large/m);
    });
    test("prices: dated table, a fleet's cost adds instances, IPv4 and volumes", () => {
        assert.match(PRICES_AS_OF, /^\d{4}-\d{2}-\d{2}$/);
        for (const [name, t] of Object.entries(INSTANCE_TYPES)) assert.ok(t.usdPerHour > 0 && t.vcpu > 0 && t.ipv4PerInterface > 1, name);
        const one = fleetUsdPerHour([{ role: "client", instanceType: "c6i.8xlarge", count: 1 }], 0);
        assert.equal(one, 1.365);
    });
});

describe("the three seed tiers (stack files)", () => {
    const expected: Record<string, { haproxy: string; vcpu: number; memory: number }> = {
        "aws-4c30g": { haproxy: "r6i.xlarge", vcpu: 4, memory: 32 },
        "aws-16c30g": { haproxy: "c6i.4xlarge", vcpu: 16, memory: 32 },
        "aws-16c64g": { haproxy: "m6i.4xlarge", vcpu: 16, memory: 64 },
    };
    for (const [stack, e] of Object.entries(expected)) {
        test(`${stack}: ${e.haproxy}, 20 clients × 32 vCPU with several IPs, 8 × 10 pong servers, fits 2.1M sockets within budget`, () => {
            const cfg = readTierConfig(stack);
            assert.equal(cfg.platform, "aws");
            assert.equal(cfg.aws.instanceTypes.haproxy, e.haproxy);
            // The metrics host by default on AWS tiers (the seed's graphs and request log).
            assert.deepEqual(cfg.hosts, { haproxy: 1, backends: 8, clients: 20, metrics: 1 });
            assert.equal(cfg.backend.serversPerHost, 10);
            assert.equal(cfg.backend.basePort, 8282);
            const p = planStack(stack, cfg);
            assert.equal(p.established_sockets, 2_100_000);
            assert.equal(p.roles.haproxy.vcpu, e.vcpu);
            assert.equal(p.roles.haproxy.memory_gib, e.memory);
            assert.equal(p.roles.client.vcpu, 32);
            assert.ok(p.source_ips_per_client > 1);
            assert.ok(p.clients_needed < 20);
            assert.ok(p.fits, p.problems.map(problemText).join("\n"));
            // Tight when 1.05M TLS connections at the cost table's price leave under 10 % of the box's usable memory.
            const usable = usableMemoryGiB(e.memory);
            assert.deepEqual(p.tight, usable - lbNeedGiB(1_050_000) < TIGHT_HEADROOM * usable ? ["haproxy"] : []);
            assert.ok(p.usd_per_hour <= cfg.aws.budgetUsdPerHour);
            assert.equal(p.vcpu_quota.vcpus_needed, e.vcpu + 8 * 8 + 20 * 32 + 2); // + the metrics host's c6i.large
        });
    }
});

test("lab plan states every seed tier's headroom from the same model", () => {
    const text = seedTierHeadroom().split("\n");
    assert.equal(text.length, 1 + SEED_TIERS.length);
    for (const [i, stack] of SEED_TIERS.entries()) {
        const h = planStack(stack, readTierConfig(stack)).lb_headroom;
        assert.ok(
            text[i + 1].includes(stack) &&
                text[i + 1].includes(`holds ~${h.conns_that_fit}, target ${h.target}`) &&
                text[i + 1].includes(`${h.headroom_pct} % to spare; ${h.dominant}`),
            text[i + 1],
        );
    }
    assert.match(seedTierHeadroom({ conns: 650_000, tlsShare: 1 }), /^seed tiers, same model at 650000 connections:\n.*target 650000 \(100 % TLS\)/);
});

test("a memory cgroup's limit counts the kernel's charged share per socket; connections in flight take their own memory", () => {
    const c = PER_CONNECTION_COSTS;
    const M = 256 * 2 ** 20;
    assert.ok(c.kernelChargedPerSocketKB < c.kernelPerSocketKB, "a cgroup is charged part of a socket's kernel memory");
    // By hand from the costs costs.ts cites (kernel 5.0 KB a socket on a box, 3.9 charged to a cgroup;
    // HAProxy 5.3 plain, 18.5 TLS; in flight 1.5 plain, 34 TLS; 9.5 MiB a process): 256 MiB less 3
    // processes' 28.5 MiB leaves 232,960 KB.
    //   cgroup plain: 232,960 / (2 × 3.9 + 5.3 = 13.1)  = 17,783.2      box plain: 232,960 / (2 × 5.0 + 5.3 = 15.3) = 15,226.1
    //   cgroup TLS:   232,960 / (2 × 3.9 + 18.5 = 26.3) =  8,857.8      box TLS:   232,960 / (2 × 5.0 + 18.5 = 28.5) = 8,174.0
    //   500 in flight (cgroup): plain (232,960 − 500 × (3.9 + 1.5)) / 13.1 = 17,577.1; TLS (232,960 − 500 × (3.9 + 34)) / 26.3 = 8,137.3
    const cases: [string, number, { scope?: "cgroup" | "machine"; inFlight?: number }, number][] = [
        ["cgroup, plain", 0, { scope: "cgroup" }, 17_783],
        ["cgroup, TLS", 1, { scope: "cgroup" }, 8_857],
        ["a whole box, plain", 0, {}, 15_226],
        ["a whole box, TLS", 1, {}, 8_174],
        ["cgroup, plain, 500 in flight", 0, { scope: "cgroup", inFlight: 500 }, 17_577],
        ["cgroup, TLS, 500 in flight", 1, { scope: "cgroup", inFlight: 500 }, 8_137],
    ];
    for (const [what, tls, o, expected] of cases) assert.equal(lbConnectionsInMemory(M, tls, 3, c, o), expected, what);
    assert.equal(roleKBPerConnection("haproxy", 1, c, "cgroup"), 2 * c.kernelChargedPerSocketKB + c.haproxyTlsKB);
    assert.equal(lbConnectionsInMemory(2 ** 20, 1, 3), 0, "less memory than the processes themselves: none");
});

describe("a target no supported tier could serve", () => {
    // By hand: the largest memory in prices.ts is m6i.8xlarge's 128 GiB; usable 128 × 0.97 − 0.5 = 123.66 GiB
    // = 129,666,908 KB, less one process's 9.5 MiB (9,728 KB): 129,657,180 KB, over 2 × 5.0 + 5.3 = 15.3 KB
    // plain → 8,474,325; over 2 × 5.0 + 18.5 = 28.5 KB TLS → 4,549,374.
    test("the limit is the largest LB the planner knows, at the measured costs", () => {
        assert.deepEqual(servableLimit(0), { conns: 8_474_325, instanceType: "m6i.8xlarge", memoryGiB: 128, usableGiB: 123.7 });
        assert.equal(servableLimit(1).conns, 4_549_374);
        assert.equal(refuseImpossible(8_474_325, 0), undefined);
        assert.match(
            refuseImpossible(8_474_326, 0)!,
            /^--conns 8474326: beyond what any supported load balancer holds: the largest the planner knows, m6i\.8xlarge \(128 GiB, ~123\.7 usable\), fits at most 8474325 connections at 0 % TLS/,
        );
    });

    test("lab plan: one line naming the limit, a non-zero exit, nothing else printed", (t) => {
        const out: string[] = [];
        const err: string[] = [];
        t.mock.method(console, "log", (...a: unknown[]) => {
            out.push(a.join(" "));
        });
        t.mock.method(process.stderr, "write", (x: string) => {
            err.push(String(x));
            return true;
        });
        const code = plan("aws-16c64g", { conns: 2_000_000_000 });
        t.mock.restoreAll();
        assert.equal(code, IMPOSSIBLE_EXIT_CODE);
        assert.notEqual(code, 0);
        assert.deepEqual(out, []);
        assert.equal(err.length, 1);
        assert.equal(err[0].split("\n").filter(Boolean).length, 1);
        assert.match(err[0], /^lab plan: --conns 2000000000: beyond what any supported load balancer holds: .* fits at most 4549374 connections at 100 % TLS/);
        assert.ok(err[0].length < 300, `${err[0].length} characters`);
    });
});
