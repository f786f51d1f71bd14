// bench:oom's per-connection figures over the ramp (bench/oom.ts): the slope of what the LB host's
// cgroup was charged against the connections held, over the ramp's middle only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isFittedSize } from "../../bench/oom.ts";
import { slopePerConnection, type MemoryPoint } from "../../bench/oomReadings.ts";
import { seededRandom } from "./helpers.ts";

test("the slope recovers the bytes per connection, whatever the idle memory, the noise or the last moments before the kill", () => {
    const rnd = seededRandom(12);
    const perConn = { anon: 18_900, kernel: 7_800 };
    const points: MemoryPoint[] = Array.from({ length: 200 }, (_, i) => {
        const held = i * 50;
        return { held, anon: 5e6 + held * perConn.anon + (rnd() - 0.5) * 4e5, kernel: held * perConn.kernel + (rnd() - 0.5) * 1e5, socket: 0 };
    });
    // At the end the kernel reclaims and kills: readings that no longer follow the line.
    points.push(
        { held: 10_000, anon: 1e6, kernel: 0, socket: 0 },
        { held: 6_000, anon: 0, kernel: 0, socket: 0 },
        { held: 3_000, anon: 0, kernel: 0, socket: 0 },
    );
    const anon = slopePerConnection(points, (p) => p.anon)!;
    const all = slopePerConnection(points, (p) => p.anon + p.kernel + p.socket)!;
    assert.ok(Math.abs(anon - perConn.anon) / perConn.anon < 0.01, `anon ${anon}`);
    assert.ok(Math.abs(all - perConn.anon - perConn.kernel) / (perConn.anon + perConn.kernel) < 0.01, `all ${all}`);
});

test("too few readings in the ramp's middle give no slope, not a number", () => {
    assert.equal(
        slopePerConnection([], (p) => p.anon),
        null,
    );
    assert.equal(
        slopePerConnection(
            [
                { held: 0, anon: 0, kernel: 0, socket: 0 },
                { held: 100, anon: 1, kernel: 0, socket: 0 },
            ],
            (p) => p.anon,
        ),
        null,
    );
});

test("the sizes the memory costs were fitted on are named, and a run at one of them says it checks nothing", () => {
    assert.equal(isFittedSize("plain", 256), true);
    assert.equal(isFittedSize("tls", 512), true);
    assert.equal(isFittedSize("plain", 384), false);
    assert.equal(isFittedSize("tls", 768), false);
});
