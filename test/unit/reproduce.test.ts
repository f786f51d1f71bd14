// lab reproduce's mappings and the planner's handshake queue: tier → limits at 1/N, the generated
// stack's settings, the ramp model (when a ramp kills an LB with memory enough for the target held),
// a local stack planned against its own limits, and the verdict on each seed claim.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { loadConfig, parseLabConfig, readConfigFile } from "../../components/loadConfig.ts";
import { fastestSurvivingRamp, handshakesPerSecond, planRamp, type RampInput, slowestSurvivingHandshakeRate } from "../../components/plan/handshakeQueue.ts";
import { planLocalTier } from "../../components/plan/localTier.ts";
import { MAXCONN_HEADROOM, planCapacity } from "../../components/plan/capacity.ts";
import { parseScale, SEED_TIERS, scaleTier, seedClaimVerdict, tierOfStack } from "../../components/plan/seedTiers.ts";
import { checkTiers, reproduceJsonLine, reproduceSubnet, scaledLocalSettings, TIER_JSON_FIELDS, tierResult } from "../../scripts/lib/reproduceRun.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const machine = { machineCpus: 2, minMemoryMiB: 19 };
/** A stack file's text → its lab config (the c2m: prefix off, as readConfigFile does). */
const labConfigOf = (text: string) => parseLabConfig(Object.fromEntries(Object.entries(YAML.parse(text).config).map(([k, v]) => [k.replace(/^c2m:/, ""), v])));

