// One knee search through a real HAProxy on a local lab: `lab tipping` ramps from a fixed 10/s
// (nothing of the capacity goes into the search), bisects and stops on a pong of known capacity
// (1 server × maxConcurrent 8 / 200 ms = 40/s) in at most 6 short steps, every step a real
// attack whose clients' own sending is recorded; the knee lands within ±25 % of that capacity, is
// attributed (a bound, every step's client sends), is written as tipping.json/tipping.txt/
// tipping.html, and `lab down` leaves nothing. Stack tip13 on 198.18.121.0/24; runs go to a
// temporary directory. Needs root.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { stackConfigFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { teardownStack } from "../../scripts/lib/pulumiStack.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { BOUNDS, TippingRecordSchema } from "../../components/records/tippingRecord.ts";
import { runLab } from "../unit/helpers.ts";

const STACK = "tip13";
const MINUTE = 60_000;
/** What pong can serve: 1 server × 8 requests at once × 1000 / 200 ms. */
const CAPACITY = 40;
/** The search's first rate: fixed, not derived from CAPACITY (a start from the answer lines the doubling grid up with it). */
const START = 10;
const stackFile = stackConfigFile(STACK); // generated: in the cache, never the checkout
const runsDir = mkdtempSync(join(tmpdir(), "c2m-tipping-runs-"));

before(async () => {
    await teardownStack(STACK);
    const config = {
        "c2m:local": { subnet: "198.18.121.0/24" },
        // The smallest lab a knee search needs: no metrics host (its clients' sending attributes a client-bound knee without one).
        "c2m:hosts": { haproxy: 1, backends: 1, clients: 1, metrics: 0 },
        "c2m:backend": { serversPerHost: 1, maxConcurrent: 8, serviceTimeMs: 200 },
        "c2m:attack": { preset: "smoke", frontends: ["plain"] },
    };
    writeGeneratedStack(STACK, `# tipping e2e stack\n${YAML.stringify({ config })}`);
});

after(async () => {
    const left = await teardownStack(STACK, stackFile);
    rmSync(runsDir, { recursive: true, force: true });
    assert.equal(residueCount(left), 0, describeResidue(left));
});

test("a knee search through HAProxy converges near the backend's capacity, attributes it, and the lab tears down", { timeout: 8 * MINUTE }, async (t) => {
    let t0 = Date.now();
    const up = await runLab(["up", "--stack", STACK], { runsDir, timeoutMs: 4 * MINUTE });
    assert.equal(up.code, 0, up.out);
    t.diagnostic(`lab up: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Doubling from 10/s: 10, 20, 40, 80; then bisections to ±25 % (a bracket within 1.5625×): 5-6 steps of 2 s.
    t0 = Date.now();
    const r = await runLab(["tipping", "--stack", STACK, "--start", String(START), "--duration", "2", "--tolerance", "0.25", "--max-steps", "6"], {
        runsDir,
        timeoutMs: 5 * MINUTE,
    });
    t.diagnostic(
        `lab tipping: ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.out
            .split("\n")
            .filter((l) => /^(tipping|  →|step|knee|limited)/.test(l))
            .join("\n")}`,
    );
    assert.equal(r.code, 0, r.out);
    const dir = /^→ (\S+)$/m.exec(r.out)?.[1];
    assert.ok(dir && existsSync(join(dir, "tipping.json")), r.out);
    const k = TippingRecordSchema.parse(JSON.parse(readFileSync(join(dir, "tipping.json"), "utf8")));
    const table = readFileSync(join(dir, "tipping.txt"), "utf8");
    assert.ok(k.knee !== undefined, `no knee: ${k.stopReason}\n${table}`);
    assert.ok(k.converged, `${k.stopReason}\n${table}`);
    assert.ok(k.steps.length <= 6, table);
    // The knee within ±25 % of the capacity: a lab that tipped at 20/s (its clients, HAProxy) or not
    // before 80/s fails this, whatever the grid (it brackets the knee to ±25 %: (20, 28], (28, 40],
    // (40, 57] are the brackets a 40/s knee can give).
    assert.ok(Math.abs(k.knee! - CAPACITY) / CAPACITY <= 0.25, `knee ${k.knee} vs capacity ${CAPACITY}:\n${table}`);
    assert.ok(k.lastGood! < k.firstBad!, table);
    // Every step recorded its client's own sending, and the knee is attributed.
    for (const s of k.steps) {
        assert.equal(s.send?.length, 1, `step ${s.step}: ${JSON.stringify(s.send)}`);
        assert.equal(s.send![0].host, "client-0");
        assert.ok(s.send![0].sent > 0 && s.send![0].planned > 0);
    }
    assert.ok(k.attribution && BOUNDS.includes(k.attribution.bound), JSON.stringify(k.attribution));
    assert.match(r.out, /limited by: /);
    assert.ok(existsSync(join(dir, "tipping.html")), "the tipping page is built");
    assert.match(table, /send lag p99 ms/);
});
