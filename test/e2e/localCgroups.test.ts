// Real cgroups on this machine (no namespace, no Pulumi): a host's cgroup is made with its
// limits, a process started from the joining shell is in it and charged to it, the residue
// check lists it by name, the delete script (or the reaper) removes it with what runs in it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cgroupCreateScript, cgroupDeleteScript, existingStackCgroups, readHostCgroup } from "../../components/platform/local/cgroups.ts";
import { localResidue, reapLocal } from "../../components/platform/local/residue.ts";

const v1 = existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes");
const STACK = "e2ecg80";
const sh = (script: string) => spawnSync("bash", ["--noprofile", "--norc", "-c", script], { encoding: "utf8", timeout: 30_000 });

describe("local host cgroup, for real", { skip: v1 ? false : "no cgroup v1 memory controller here" }, () => {
    test("made with its limits; the host's process is in it and charged; delete removes it and what runs in it", async (t) => {
        t.after(() => reapLocal(STACK));
        const made = sh(
            `set -eu\n${cgroupCreateScript(STACK, "haproxy-0", { cpus: "0", cpuQuota: 0.5, memoryMiB: 64 })}\n` +
                "setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo $!",
        );
        assert.equal(made.status, 0, made.stderr);
        const pid = made.stdout.trim();
        const base = `/sys/fs/cgroup/memory/c2m/${STACK}/haproxy-0`;
        assert.equal(readFileSync(`${base}/memory.limit_in_bytes`, "utf8").trim(), String(64 * 1024 * 1024));
        assert.equal(readFileSync(`/sys/fs/cgroup/cpuset/c2m/${STACK}/haproxy-0/cpuset.cpus`, "utf8").trim(), "0");
        // Half a CPU: half of each enforcement period.
        const cpu = `/sys/fs/cgroup/cpu/c2m/${STACK}/haproxy-0`;
        assert.equal(readFileSync(`${cpu}/cpu.cfs_period_us`, "utf8").trim(), "20000");
        assert.equal(readFileSync(`${cpu}/cpu.cfs_quota_us`, "utf8").trim(), "10000");
        for (const c of ["memory", "cpuset", "cpu", "cpuacct"]) {
            assert.ok(readFileSync(`/sys/fs/cgroup/${c}/c2m/${STACK}/haproxy-0/cgroup.procs`, "utf8").split("\n").includes(pid), `${c}: the child is in it`);
        }
        const r = readHostCgroup(STACK, "haproxy-0");
        assert.equal(r.limitBytes, 64 * 1024 * 1024);
        assert.ok(r.memoryBytes > 0 && r.cpuNs > 0, JSON.stringify(r));
        assert.equal(r.oomKills, 0);

        const left = await localResidue(STACK);
        assert.ok(left.cgroups.includes(base) && left.cgroups.includes(`/sys/fs/cgroup/memory/c2m/${STACK}`), left.cgroups.join(" "));
        const del = sh(cgroupDeleteScript(STACK, "haproxy-0"));
        assert.equal(del.status, 0, del.stderr);
        assert.deepEqual(existingStackCgroups(STACK), [], "host and stack level gone");
        // Gone, or a zombie its (unrelated) new parent has not reaped yet.
        const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] : "gone";
        assert.ok(state === "gone" || state === "Z", `the process in it was killed (state ${state})`);
    });

    test("a memory hog past the limit is OOM-killed inside the cgroup and counted; the reaper removes it by name", async (t) => {
        t.after(() => reapLocal(STACK));
        const run = sh(
            `set -eu\n${cgroupCreateScript(STACK, "haproxy-0", { memoryMiB: 32 })}\n` +
                // 64 MiB of anonymous memory in a 32 MiB cgroup: the OOM killer ends it.
                `python3 -c 'b = bytearray(64 * 1024 * 1024); b[::4096] = b"x" * len(b[::4096])' || echo "killed $?"`,
        );
        assert.match(run.stdout, /killed 137/, run.stderr);
        const r = readHostCgroup(STACK, "haproxy-0");
        assert.ok(r.oomKills >= 1 && r.limitHits > 0, JSON.stringify(r));
        const left = await reapLocal(STACK);
        assert.deepEqual(left.cgroups, []);
    });
});
