// bench/ramp.ts: when bench/scale's ramp has reached its target or is over short of it, its
// progress text when statistics are unreadable; bench/rampVerdict.ts: which part of the machine was
// the limit.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backOff, heldOverWindow, heldText, maxInFlight, memoryFloor, rampState, sendingsToStop, topUp, type RampPlan } from "../../bench/ramp.ts";
import { parseProcStat, type RampPoint } from "../../bench/rampPoint.ts";
import { cpuBetween, memoryUse, verdict } from "../../bench/rampVerdict.ts";
import { parseListenDrops } from "../../bench/figures.ts";
import type { Role } from "../../components/types.ts";

const GIB = 2 ** 30;
const plan: RampPlan = { target: 1000, stallS: 5, settleS: 3, startGraceS: 10, deadlineS: 80, memoryFloorBytes: 2 * GIB, maxInFlight: 1000 };
/** vegeta's planned sending ends at t=10. */
const SEND_END = 10;

/** Points every second from t=1 with these held counts (null: statistics unreadable). */
function points(helds: (number | null)[], cpu: Partial<Record<string, [Role, number]>> = {}, machine = 0): RampPoint[] {
    return helds.map((held, i) => ({
        t: i + 1,
        held: held ?? undefined,
        inFlight: 0,
        hosts: Object.fromEntries(
            Object.entries(cpu).map(([name, v]) => [name, { role: v![0], cpuNs: v![1] * 1e9 * (i + 1), memoryBytes: 0, listenDrops: 0 }]),
        ),
        machineBusyNs: machine * 1e9 * (i + 1),
        cpus: 2,
        memAvailableBytes: 20 * GIB,
        memTotalBytes: 24 * GIB,
    }));
}

