// The seed's milestone runs as attack presets: each holds, per client host, the connections
// its documentation says (the sizing model's Little's law), and on the seed's 20 clients they
// add up to what the seed reported. The tier stacks attack TLS with the milestone that held 2.1M.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PRESETS } from "../../components/config.ts";
import { PRESET_HOLDS, PRESET_SETTINGS, SEED_CLIENTS, type AttackSettings } from "../../components/render/attack.ts";
import { expectedConcurrencyPerClient, meanResponseMs } from "../../components/plan/sizing.ts";
import { PORTS_PER_SOURCE_ADDRESS } from "../../components/plan/capacity.ts";
import { parseLabConfig, readConfigFile } from "../../components/loadConfig.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

const MILESTONES = PRESETS.filter((p) => p.startsWith("seed-"));
const longestResponseMs = (a: AttackSettings) => a.holdMs + (a.sleepMs + 1) * (a.times + 1);
/** Connections the preset holds on the seed's 20 clients, and the sockets HAProxy then has (client + server side). */
const seedTotals = (p: (typeof PRESETS)[number]) => {
    const connections = expectedConcurrencyPerClient(PRESET_SETTINGS[p]) * SEED_CLIENTS;
    return { connections, sockets: 2 * connections, rate: PRESET_SETTINGS[p].rate * SEED_CLIENTS };
};

describe("seed presets", () => {
    test("every preset documents what it holds per client, and the sizing model agrees", () => {
        assert.deepEqual(Object.keys(PRESET_HOLDS).sort(), [...PRESETS].sort());
        for (const p of PRESETS) {
            assert.equal(PRESET_HOLDS[p].perClient, expectedConcurrencyPerClient(PRESET_SETTINGS[p]), p);
            assert.ok(PRESET_HOLDS[p].seed.length > 0, p);
        }
    });

    test("the published final command holds ~1.9k connections on 20 clients: not what the seed held", () => {
        assert.equal(seedTotals("seed").connections, 1900);
    });

    test("each milestone comes as a plain and a TLS preset, the same but for the frontend", () => {
        const bases = [...new Set(MILESTONES.map((p) => p.replace(/-(plain|tls)$/, "")))];
        assert.deepEqual(bases, ["seed-1s", "seed-60s", "seed-20min"]);
        for (const base of bases) {
            const plain = PRESET_SETTINGS[`${base}-plain` as (typeof PRESETS)[number]];
            const tls = PRESET_SETTINGS[`${base}-tls` as (typeof PRESETS)[number]];
            assert.deepEqual(plain.frontends, ["plain"]);
            assert.deepEqual(tls.frontends, ["tls"]);
            assert.deepEqual({ ...plain, frontends: [] }, { ...tls, frontends: [] }, base);
        }
    });

    test("sleep 1 s: the seed's command (-header=sleep:1000 -duration=10m -workers=500 -cpus=32) at the rate its box held, 8k/s in all, ~500 ms responses", () => {
        const s = PRESET_SETTINGS["seed-1s-tls"];
        assert.deepEqual([s.sleepMs, s.times, s.durationS, s.workers, s.cpus], [1000, 0, 600, 500, 32]);
        assert.equal(seedTotals("seed-1s-tls").rate, 8000, "the seed's box topped out at 8k/s with 1 s sleeps, not 20 × 2000/s");
        assert.equal(meanResponseMs(s), 500.5); // "en moyenne … une latence de ≥ 500 ms"
        assert.equal(expectedConcurrencyPerClient(s), Math.ceil(s.rate * 0.5005));
    });

    test("milestone #1: 60 s sleeps at 8k/s in all, ~70 s timeout; 480k sockets, between the seed's 400k and its 700k peaks", () => {
        const s = PRESET_SETTINGS["seed-60s-tls"];
        assert.equal(s.sleepMs, 60_000);
        assert.equal(s.timeoutS, 70);
        const t = seedTotals("seed-60s-tls");
        assert.equal(t.rate, 8000);
        assert.equal(t.connections, 240_020);
        assert.ok(t.sockets >= 400_000 && t.sockets <= 700_000, `${t.sockets}`);
    });

    test("milestone #2: 900/s in all with ~20-minute responses holds the seed's 2.1M sockets (1.05M connections)", () => {
        const s = PRESET_SETTINGS["seed-20min-tls"];
        const t = seedTotals("seed-20min-tls");
        assert.equal(t.rate, 900);
        const meanMin = meanResponseMs(s) / 60_000;
        assert.ok(meanMin > 19 && meanMin < 20.5, `mean response ${meanMin.toFixed(2)} min`);
        assert.equal(expectedConcurrencyPerClient(s), 52_493);
        assert.ok(Math.abs(t.sockets - 2_100_000) / 2_100_000 < 0.01, `${t.sockets} sockets`);
        // Long enough for the longest responses to end: the count is steady before the load stops.
        assert.ok(s.durationS * 1000 >= longestResponseMs(s), "duration covers the longest response");
    });

    test("every milestone: the timeout covers the longest response; one client's connections fit its source addresses", () => {
        for (const p of MILESTONES) {
            const s = PRESET_SETTINGS[p];
            assert.ok(s.timeoutS * 1000 >= longestResponseMs(s), `${p}: timeout ${s.timeoutS} s < ${longestResponseMs(s)} ms`);
            // The seed's clients each had one address; per-client counts stay under one address's ports.
            assert.ok(expectedConcurrencyPerClient(s) < PORTS_PER_SOURCE_ADDRESS, p);
        }
    });

    test("the tier stacks attack TLS with milestone #2, and their plan holds it", () => {
        for (const stack of ["aws-4c30g", "aws-16c30g", "aws-16c64g"]) {
            const raw = readConfigFile(REPO_ROOT, stack);
            const config = parseLabConfig(raw); // schema + plan checks (the attack fits the planned connections)
            assert.equal(config.attack.preset, "seed-20min-tls", stack);
            assert.deepEqual(PRESET_SETTINGS[config.attack.preset].frontends, ["tls"]);
            assert.ok(config.plan.connections >= expectedConcurrencyPerClient(PRESET_SETTINGS[config.attack.preset]) * config.hosts.clients, stack);
        }
    });

    test("every milestone fits a tier's plan (20 clients, 1.05M connections): the plan checks pass", () => {
        const raw = readConfigFile(REPO_ROOT, "aws-16c64g");
        for (const p of MILESTONES) assert.doesNotThrow(() => parseLabConfig({ ...raw, attack: { preset: p } }), p);
    });
});
