// The clients' own latency to send: lags against vegeta's schedule, a client behind its plan
// (short of requests, or late by the size of what the step measured), and send times read back
// from a real vegeta result file.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SEND_LAG_FLOOR_MS, SEND_MIN_SHARE, clientSend, clientSends, lagsMs, readSendTimes, timestampMs } from "../../scripts/analysis/sendLag.ts";
import { labEnv } from "../../scripts/toolchain/toolchain.ts";
import { seededRandom, tempDir } from "./helpers.ts";

const T0 = Date.parse("2026-12-02T15:00:00Z");
/** Send times of a process at `rate`/s for `seconds`, each late by `late(i)` ms. */
const sends = (rate: number, seconds: number, late: (i: number) => number = () => 0, from = T0) =>
    Array.from({ length: Math.round(rate * seconds) }, (_, i) => from + (i * 1000) / rate + late(i));

describe("lag to send", () => {
    test("on schedule: no lag, whatever order the records come in", () => {
        const t = sends(100, 2);
        assert.deepEqual(
            lagsMs({ ratePerSecond: 100, sendMs: [...t].reverse() }).map((x) => Math.round(x * 1000) / 1000),
            t.map(() => 0),
        );
    });

    test("a pause of the client shows as a lag that its burst afterwards pays back", () => {
        // 100/s; requests 50..59 leave together at 0.6 s (a 100 ms stall), then back on time.
        const t = sends(100, 1, (i) => (i >= 50 && i < 60 ? 600 - i * 10 : 0));
        const lags = lagsMs({ ratePerSecond: 100, sendMs: t });
        assert.equal(Math.round(lags[50]), 100);
        assert.equal(Math.round(lags[59]), 10);
        assert.equal(Math.round(lags[60]), 0);
    });

    test("a client on plan is not behind; one short of requests or late is, and says why", () => {
        const onPlan = clientSend("client-0", [{ ratePerSecond: 100, durationS: 10, sendMs: sends(100, 10) }], { stepP99Ms: 5 });
        assert.deepEqual(
            { ...onPlan, behind: onPlan.behind },
            { host: "client-0", planned: 1000, sent: 1000, lagP50Ms: 0, lagP99Ms: 0, lagMaxMs: 0, startLagMs: 0, behind: false },
        );

        const short = clientSend("client-0", [{ ratePerSecond: 100, durationS: 10, sendMs: sends(100, 10 * (SEND_MIN_SHARE - 0.05)) }], { stepP99Ms: 5 });
        assert.equal(short.behind, true);
        assert.match(short.why!, /^sent 90\.0 % of its 1000 planned requests$/);

        // Lagging steadily further behind: 1 ms more per request, 0..~999 ms.
        const late = clientSend("client-0", [{ ratePerSecond: 100, durationS: 10, sendMs: sends(100, 10, (i) => i) }], { stepP99Ms: 5 });
        assert.equal(late.behind, true);
        assert.match(late.why!, /^p99 lag to send 9\d\d\.\d ms > 10\.0 ms$/);
    });

    test("the lag limit is the floor or half the step's p99, whichever is higher", () => {
        const jitter = seededRandom(7);
        const p = { ratePerSecond: 200, durationS: 5, sendMs: sends(200, 5, () => jitter() * 30) }; // up to 30 ms late
        const lowP99 = clientSend("c", [p], { stepP99Ms: 2 });
        assert.equal(lowP99.behind, true, "30 ms late when the step's p99 is 2 ms: the client's delays dominate");
        assert.ok(lowP99.lagP99Ms > SEND_LAG_FLOOR_MS);
        const highP99 = clientSend("c", [p], { stepP99Ms: 200 });
        assert.equal(highP99.behind, false, "30 ms late when the step's p99 is 200 ms: not the client's doing");
    });

    test("per client over its processes; a process that started late counts as a start lag", () => {
        const r = clientSends(
            [
                { client: "client-1", ratePerSecond: 50, durationS: 2, sendMs: sends(50, 2, () => 0, T0 + 250) },
                { client: "client-0", ratePerSecond: 50, durationS: 2, sendMs: sends(50, 2) },
                { client: "client-0", ratePerSecond: 50, durationS: 2, sendMs: sends(50, 2, () => 0, T0 + 5) },
            ],
            100,
        );
        assert.deepEqual(
            r.map((c) => [c.host, c.planned, c.sent, c.startLagMs]),
            [
                ["client-0", 200, 200, 5],
                ["client-1", 100, 100, 250],
            ],
        );
        assert.throws(() => clientSend("client-9", [], { stepP99Ms: 1 }), /client-9: no vegeta process/);
    });

    test("timestamps keep vegeta's sub-millisecond digits", () => {
        // Milliseconds since 1970 as a double keep ~0.25 µs: compare to a microsecond.
        assert.equal(Math.round((timestampMs("2026-12-02T15:00:00.123456789Z") - T0) * 1000), 123_457);
        assert.equal(timestampMs("2026-12-02T15:00:01Z") - T0, 1000);
        assert.equal(timestampMs("2026-12-02T16:00:00.5+01:00") - T0, 500);
    });
});

test("send times read back from a vegeta result file", async (t) => {
    const env = labEnv();
    const dir = tempDir(t);
    const json = join(dir, "results.json");
    const times = sends(100, 0.1).map((ms) => new Date(ms).toISOString().replace("Z", "250Z"));
    writeFileSync(
        json,
        times
            .map((ts, i) =>
                JSON.stringify({
                    attack: "",
                    seq: i,
                    code: 200,
                    timestamp: ts,
                    latency: 1_000_000,
                    bytes_out: 0,
                    bytes_in: 4,
                    error: "",
                    body: null,
                    method: "GET",
                    url: "http://127.0.0.1/",
                    headers: null,
                }),
            )
            .join("\n") + "\n",
    );
    const bin = join(dir, "results.bin");
    const enc = spawnSync("vegeta", ["encode", "-to", "gob", "-output", bin, json], { env, encoding: "utf8" });
    assert.equal(enc.status, 0, enc.stderr);
    const read = await readSendTimes(bin, env);
    // Each request i left at i × 10 ms + 250 µs (digits past the millisecond, as vegeta writes them); compared to a microsecond.
    assert.deepEqual(
        read.map((ms) => Math.round((ms - T0) * 1000)),
        times.map((_, i) => i * 10_000 + 250),
    );
});