describe("rampState", () => {
    test("growing towards the target: ramping", () => {
        assert.deepEqual(rampState(points([100, 200, 300, 400, 500, 600, 700]), plan, SEND_END), { phase: "ramping" });
    });

    test("the target reached on the last readable point starts the hold", () => {
        assert.deepEqual(rampState(points([300, 600, 900, 1000]), plan, SEND_END), { phase: "reached", t: 4 });
        assert.deepEqual(rampState(points([300, 600, 1004]), plan, SEND_END), { phase: "reached", t: 3 });
    });

    test("a count estimated from the sockets never starts the hold; HAProxy's count does", () => {
        // A 300k run: 300,005 from sockets while HAProxy counted 299,999 (16 of the top-up's connections still
        // SYN_SENT at the clients); the old rule started the hold there and the run was short.
        const estimated = points([300, 600, 900, 1005]).map((p, i) => (i === 3 ? { ...p, estimated: true } : p));
        assert.deepEqual(rampState(estimated, plan, SEND_END), { phase: "ramping" });
        assert.deepEqual(rampState([...estimated, { ...estimated[3], t: 5, held: 1000, estimated: false }], plan, SEND_END), { phase: "reached", t: 5 });
    });

    test("an unreadable last point decides nothing: not reached, not stalled", () => {
        assert.deepEqual(rampState(points([300, 600, 900, 1000, null]), plan, SEND_END), { phase: "ramping" });
        assert.deepEqual(rampState(points([300, 600, null, null, null, null, null, null]), plan, SEND_END), { phase: "ramping" });
    });

    test("unreadable statistics are never read as 0: a run of them does not look like a collapse or a stall", () => {
        assert.deepEqual(rampState(points([100, 200, 300, null, null, 600, 700, null, 900]), plan, SEND_END), { phase: "ramping" });
    });

    test("no growth for stallS while vegeta should be sending: stalled (the machine does not keep up)", () => {
        assert.deepEqual(rampState(points([100, 200, 300, 300, 300, 300, 300, 300]), plan, SEND_END), { phase: "stopped", t: 8, why: "stalled" });
    });

    test("nothing landed yet (vegeta still starting on a loaded machine) is not a stall", () => {
        assert.deepEqual(rampState(points([0, 0, 0, 0, 0, 0, 0, 0, 0]), plan, SEND_END), { phase: "ramping" });
        // Over once the sending has ended and startGraceS passed without anything landing.
        assert.deepEqual(rampState(points(Array.from({ length: 19 }, () => 0)), plan, SEND_END).phase, "ramping");
        assert.deepEqual(rampState(points(Array.from({ length: 20 }, () => 0)), plan, SEND_END).phase, "stopped");
    });

    test("a top-up whose attack has not landed anything yet has not stalled", () => {
        // The first attack reached 500 by t=4; a top-up launched at t=5 (sending until t=30) still starting at t=14.
        const p = points([200, 400, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500]);
        assert.deepEqual(rampState(p, plan, 30, 5), { phase: "ramping" });
        assert.deepEqual(rampState(points([200, 400, 500, 500, 500, 600, 700, 700, 700, 700, 700, 700, 700, 700]), plan, 30, 5), {
            phase: "stopped",
            t: 14,
            why: "stalled",
        });
    });

    test("growth of at most 0.1 % of the target is no growth", () => {
        assert.equal(rampState(points([100, 200, 300, 301, 300, 300, 301, 301]), plan, SEND_END).phase, "stopped");
        assert.equal(rampState(points([100, 200, 300, 301, 300, 300, 301, 302]), plan, SEND_END).phase, "ramping");
    });

    test("vegeta's sending over and settleS without growth: ended (what it sent has landed)", () => {
        const helds = [100, 200, 300, 400, 500, 600, 700, 800, 900, 950, 950, 950, 950];
        assert.deepEqual(rampState(points(helds), plan, SEND_END), { phase: "stopped", t: 13, why: "ended" });
        // Not before settleS has passed since the sending ended, nor while what was sent still lands.
        assert.deepEqual(rampState(points(helds.slice(0, 12)), plan, SEND_END), { phase: "ramping" });
        assert.deepEqual(rampState(points([...helds.slice(0, 12), 990]), plan, SEND_END), { phase: "ramping" });
    });

    test("a top-up of a few connections is over once they land, not before (their growth is under 0.1 % of the target)", () => {
        // A 300,000 run: vegeta's rounding sent 299,998; the top-up for the 3 missing (sending 10-11 s) lands at 14 s.
        // The old rule called it ended at 14 s, before they landed, and the hold began short of the target.
        const waiting = [997, 997, 997, 997, 997, 997, 997, 997, 997, 997, 997, 997, 997, 997];
        assert.deepEqual(rampState(points(waiting), plan, 11, 10), { phase: "ramping" });
        assert.deepEqual(rampState(points([...waiting, 1000]), plan, 11, 10), { phase: "reached", t: 15 });
        // Nothing of it ever lands: over startGraceS after its end.
        const never = Array.from({ length: 21 }, () => 997);
        assert.deepEqual(rampState(points(never.slice(0, 20)), plan, 11, 10), { phase: "ramping" });
        assert.deepEqual(rampState(points(never), plan, 11, 10), { phase: "stopped", t: 21, why: "ended" });
    });

    test("a later sending end (a top-up) keeps the ramp going", () => {
        const helds = [100, 200, 300, 400, 500, 600, 700, 800, 900, 950, 950, 950, 950];
        assert.deepEqual(rampState(points(helds), plan, 20), { phase: "ramping" });
    });

    test("a slow ramp that still grows goes on until the deadline", () => {
        const slow = Array.from({ length: 79 }, (_, i) => (i + 1) * 10);
        assert.deepEqual(rampState(points(slow), plan, 200), { phase: "ramping" });
        assert.deepEqual(rampState(points([...slow, 800]), plan, 200), { phase: "stopped", t: 80, why: "deadline" });
    });

    test("no points yet: ramping", () => {
        assert.deepEqual(rampState([], plan, SEND_END), { phase: "ramping" });
    });

    test("the machine's available memory below the floor stops the ramp, sending or not", () => {
        const p = points([100, 200, 300]);
        p[2].memAvailableBytes = 1.9 * GIB;
        assert.deepEqual(rampState(p, plan, SEND_END), { phase: "stopped", t: 3, why: "memory" });
        p[2].memAvailableBytes = 2.1 * GIB;
        assert.deepEqual(rampState(p, plan, SEND_END), { phase: "ramping" });
    });

    test("the target reached wins over low memory: the hold starts", () => {
        const p = points([500, 1000]);
        p[1].memAvailableBytes = GIB;
        assert.deepEqual(rampState(p, plan, SEND_END), { phase: "reached", t: 2 });
    });
});

