// A local host's cgroup (components/platform/local/cgroups.ts): its limits in the config
// (c2m:local.hostLimits), the scripts that make and remove it, the readers' parsers, and the
// shipped scaled tiers. test/e2e/localCgroups.test.ts makes real ones.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { machineProblems, parseSchema, ConfigError } from "../../components/config.ts";
import { parseCpuList } from "../../components/cpuList.ts";
import { loadConfig, readConfigFile } from "../../components/loadConfig.ts";
import {
    cgroupCreateScript,
    cgroupDeleteScript,
    parseCgroupV1,
    parseCgroupV2,
    parseKeyValues,
    stackCgroupDirs,
} from "../../components/platform/local/cgroups.ts";
import { onlineCpus, withDetectedLimits } from "../../components/platform/local/limits.ts";
import { hostCreateScript, hostDeleteScript, localNames } from "../../components/platform/local/scripts.ts";
import { bashSyntax } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function problems(raw: Record<string, unknown>): string[] {
    try {
        parseSchema(raw);
        return [];
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
}

describe("c2m:local.hostLimits", () => {
    test("a CPU list of this machine, CPU time and memory per role are accepted", () => {
        const cfg = parseSchema({ local: { hostLimits: { haproxy: { cpus: "0", cpuQuota: 0.5, memoryMiB: 512 }, client: { memoryMiB: 1024 } } } });
        assert.deepEqual(cfg.local.hostLimits?.haproxy, { cpus: "0", cpuQuota: 0.5, memoryMiB: 512 });
        assert.equal(cfg.local.hostLimits?.backend, undefined);
        assert.equal(parseSchema({}).local.hostLimits, undefined, "no limits unless the stack sets them");
    });
    test("errors name the key: CPUs that do not exist, a malformed list, memory ≤ 0, quota above the CPUs given, unknown role", () => {
        // CPUs that exist are a machine fact, checked with the facts passed in (never read while parsing).
        assert.deepEqual(machineProblems(parseSchema({ local: { hostLimits: { haproxy: { cpus: "0-2" } } } }), { onlineCpus: [0, 1] }), [
            `c2m:local.hostLimits.haproxy.cpus: CPU(s) 2 of "0-2" do not exist on this machine (CPUs 0,1)`,
        ]);
        assert.deepEqual(machineProblems(parseSchema({ local: { hostLimits: { haproxy: { cpus: "0-1" } } } }), { onlineCpus: [0, 1] }), []);
        const absent = Math.max(...onlineCpus()) + 1;
        assert.throws(
            () => withDetectedLimits(parseSchema({ local: { hostLimits: { haproxy: { cpus: `0-${absent}` } } } })),
            (err: ConfigError) =>
                new RegExp(`^c2m:local\\.hostLimits\\.haproxy\\.cpus: CPU\\(s\\) ${absent} of "0-${absent}" do not exist on this machine`).test(
                    err.problems[0],
                ),
        );
        assert.match(problems({ local: { hostLimits: { client: { cpus: "one" } } } })[0], /^c2m:local\.hostLimits\.client\.cpus: "one" is not a CPU list/);
        assert.match(problems({ local: { hostLimits: { client: { cpus: "1-0" } } } })[0], /^c2m:local\.hostLimits\.client\.cpus: /);
        assert.match(problems({ local: { hostLimits: { haproxy: { memoryMiB: 0 } } } })[0], /^c2m:local\.hostLimits\.haproxy\.memoryMiB: /);
        assert.match(problems({ local: { hostLimits: { haproxy: { memoryMiB: -5 } } } })[0], /^c2m:local\.hostLimits\.haproxy\.memoryMiB: /);
        assert.match(
            problems({ local: { hostLimits: { haproxy: { cpus: "0", cpuQuota: 2 } } } })[0],
            /^c2m:local\.hostLimits\.haproxy\.cpuQuota: 2 CPUs' worth/,
        );
        assert.match(problems({ local: { hostLimits: { lb: { memoryMiB: 5 } } } })[0], /^c2m:local\.hostLimits: .*lb/);
    });
    test("CPU lists", () => {
        assert.deepEqual(parseCpuList("0"), [0]);
        assert.deepEqual(parseCpuList("0-2,5"), [0, 1, 2, 5]);
        assert.equal(parseCpuList(""), undefined);
        assert.equal(parseCpuList("2-1"), undefined);
    });
});

describe("host cgroup scripts", () => {
    test("create: valid shell, v1 and v2, limits written, the shell joins every controller", () => {
        const s = cgroupCreateScript("st", "haproxy-0", { cpus: "0", cpuQuota: 0.25, memoryMiB: 256 });
        assert.equal(bashSyntax(s).status, 0, bashSyntax(s).stderr);
        assert.match(s, /echo 268435456 > \$m\/memory\.limit_in_bytes/);
        assert.match(s, /echo 268435456 > \$m\/memory\.kmem\.tcp\.limit_in_bytes/, "v1 counts socket memory only once a tcp limit is written");
        assert.match(
            s,
            /echo 20000 > \/sys\/fs\/cgroup\/cpu\/c2m\/st\/haproxy-0\/cpu\.cfs_period_us\n.*echo 5000 > \/sys\/fs\/cgroup\/cpu\/c2m\/st\/haproxy-0\/cpu\.cfs_quota_us/,
        );
        assert.match(s, /echo 0 > \$p\/c2m\/st\/haproxy-0\/cpuset\.cpus/);
        assert.match(s, /for c in memory cpuset cpu cpuacct; do echo \$\$ > \/sys\/fs\/cgroup\/\$c\/c2m\/st\/haproxy-0\/cgroup\.procs; done/);
        assert.match(s, /echo 268435456 > \$g\/memory\.max/);
        assert.match(s, /echo '5000 20000' > \$g\/cpu\.max/);
    });
    test("a host without limits still gets a cgroup (accounting), unlimited", () => {
        const s = cgroupCreateScript("st", "client-0");
        assert.match(s, /echo -1 > \$m\/memory\.limit_in_bytes/);
        assert.match(s, /echo -1 > \/sys\/fs\/cgroup\/cpu\/c2m\/st\/client-0\/cpu\.cfs_quota_us/);
        assert.doesNotMatch(s, /> \$p\/c2m\/st\/client-0\/cpuset\.cpus\n/);
        assert.match(s, /echo max > \$g\/memory\.max/);
    });
    test("delete: valid shell, kills what is left, removes the host's and (when empty) the stack's level", () => {
        const s = cgroupDeleteScript("st", "haproxy-0");
        assert.equal(bashSyntax(s).status, 0, bashSyntax(s).stderr);
        for (const c of ["memory", "cpuset", "cpu", "cpuacct"]) assert.ok(s.includes(`/sys/fs/cgroup/${c}/c2m/st/haproxy-0`), c);
        assert.ok(s.includes("/sys/fs/cgroup/c2m/st/haproxy-0"), "v2");
        assert.match(s, /kill -KILL \$pids/);
        assert.deepEqual(stackCgroupDirs("st", "/r"), ["/r/memory/c2m/st", "/r/cpuset/c2m/st", "/r/cpu/c2m/st", "/r/cpuacct/c2m/st", "/r/c2m/st"]);
    });
    test("the host script joins the cgroup before sshd starts (its processes inherit it), and deletes it", () => {
        const n = localNames("st");
        const h = {
            namespace: n.namespace("haproxy-0"),
            veth: n.veth(0),
            bridge: n.bridge,
            address: "198.18.80.2",
            extraAddresses: [],
            prefix: 24,
            workDir: "/run/c2m/st/haproxy-0",
            cgroup: { stack: "st", host: "haproxy-0", limits: { memoryMiB: 64 } },
        };
        const create = hostCreateScript(h);
        assert.equal(bashSyntax(create).status, 0);
        const join = create.indexOf("cgroup.procs");
        assert.ok(join > 0 && join < create.indexOf("/usr/sbin/sshd"), "joined before sshd starts");
        assert.ok(hostDeleteScript(h).includes("rmdir /sys/fs/cgroup") || hostDeleteScript(h).includes("rmdir $d"));
    });
});

describe("cgroup readings", () => {
    const v1 = {
        "memory.usage_in_bytes": "104857600\n",
        "memory.limit_in_bytes": "268435456\n",
        "memory.stat": "cache 4096\nrss 52428800\nrss_huge 0\nhierarchical_memory_limit 268435456\ntotal_rss 52428800\n",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 1\noom_kill 2\n",
        "memory.failcnt": "17\n",
        "memory.kmem.usage_in_bytes": "41943040\n",
        "memory.kmem.tcp.usage_in_bytes": "1048576\n",
        "cpuacct.usage": "123456789\n",
    };
    test("v1: memory = usage (user + kmem) + kmem.tcp; anon, kernel, sockets, CPU, OOM kills, limit hits", () => {
        assert.deepEqual(parseCgroupV1(v1), {
            memoryBytes: 104857600 + 1048576,
            anonBytes: 52428800,
            fileBytes: 4096,
            kernelBytes: 41943040,
            socketBytes: 1048576,
            limitBytes: 268435456,
            cpuNs: 123456789,
            oomKills: 2,
            underOom: true,
            limitHits: 17,
        });
    });
    test("v1: unlimited, and kernels without kmem files", () => {
        const r = parseCgroupV1({
            ...v1,
            "memory.limit_in_bytes": "9223372036854771712",
            "memory.kmem.usage_in_bytes": undefined,
            "memory.kmem.tcp.usage_in_bytes": undefined,
        });
        assert.equal(r.limitBytes, undefined);
        assert.equal(r.kernelBytes, 0);
        assert.equal(r.memoryBytes, 104857600);
    });
    test("v1: an unreadable figure is an error naming the file, never 0", () => {
        assert.throws(() => parseCgroupV1({ ...v1, "cpuacct.usage": "" }), /cpuacct\.usage is unreadable/);
        assert.throws(() => parseCgroupV1({ ...v1, "memory.usage_in_bytes": "x" }), /memory\.usage_in_bytes is unreadable/);
    });
    test("v2", () => {
        const r = parseCgroupV2({
            "memory.current": "2000000\n",
            "memory.max": "max\n",
            "memory.stat": "anon 1000\nfile 10\nkernel 500\nsock 300\n",
            "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
            "cpu.stat": "usage_usec 1500\nuser_usec 1000\n",
        });
        assert.deepEqual(r, {
            memoryBytes: 2000000,
            anonBytes: 1000,
            fileBytes: 10,
            kernelBytes: 500,
            socketBytes: 300,
            limitBytes: undefined,
            cpuNs: 1_500_000,
            oomKills: 1,
            underOom: false,
            limitHits: 4,
        });
    });
    test("key/value lines", () => assert.deepEqual(parseKeyValues("a 1\nb -2\nc x\n\n"), { a: 1, b: -2 }));
});

describe("scaled seed tiers (Pulumi.local-*.yaml)", () => {
    const tiers = { "local-4c30g": { cores: 4, gb: 30 }, "local-16c30g": { cores: 16, gb: 30 }, "local-16c64g": { cores: 16, gb: 64 } };
    for (const [stack, seed] of Object.entries(tiers)) {
        test(`${stack}: valid here, LB limited in the seed tier's proportions (1/16)`, () => {
            const { config } = loadConfig(stack, readConfigFile(ROOT, stack), { machineLimits: false });
            const lb = config.local.hostLimits?.haproxy;
            assert.ok(lb?.memoryMiB && lb.cpuQuota, "memory and CPU time limited");
            assert.equal(lb.memoryMiB, (seed.gb * 1024) / 16);
            assert.equal(lb.cpuQuota, seed.cores / 16);
            assert.equal(config.plan.connections, Math.round(1_050_000 / 16), "the seed's goal, scaled");
        });
    }
});
