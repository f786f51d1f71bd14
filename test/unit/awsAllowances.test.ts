// Allowance counters: each platform's script prints what the machine under a host dropped; a
// rise of any drop counter between before and after a run marks the run invalid.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    CONNTRACK_STATS_SCRIPT,
    describeAllowances,
    diffAllowances,
    ENA_ALLOWANCES_SCRIPT,
    ENA_COUNTERS,
    parseAllowanceCounters,
} from "../../components/platform/allowances.ts";
import { platformFor } from "../../components/platform/registry.ts";
import { RunRecordSchema } from "../../components/records/runRecord.ts";

const dir = mkdtempSync(join(tmpdir(), "c2m-allowances-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a script with POSIX sh, with fake tools first on PATH. */
function sh(script: string, tools: Record<string, string> = {}): string {
    const bin = join(dir, "bin");
    spawnSync("mkdir", ["-p", bin]);
    for (const [name, body] of Object.entries(tools)) {
        writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(bin, name), 0o755);
    }
    const r = spawnSync("sh", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
}

// /proc/net/stat/nf_conntrack of a 2-CPU kernel (hex, one row per CPU; columns as in Linux 6.1).
const NF_CONNTRACK =
    [
        "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart",
        "00000010  00000000 00000000 00000000 00000003 00000000 00000000 00000000 00000000 00000002 0000000a 00000001 00000000  00000000 00000000 00000000 00000000",
        "00000010  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 000000f0 00000000 00000000  00000000 00000000 00000000 00000000",
    ].join("\n") + "\n";

const ETHTOOL = [
    "NIC statistics:",
    "     tx_timeout: 0",
    "     bw_in_allowance_exceeded: 12",
    "     bw_out_allowance_exceeded: 0",
    "     pps_allowance_exceeded: 3",
    "     conntrack_allowance_exceeded: 7",
    "     linklocal_allowance_exceeded: 0",
    "     conntrack_allowance_available: 301234",
    "     queue_0_tx_cnt: 99",
].join("\n");

describe("allowance counter scripts", () => {
    test("local: each namespace's conntrack drops, insert failures and early drops, summed over CPUs", () => {
        const file = join(dir, "nf_conntrack");
        writeFileSync(file, NF_CONNTRACK);
        const out = sh(CONNTRACK_STATS_SCRIPT.replaceAll("/proc/net/stat/nf_conntrack", file));
        assert.deepEqual(parseAllowanceCounters(out), { conntrack_drop: 0x0a + 0xf0, conntrack_insert_failed: 3, conntrack_early_drop: 1 });
    });
    test("local: no conntrack in the namespace prints no counter (nothing to judge), and exits 0", () => {
        const out = sh(CONNTRACK_STATS_SCRIPT.replaceAll("/proc/net/stat/nf_conntrack", join(dir, "absent")));
        assert.deepEqual(parseAllowanceCounters(out), {});
        assert.match(out, /^# .*absent/m);
    });
    test("this machine's own namespace: the script runs and reads numbers when conntrack is there", () => {
        const counters = parseAllowanceCounters(sh(CONNTRACK_STATS_SCRIPT));
        for (const v of Object.values(counters)) assert.ok(Number.isInteger(v) && v >= 0);
    });
    test("EC2: the five ENA allowance counters of the default route's interface, then the kernel's conntrack drops", () => {
        const out = sh(ENA_ALLOWANCES_SCRIPT, {
            ip: "echo 'default via 198.18.0.1 dev ens5 proto dhcp src 198.18.0.64 metric 100'",
            ethtool: `[ "$1" = -S ] && [ "$2" = ens5 ] || exit 2\ncat <<'X'\n${ETHTOOL}\nX`,
        });
        const counters = parseAllowanceCounters(out);
        for (const c of ENA_COUNTERS) assert.ok(c in counters, `${c} missing: ${out}`);
        assert.equal(counters.conntrack_allowance_exceeded, 7);
        assert.equal(counters.conntrack_allowance_available, 301234);
        assert.ok(!("queue_0_tx_cnt" in counters) && !("tx_timeout" in counters));
        assert.match(out, /^# ethtool -S ens5$/m);
    });
    test("each platform names its script (the attack runs the one of the stack's platform)", () => {
        assert.equal(platformFor({ platform: "aws" }).allowanceCountersScript, ENA_ALLOWANCES_SCRIPT);
        assert.equal(platformFor({ platform: "local" }).allowanceCountersScript, CONNTRACK_STATS_SCRIPT);
    });
});

describe("judging a run by its allowance counters", () => {
    const before = {
        "haproxy-0": { conntrack_allowance_exceeded: 7, conntrack_allowance_available: 300_000, pps_allowance_exceeded: 0 },
        "client-0": { conntrack_drop: 0 },
    };
    test("nothing rose: the run stands (the available gauge may move)", () => {
        const check = diffAllowances(before, { ...before, "haproxy-0": { ...before["haproxy-0"], conntrack_allowance_available: 12 } });
        assert.equal(check.exceeded, false);
        assert.deepEqual(check.increases, []);
        assert.deepEqual(describeAllowances(check), []);
    });
    test("any drop counter that rose on any host makes the run invalid, and says which", () => {
        const check = diffAllowances(before, { ...before, "client-0": { conntrack_drop: 5 } });
        assert.equal(check.exceeded, true);
        assert.deepEqual(check.increases, [{ host: "client-0", counter: "conntrack_drop", before: 0, after: 5 }]);
        assert.match(describeAllowances(check)[0], /^INVALID RUN: client-0 conntrack_drop rose by 5 \(0 → 5\)/);
        const lb = diffAllowances(before, { ...before, "haproxy-0": { ...before["haproxy-0"], pps_allowance_exceeded: 1 } });
        assert.equal(lb.exceeded, true);
    });
    test("a host or counter read only once is unreadable, never silently fine", () => {
        const check = diffAllowances(before, { "haproxy-0": { conntrack_allowance_exceeded: 7, conntrack_allowance_available: 1 } });
        assert.deepEqual(check.unreadable, ["client-0", "haproxy-0:pps_allowance_exceeded"]);
        assert.equal(check.exceeded, false);
        assert.match(describeAllowances(check).at(-1)!, /unreadable before or after the run: client-0, haproxy-0:pps_allowance_exceeded/);
    });
    test("run.json keeps the check (optional field: older runs have none)", () => {
        const check = diffAllowances(before, { ...before, "client-0": { conntrack_drop: 5 } });
        assert.deepEqual(RunRecordSchema.shape.allowances.parse(JSON.parse(JSON.stringify(check))), check);
        assert.equal(RunRecordSchema.shape.allowances.parse(undefined), undefined);
    });
    test("parsing skips comments and other lines", () => {
        assert.deepEqual(parseAllowanceCounters("# ethtool -S ens5\nNIC statistics:\n  pps_allowance_exceeded: 4\nnot: a number\n"), {
            pps_allowance_exceeded: 4,
        });
    });
});