describe("backOff", () => {
    test("more connections in flight than the plan allows: stop this sending", () => {
        const p = points([100, 200, 300]);
        p[2].inFlight = 1001;
        assert.equal(backOff(p, plan), true);
        p[2].inFlight = 1000;
        assert.equal(backOff(p, plan), false);
        assert.equal(backOff([], plan), false);
    });

    test("a top-up is judged on what it added: the paused sending's connections still in flight are not its own", () => {
        const p = points([100, 200, 300, 300, 350]);
        p[2].inFlight = 1200; // the first sending, paused at t=3
        p[3].inFlight = 1200;
        p[4].inFlight = 2100; // the top-up started at t=4 added 900
        assert.equal(backOff(p, plan, 4), false);
        p[4].inFlight = 2300;
        assert.equal(backOff(p, plan, 4), true);
    });

    test("the allowance is 5 % of the target, at least 1000", () => {
        assert.equal(maxInFlight(300_000), 15_000);
        assert.equal(maxInFlight(5000), 1000);
    });

    test("the memory floor is 3 GiB or 12 % of the machine, the larger", () => {
        assert.equal(memoryFloor(8 * GIB), 3 * GIB);
        assert.equal(memoryFloor(100 * GIB), 12 * GIB);
    });
});

describe("topUp", () => {
    const o = { maxTopUps: 2, planRate: 100 };
    test("the connections still missing, at 80 % of the rate the last attack achieved (backing off)", () => {
        // Planned 100/s for 10 s; the machine landed 50/s and 500 connections by t=10.
        const p = points([50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 500, 500, 500]);
        assert.deepEqual(topUp(p, 1000, [{ startT: 0, rate: 100, durationS: 10 }], o), { count: 500, rate: 40, durationS: 12.5 });
    });

    test("never above the plan's rate, never below 10/s", () => {
        const fast = points([200, 400, 600, 800, 900, 900]);
        assert.equal(topUp(fast, 1000, [{ startT: 0, rate: 100, durationS: 5 }], o)?.rate, 100);
        const slow = points([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20]);
        assert.equal(topUp(slow, 1000, [{ startT: 0, rate: 100, durationS: 10 }], o)?.rate, 10);
    });

    test("a top-up's achievement is measured from its own start", () => {
        // First attack landed 600 by t=6; the top-up started at t=8 and landed 200 more by t=12.
        const p = points([100, 200, 300, 400, 500, 600, 600, 600, 650, 700, 750, 800, 800, 800]);
        const sendings = [
            { startT: 0, rate: 100, durationS: 6 },
            { startT: 8, rate: 80, durationS: 5 },
        ];
        assert.deepEqual(topUp(p, 1000, sendings, o), { count: 200, rate: 40, durationS: 5 });
    });

    test("none when reached, when the last attack made no progress, when no top-up is left, or when unread", () => {
        assert.equal(topUp(points([500, 1000]), 1000, [{ startT: 0, rate: 100, durationS: 10 }], o), undefined);
        assert.equal(
            topUp(
                points([500, 600, 600, 600]),
                1000,
                [
                    { startT: 0, rate: 100, durationS: 2 },
                    { startT: 2.5, rate: 40, durationS: 1 },
                ],
                o,
            ),
            undefined,
        );
        const three = [0, 1, 2].map((i) => ({ startT: i, rate: 10, durationS: 1 }));
        assert.equal(topUp(points([100, 200, 300, 400]), 1000, three, o), undefined);
        assert.equal(topUp(points([100, 200, null]), 1000, [{ startT: 0, rate: 100, durationS: 2 }], o), undefined);
    });
});