describe("scale → limits (scaleTier)", () => {
    test("memory, CPU, connections and ramp divided by the same N", () => {
        for (const n of [1, 16, 64]) {
            for (const [tier, t] of Object.entries(SEED_TIERS)) {
                if (t.cores / n > 2) continue; // more CPU than this machine: refused (next test)
                const s = scaleTier(tier as keyof typeof SEED_TIERS, n, 2, machine);
                assert.equal(s.memoryMiB, Math.round((t.memoryGB * 1024) / n));
                assert.equal(s.cpuQuota, t.cores / n);
                assert.equal(s.connections, Math.round(1_050_000 / n));
                const sent = s.ratePerClient * 2 * s.durationS;
                assert.ok(
                    sent <= s.connections && sent > s.connections - s.ratePerClient * 2 * 1.01,
                    `the ramp sends the target within a second's worth (${sent} of ${s.connections})`,
                );
            }
        }
    });
    test("a scale this machine cannot give refuses naming the number", () => {
        assert.throws(() => scaleTier("16c64g", 4, 2, machine), /16 cores become 4 CPUs, more than this machine's 2/);
        assert.throws(() => scaleTier("4c30g", 1000, 2, machine), /0\.0040 CPU, under the least quota/);
        assert.throws(() => scaleTier("4c30g", 2000, 2, { machineCpus: 2, minMemoryMiB: 19 }), /under the least quota|MiB/);
    });
    test("parseScale", () => {
        assert.equal(parseScale("1/16"), 16);
        assert.equal(parseScale("16"), 16);
        for (const bad of ["1/0", "2/16", "x", "1/1.5"]) assert.throws(() => parseScale(bad), new RegExp(bad.replace("/", "\\/")));
    });
    test("1/16 of each seed tier is the committed local tier file", () => {
        for (const stack of ["local-4c30g", "local-16c30g", "local-16c64g"]) {
            const { config } = loadConfig(stack, readConfigFile(ROOT, stack), { machineLimits: false });
            const s = scaleTier(tierOfStack(stack)!, 16, config.hosts.clients, machine);
            assert.equal(config.local.hostLimits?.haproxy?.memoryMiB, s.memoryMiB, stack);
            assert.equal(config.local.hostLimits?.haproxy?.cpuQuota, s.cpuQuota, stack);
            assert.equal(config.plan.connections, s.connections, stack);
            assert.equal(config.attack.rate, s.ratePerClient, stack);
        }
    });
});

describe("the generated stack's settings (scaledLocalSettings)", () => {
    const committed = readFileSync(join(ROOT, "Pulumi.local-16c30g.yaml"), "utf8");
    test("rescaled values, its own subnet, and a valid lab config", () => {
        const s = scaleTier("16c30g", 64, 2, machine);
        const text = scaledLocalSettings(committed, "16c30g", s, { subnet: "198.18.102.0/24", holdS: 7, machineCpus: 2 });
        const config = labConfigOf(text);
        assert.equal(config.local.subnet, "198.18.102.0/24");
        assert.equal(config.local.hostLimits?.haproxy?.memoryMiB, 480);
        assert.equal(config.local.hostLimits?.haproxy?.cpuQuota, 0.25);
        assert.equal(config.plan.connections, s.connections);
        assert.equal(config.haproxy.maxconn, undefined, "maxconn left to the plan's headroom over the target");
        assert.equal(planCapacity(config).haproxy.maxconnTotal, Math.ceil(s.connections * MAXCONN_HEADROOM));
        assert.equal(config.attack.holdMs, 7000);
        assert.ok(config.attack.timeoutS! > s.durationS + 7, "vegeta waits past the ramp and the hold");
        assert.equal(readFileSync(join(ROOT, "Pulumi.local-16c30g.yaml"), "utf8"), committed, "the committed file is untouched");
    });
    test("every default tier at 1/16 passes lab up's checks, and is its committed file but for stack-specific keys", () => {
        for (const stack of ["local-4c30g", "local-16c30g", "local-16c64g"]) {
            const text = readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
            const s = scaleTier(tierOfStack(stack)!, 16, 2, machine);
            const generated = labConfigOf(scaledLocalSettings(text, tierOfStack(stack)!, s, { subnet: "198.18.101.0/24", holdS: 300, machineCpus: 2 }));
            const mine = labConfigOf(text);
            assert.deepEqual({ ...generated.attack, timeoutS: 0 }, { ...mine.attack, timeoutS: 0 }, stack);
            assert.deepEqual(generated.local.hostLimits, mine.local.hostLimits, stack);
            assert.deepEqual(generated.plan, mine.plan, stack);
        }
    });
    test("a quota larger than the tier file's CPU set widens the set", () => {
        const s = scaleTier("16c64g", 8, 2, machine);
        const text = scaledLocalSettings(readFileSync(join(ROOT, "Pulumi.local-4c30g.yaml"), "utf8"), "16c64g", s, {
            subnet: "198.18.103.0/24",
            holdS: 1,
            machineCpus: 2,
        });
        assert.equal(labConfigOf(text).local.hostLimits?.haproxy?.cpus, "0-1");
    });
    test("each tier's generated stack has its own /24, whichever tiers a run names", () => {
        const subnets = Object.keys(SEED_TIERS).map((t) => reproduceSubnet(t as keyof typeof SEED_TIERS));
        assert.equal(new Set(subnets).size, subnets.length);
        // A one-tier run of 16c64g beside a three-tier run's first tier (4c30g) shared 198.18.101.0/24 when the subnet went by position.
        assert.notEqual(reproduceSubnet("16c64g"), reproduceSubnet("4c30g"));
        for (const s of subnets) assert.match(s, /^198\.18\.\d+\.0\/24$/);
    });
    test("bad tiers are refused before anything", () => {
        assert.throws(() => checkTiers({ tiers: ["local-3c1g"], scale: 16, holdS: 1 }), /local-3c1g: not a seed tier/);
        assert.throws(() => checkTiers({ tiers: [], scale: 16, holdS: 1 }), /at least one tier/);
        assert.throws(() => checkTiers({ tiers: ["local-4c30g"], scale: 16, holdS: 1, rampS: 0 }), /--ramp 0/);
    });
});

describe("handshake queue (planRamp)", () => {
    const base: RampInput = {
        target: 10_000,
        rampPerS: 100,
        tlsShare: 1,
        lbCpus: 1,
        handshakeShare: 1,
        heldKB: 20,
        waitingKB: 40,
        limitBytes: 1e9,
        baseBytes: 0,
    };
    test("CPU enough for the ramp: nothing waits, the peak is the target held", () => {
        const p = planRamp(base);
        assert.equal(p.waitingAtRampEnd, 0);
        assert.equal(p.peakBytes, 10_000 * 20 * 1024);
    });
    test("too few CPUs: connections wait, worked by hand", () => {
        // 0.02 CPU × 2486/s = 49.72 handshakes/s; ramp 100 s: 4,972 done, 5,028 waiting.
        const p = planRamp({ ...base, lbCpus: 0.02 });
        assert.equal(p.handshakesPerS, 50);
        assert.equal(p.heldAtRampEnd, 4972);
        assert.equal(p.waitingAtRampEnd, 5028);
        assert.equal(Math.round(p.peakBytes / 1024), 4972 * 20 + 5028 * 40);
    });
    test("the queue's memory kills an LB whose memory holds the target", () => {
        const limitBytes = 10_000 * 20 * 1024 * 1.1; // 10 % over the target held
        assert.ok(planRamp({ ...base, limitBytes }).fits);
        const slowCpu = planRamp({ ...base, limitBytes, lbCpus: 0.02 });
        assert.equal(slowCpu.fits, false);
        assert.ok(slowCpu.diesAtAccepted! < 10_000 && slowCpu.diesAtAccepted! > 5000);
    });
    test("fastestSurvivingRamp is the boundary", () => {
        const i = { ...base, limitBytes: 10_000 * 20 * 1024 * 1.1, lbCpus: 0.02 };
        const r = fastestSurvivingRamp(i)!;
        assert.ok(planRamp({ ...i, rampPerS: r }).fits);
        assert.ok(!planRamp({ ...i, rampPerS: r + 1 }).fits);
        assert.equal(fastestSurvivingRamp({ ...i, limitBytes: 1000 }), undefined, "memory too small even for the target held");
    });
    test("slowestSurvivingHandshakeRate is the boundary on the CPU side", () => {
        const i = { ...base, limitBytes: 10_000 * 20 * 1024 * 1.1 };
        const hs = slowestSurvivingHandshakeRate(i)!;
        const at = (rate: number) => planRamp({ ...i, handshakeShare: rate / handshakesPerSecond(i.lbCpus, i.certificate, 1) }).fits;
        assert.ok(at(hs) && !at(hs - 1), `${hs}/s survives, ${hs - 1}/s does not`);
        assert.equal(slowestSurvivingHandshakeRate({ ...i, limitBytes: 1e12 }), 0, "memory enough for everything waiting: any rate survives");
        assert.equal(slowestSurvivingHandshakeRate({ ...i, limitBytes: 1000 }), undefined, "memory too small even for the target held");
    });
    test("plain connections wait for no handshake", () => {
        assert.equal(planRamp({ ...base, lbCpus: 0.01, tlsShare: 0 }).waitingAtRampEnd, 0);
    });
});

describe("a local stack planned against its own limits (planLocalTier)", () => {
    const plan = (stack: string) => {
        const { config, capacity } = loadConfig(stack, readConfigFile(ROOT, stack), { machineLimits: false });
        return planLocalTier(stack, config, {
            processes: capacity.haproxy.processes,
            rampPerS: (config.attack.rate ?? 0) * config.hosts.clients,
            machineCpus: 2,
            machineMemoryBytes: 24 * 2 ** 30,
        });
    };
    test("its cgroup's memory, not an instance type's", () => {
        const p = plan("local-16c30g");
        assert.equal(p.lb_limit_mib, 1920);
        assert.equal(p.lb_cpus, 1);
        assert.equal(p.verdict, "holds");
    });
    test("local-4c30g at the preset's ramp lives at the edge: the rate it needs is within this machine's spread; a faster ramp kills it", () => {
        // 8 HAProxy processes, as on this machine kind (20,000 open files per process): their base
        // memory (8 × 9.5 MiB) is part of what puts the tier at the edge.
        const { config } = loadConfig("local-4c30g", readConfigFile(ROOT, "local-4c30g"), { machineLimits: false });
        const at = (rampPerS: number) => planLocalTier("local-4c30g", config, { processes: 8, rampPerS, machineCpus: 2, machineMemoryBytes: 24 * 2 ** 30 });
        const p = at((config.attack.rate ?? 0) * config.hosts.clients);
        assert.ok(p.conns_that_fit >= p.target, "its memory holds the target once every handshake is done");
        assert.equal(p.at_the_edge, true);
        // The two runs the rate was fitted on: 164/s died (issue 22), 248/s held (the first reproduce round).
        assert.ok(p.slowest_surviving_handshakes_per_s! > 164 && p.slowest_surviving_handshakes_per_s! <= 248, String(p.slowest_surviving_handshakes_per_s));
        assert.equal(at(p.fastest_surviving_ramp_per_s! + 1).verdict, "dies_during_ramp");
        assert.equal(plan("local-16c30g").at_the_edge, false, "a 1-CPU tier is far from it");
    });
});

describe("the verdict on each seed claim", () => {
    const ok = { held: 65_625, target: 65_625, oomKilled: false as const, headroomPct: 5.3, errorsPct: 0, predicted: "holds" as const };
    test("30 GB tier held where the seed died", () => {
        const v = seedClaimVerdict("16c30g", 16, ok);
        assert.match(v, /seed: HAProxy OOM-killed at 1\.3M/);
        assert.match(v, /here held 1\.05M \(65625 at 1\/16\) with 5\.3 % of memory to spare — unlike the seed; planner predicted holds \(right\)/);
    });
    test("an OOM kill the planner predicted", () => {
        const v = seedClaimVerdict("4c30g", 16, { ...ok, held: 20_000, oomKilled: true, predicted: "dies_during_ramp" });
        assert.match(v, /here OOM-killed after holding 320k/);
        assert.match(v, /planner predicted dies during ramp \(right\)/);
    });
    test("a prediction the run refutes is called wrong", () => {
        assert.match(seedClaimVerdict("16c64g", 16, { ...ok, oomKilled: true, held: 100 }), /unlike the seed; planner predicted holds \(WRONG\)/);
    });
    test("a prediction AT THE EDGE is scored neither right nor wrong, and says how the run ended", () => {
        const died = seedClaimVerdict("4c30g", 16, { ...ok, held: 48_334, oomKilled: true, predicted: "holds", atTheEdge: true });
        assert.match(died, /planner predicted holds \(at the edge: it died, neither right nor wrong\)$/);
        assert.match(seedClaimVerdict("4c30g", 16, { ...ok, atTheEdge: true }), /planner predicted holds \(at the edge: it lived, neither right nor wrong\)$/);
        const r = tierResult(
            "local-4c30g",
            "4c30g",
            16,
            65_500,
            { verdict: "holds", atTheEdge: true, heldAtRampEnd: 65_500, rampPerS: 218 },
            undefined,
            "lab up failed",
        );
        assert.equal(r.predicted, "holds (at the edge)");
    });
    test("the JSON line carries the issue's fields for every tier", () => {
        const r = tierResult("local-16c64g", "16c64g", 16, 65_625, { verdict: "holds", heldAtRampEnd: 65_625, rampPerS: 500 }, undefined, "lab up failed");
        const line = JSON.parse(reproduceJsonLine([r]));
        for (const k of TIER_JSON_FIELDS) {
            assert.ok(k in line.tiers[0], k);
        }
        assert.match(line.tiers[0].verdict, /not run \(lab up failed\)/);
    });
});

import { parseSet, recipeSets, sweepCells } from "../../scripts/analysis/sweepMatrix.ts";
import { checkCells } from "../../scripts/lib/sweepRun.ts";

describe("the cores recipe (lab sweep --recipe cores)", () => {
    test("the seed's 3, 6, 8 and 16 cores at the tier's 1/N, plain against TLS, every cell a valid lab", () => {
        const sets = recipeSets("cores", 16).map(parseSet);
        assert.deepEqual(sets[0], { key: "local.hostLimits.haproxy.cpuQuota", values: [3 / 16, 6 / 16, 8 / 16, 1] });
        assert.deepEqual(sets[1].values, [["plain"], ["tls"]]);
        const cells = sweepCells(sets);
        assert.equal(cells.length, 8);
        const config = YAML.parse(readFileSync(join(ROOT, "Pulumi.local-16c64g.yaml"), "utf8")).config;
        assert.deepEqual(checkCells({ cells, keys: sets, attack: {} }, config), []);
    });
    test("an unknown recipe is refused by name", () => {
        assert.throws(() => recipeSets("threads", 16), /--recipe threads: no such recipe \(cores\)/);
    });
});
