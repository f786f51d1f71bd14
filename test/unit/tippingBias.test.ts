// bench/tippingBias: the retry rule's effect on the knee, measured on the queue model. Without
// noise both rules give the same knee; with a capacity that wanders from try to try, one good try
// of two makes steps above the knee good, and the knee can only rise on average.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBias, measureBias } from "../../bench/tippingBias.ts";
import { queueModel, seededCapacities } from "../../scripts/analysis/tippingModel.ts";

test("no noise: the retry rule changes no knee", async () => {
    const [row] = await measureBias({ capacities: 40, seed: 3, lo: 20, hi: 2000 }, [{ capacity: 0, p99: 0 }]);
    assert.equal(row.retry_bias_mean_pct, 0);
    assert.equal(row.retry_bias_max_pct, 0);
    assert.equal(row.one_try.missing + row.confirmed.missing, 0);
});

test("a capacity wandering ±10 % a try: the confirmed rule's knees sit higher than one try's, by a measured amount", async () => {
    const [row] = await measureBias({ capacities: 100, seed: 1, lo: 20, hi: 2000 }, [{ capacity: 0.1, p99: 0.1 }]);
    assert.ok(row.retry_bias_mean_pct > 1, `mean bias ${row.retry_bias_mean_pct}`);
    assert.ok(row.confirmed.meanPct > row.one_try.meanPct);
    assert.ok(row.confirmed.meanTries > row.one_try.meanTries);
    assert.match(formatBias([row]), /^\| ±10 % \| /m);
});

test("the model's noise depends on the seed, the rate and the try only", async () => {
    const a = queueModel(100, 200, { capacity: 0.2, p99: 0.1 }, 5);
    const b = queueModel(100, 200, { capacity: 0.2, p99: 0.1 }, 5);
    await a(40, { try: 1 });
    assert.deepEqual(await a(110, { try: 2 }), await b(110, { try: 2 }));
    assert.notDeepEqual(await a(110, { try: 1 }), await a(110, { try: 2 }));
    const caps = seededCapacities(100, 20, 2000, 1);
    assert.ok(Math.min(...caps) >= 20 && Math.max(...caps) <= 2000 && new Set(caps).size > 90);
});