describe("heldText", () => {
    test("a number when read; otherwise what failed and that it retries — never ? and never 0", () => {
        assert.equal(heldText(1234, undefined, 0), "1234");
        assert.equal(heldText(0, undefined, 0), "0");
        const t = heldText(undefined, "GET http://198.18.64.2:8404/stats;csv via lb-0: timed out", 2);
        assert.match(t, /unread .*timed out.*2 in a row, retrying/);
        assert.doesNotMatch(t, /\?|^0/);
        assert.match(heldText(undefined, undefined, 1), /unread \(HAProxy statistics: unknown error/);
    });
});

describe("cpuBetween", () => {
    test("cores per host and role, the machine's busy share, and what no lab host accounts for", () => {
        const p = points([0, 0, 0], { "client-0": ["client", 0.5], "client-1": ["client", 0.3], "lb-0": ["haproxy", 0.6], "backend-0": ["backend", 0.2] }, 1.9);
        const c = cpuBetween(p[0], p[2]);
        assert.deepEqual(c.roles, { client: 0.8, haproxy: 0.6, backend: 0.2 });
        assert.equal(c.hosts["client-0"].cores, 0.5);
        assert.equal(c.outside, 0.3);
        assert.equal(c.busy, 1.9);
        assert.equal(c.busyShare, 0.95);
    });
});

describe("verdict", () => {
    const cpu = { "client-0": ["client", 0.5], "client-1": ["client", 0.4], "lb-0": ["haproxy", 0.6], "backend-0": ["backend", 0.3] } as Partial<
        Record<string, [Role, number]>
    >;

    test("the target held with 0 errors: held, no limit", () => {
        const v = verdict({
            heldSource: "haproxy",
            target: 1000,
            held: 1000,
            errors: 0,
            points: points([500, 1000, 1000], cpu, 1.9),
            rampFrom: 0,
            rampTo: 2,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.equal(v.verdict, "held");
        assert.equal(v.limit, null);
    });

    test("held by the sockets' estimate only (no HAProxy reading in the hold window): the source is named, and the verdict is not held", () => {
        const window = [
            { held: 1003, heldFrom: "sockets" as const },
            { held: 1001, heldFrom: "sockets" as const },
        ];
        assert.deepEqual(heldOverWindow(window), { held: 1001, source: "sockets" });
        // One HAProxy reading in the window decides, whatever the sockets said around it.
        assert.deepEqual(heldOverWindow([...window, { held: 998, heldFrom: "stats" }]), { held: 998, source: "haproxy" });
        assert.deepEqual(heldOverWindow([]), { held: null, source: null });
        const v = verdict({
            heldSource: "sockets",
            target: 1000,
            held: 1001,
            errors: 0,
            points: points([500, 1000, 1000], cpu, 1.9),
            rampFrom: 0,
            rampTo: 2,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.equal(v.verdict, "unknown");
        assert.match(v.note, /sockets' estimate only/);
    });

    test("short on a saturated machine: the role that used most CPU over the ramp, and its busiest host", () => {
        const v = verdict({
            heldSource: "haproxy",
            target: 1000,
            held: 700,
            errors: 300,
            points: points([300, 500, 700, 700], cpu, 1.95),
            rampFrom: 0,
            rampTo: 3,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.equal(v.verdict, "short");
        assert.deepEqual(v.limit, { what: "client", host: "client-0", resource: "cpu", amount: 0.9, bound: "machine" });
        assert.match(v.note, /held 700 of 1000: the machine was 98 % busy .*2 CPUs.*the client role \(0.9 cores, busiest host client-0\)/);
    });

    test("a machine busy with others' work: the limit is outside the lab, not a lab host", () => {
        const small = { "client-0": ["client", 0.1], "lb-0": ["haproxy", 0.2] } as Partial<Record<string, [Role, number]>>;
        const v = verdict({
            heldSource: "haproxy",
            target: 1000,
            held: 400,
            errors: 600,
            points: points([100, 200, 400], small, 1.9),
            rampFrom: 0,
            rampTo: 3,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.deepEqual(v.limit, { what: "outside the lab", host: null, resource: "cpu", amount: 1.6, bound: "machine" });
        assert.match(v.note, /processes outside the lab/);
    });

    test("not saturated but a listener dropped connections: that host's accept queue", () => {
        const p = points([300, 600, 800], cpu, 1.0);
        p[2].hosts["lb-0"].listenDrops = 42;
        const v = verdict({
            heldSource: "haproxy",
            target: 1000,
            held: 800,
            errors: 200,
            points: p,
            rampFrom: 0,
            rampTo: 3,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.deepEqual(v.limit, { what: "haproxy", host: "lb-0", resource: "accept_queue", amount: 42, bound: "haproxy" });
        assert.deepEqual(v.listen_drops, { "lb-0": 42 });
    });

    test("short with nothing measured to explain it says so instead of naming a host", () => {
        const v = verdict({
            heldSource: "haproxy",
            target: 1000,
            held: 900,
            errors: 100,
            points: points([300, 600, 900], cpu, 1.0),
            rampFrom: 0,
            rampTo: 3,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.equal(v.limit, null);
        assert.match(v.note, /no measured limit explains it/);
    });

    test("every one held but requests failed or went unsent: errors, with the limit of the ramp", () => {
        const v = verdict({
            heldSource: "haproxy",
            target: 1000,
            held: 1000,
            errors: 5,
            points: points([500, 1000], cpu, 1.9),
            rampFrom: 0,
            rampTo: 2,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.equal(v.verdict, "errors");
        assert.equal(v.limit?.what, "client");
    });

    test("out of memory: the role whose hosts grew most, its largest host, and what the target would need; the machine, not HAProxy", () => {
        const p = points([0, 300, 600], { "client-0": ["client", 0.1], "lb-0": ["haproxy", 0.1], "backend-0": ["backend", 0.1] }, 1.0);
        const grow = (i: number, client: number, lb: number, backend: number) => {
            p[i].hosts["client-0"].memoryBytes = client;
            p[i].hosts["lb-0"].memoryBytes = lb;
            p[i].hosts["backend-0"].memoryBytes = backend;
        };
        grow(0, 0, 0, 0);
        grow(1, 300 * 40 * 1024, 300 * 20 * 1024, 300 * 20 * 1024);
        grow(2, 600 * 40 * 1024, 600 * 20 * 1024, 600 * 20 * 1024);
        p[2].memAvailableBytes = 1.5 * GIB;
        const v = verdict({ heldSource: "haproxy", target: 1000, held: 600, errors: 400, points: p, rampFrom: 0, rampTo: 3, memoryFloorBytes: 2 * GIB });
        assert.equal(v.verdict, "short");
        assert.deepEqual(v.limit, { what: "client", host: "client-0", resource: "memory", amount: 0.02, bound: "machine" });
        assert.equal(v.memory?.kb_per_conn, 80);
        assert.equal(v.memory?.held, 600);
        assert.equal(v.memory?.available_min_gib, 1.5);
        assert.match(v.note, /this machine's memory .*80 KB per connection at 600 held.*the machine was the limit, not HAProxy/);
    });

    test("memoryUse: the lab's memory above the idle point at the most held, scaled to the target", () => {
        const p = points([0, 500, 400]);
        p[0].hosts = { a: { role: "client", cpuNs: 0, memoryBytes: GIB, listenDrops: 0 } };
        p[1].hosts = { a: { role: "client", cpuNs: 0, memoryBytes: GIB + 500 * 100 * 1024, listenDrops: 0 } };
        p[2].hosts = { a: { role: "client", cpuNs: 0, memoryBytes: GIB, listenDrops: 0 } };
        const m = memoryUse(p, 10_000)!;
        assert.equal(m.kb_per_conn, 100);
        assert.equal(m.held, 500);
        assert.equal(m.target_needs_gib, Math.round(((10_000 * 100 * 1024) / GIB) * 100) / 100);
        assert.equal(memoryUse(points([0, 0]), 10), null);
    });

    test("held unreadable for the whole window is short, not held", () => {
        const v = verdict({
            heldSource: "haproxy",
            target: 1000,
            held: null,
            errors: 0,
            points: points([500, 1000], cpu, 1.0),
            rampFrom: 0,
            rampTo: 2,
            memoryFloorBytes: plan.memoryFloorBytes,
        });
        assert.equal(v.verdict, "short");
        assert.match(v.note, /held \(unreadable\) of 1000/);
    });
});

describe("kernel counters", () => {
    test("/proc/stat: busy = all but idle and iowait, in ns (USER_HZ 100); CPUs counted", () => {
        const text = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\ncpu1 50 3 25 500 10 2 1 0 0 0\nintr 1\n";
        assert.deepEqual(parseProcStat(text), { busyNs: 160 * 1e7, cpus: 2 });
        assert.throws(() => parseProcStat("intr 1\n"), /no cpu line/);
    });

    test("/proc/net/netstat: ListenDrops (which already counts overflows)", () => {
        const text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPBacklogDrop\nTcpExt: 0 7 9 1\nIpExt: InNoRoutes\nIpExt: 0\n";
        assert.equal(parseListenDrops(text), 9);
        assert.throws(() => parseListenDrops("IpExt: a\nIpExt: 1\n"), /no TcpExt/);
    });
});

describe("the target reached while a top-up still sends", () => {
    test("every sending still within its planned duration is stopped; those over or already paused are not", () => {
        const sendings = [
            { startT: 0, rate: 700, durationS: 100 },
            { startT: 120, rate: 200, durationS: 10 },
            { startT: 125, rate: 50, durationS: 20 },
        ];
        // Reached at t=128: the second (until 130) and the third (until 145) still send.
        assert.deepEqual(sendingsToStop(sendings, 128), [1, 2]);
        assert.deepEqual(
            sendingsToStop(sendings, 128, (i) => i === 2),
            [1],
        );
        assert.deepEqual(sendingsToStop(sendings, 150), []);
    });
});
