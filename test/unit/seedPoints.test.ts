// The seed's points as the rig maps them: tier → HAProxy's threads and CPU sets; plan → maxconn,
// open files and the input backlog; seed preset → the network rate it generates and its check.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseLabConfig, readConfigFile } from "../../components/loadConfig.ts";
import { FD_OVERHEAD, MAXCONN_HEADROOM, planCapacity } from "../../components/plan/capacity.ts";
import { cpuListText, cpuMapArgs, defaultHaproxyCpus, SEED_HAPROXY_CORES } from "../../components/plan/haproxyCpus.ts";
import { checkNetworkRate, NETWORK_RATE_MIN_SHARE } from "../../components/plan/networkRate.ts";
import { PRESET_NETWORK_TARGETS, PRESET_SETTINGS, SEED_CLIENTS, SEED_M2_NETWORK_BYTES_PER_S, plannedNetworkBytesPerS } from "../../components/render/attack.ts";
import { renderHaproxyConfig } from "../../components/render/haproxyConfig.ts";
import { DEFAULT_INPUT_BACKLOG, inputBacklog, kernelSysctls, renderTuning, tuningScript } from "../../components/render/tuning.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { GOLDEN_INPUT } from "./haproxyFixture.ts";
import { runBash } from "./helpers.ts";

const GB = 1024 ** 3;
/** A tier stack's config as `lab up` plans it here: the local ones under this machine's 20,000 open files per process. */
const tier = (stack: string) => {
    const raw = readConfigFile(REPO_ROOT, stack);
    const local = (raw.local ?? {}) as Record<string, unknown>;
    return parseLabConfig(stack.startsWith("local") ? { ...raw, local: { ...local, nofileCeiling: 20_000, memoryBytes: 24 * GB } } : raw);
};
const global = (cfg: string) => cfg.slice(0, cfg.indexOf("\ndefaults"));

describe("tier → HAProxy threads and CPU sets", () => {
    // stack → [threads per process, HAProxy's CPUs, CPUs left to the kernel]
    const expected: Record<string, [number, string, string]> = {
        "aws-16c30g": [3, "13-15", "0-12"],
        "aws-16c64g": [3, "13-15", "0-12"],
        "aws-4c30g": [3, "1-3", "0"],
        "aws-smoke": [1, "1", "0"],
        "local-16c30g": [1, "1", "0"],
        "local-16c64g": [1, "1", "0"],
        "local-4c30g": [1, "0", ""],
    };
    for (const [stack, [perProcess, cpus, kernel]] of Object.entries(expected)) {
        test(`${stack}: ${perProcess} thread(s) per process on CPU(s) ${cpus}, ${kernel || "none"} left to the kernel`, () => {
            const { cpu, processes } = planCapacity(tier(stack)).haproxy;
            assert.equal(cpu.threadsPerProcess, perProcess);
            assert.equal(cpuListText(cpu.cpus ?? []), cpus);
            assert.equal(cpuListText(cpu.kernelCpus), kernel);
            const cfg = global(renderHaproxyConfig({ ...GOLDEN_INPUT, cpu }));
            assert.match(cfg, new RegExp(`\\n {4}nbthread ${perProcess}\\n`));
            assert.ok(cfg.includes(`cpu-map ${cpuMapArgs(cpu)}`), cfg);
            // Locally HAProxy runs as several processes (20,000 open files each): every one on HAProxy's CPUs, one thread each.
            if (stack.startsWith("local")) assert.ok(processes > 1 && cfg.includes(`cpu-map 1/all ${cpus}`), `${processes} processes: ${cfg}`);
        });
    }

    test("the 16-core AWS tiers never give HAProxy every core: the seed's nbproc 3, one thread per CPU", () => {
        for (const stack of ["aws-16c30g", "aws-16c64g"]) {
            const { cpu } = planCapacity(tier(stack)).haproxy;
            assert.equal(cpu.threads, SEED_HAPROXY_CORES);
            assert.equal(cpuMapArgs(cpu), "auto:1/1-3 13-15");
            assert.equal((cpu.cpus?.length ?? 0) + cpu.kernelCpus.length, 16);
        }
    });

    test("default CPUs: the seed's 3 from the top, at least one CPU left over, no more than the quota's worth", () => {
        const cpus = (n: number, o = {}) => cpuListText(defaultHaproxyCpus([...Array(n).keys()], o));
        assert.deepEqual([cpus(16), cpus(8), cpus(4), cpus(2), cpus(1)], ["13-15", "5-7", "1-3", "1", "0"]);
        assert.equal(cpus(16, { threads: 6 }), "10-15", "the seed's 6-core runs");
        assert.equal(cpus(16, { threads: 16 }), "1-15", "never every core");
        assert.equal(cpus(2, { cpuQuota: 1 }), "1");
        assert.equal(cpuListText(defaultHaproxyCpus([4, 5, 6, 7], {})), "5-7", "a cgroup's own CPU numbers");
    });

    test("without known host CPUs HAProxy is not pinned; a CPU outside the host is refused naming the key", () => {
        const plain = planCapacity(parseLabConfig({ haproxy: { threads: 2 } })).haproxy.cpu;
        assert.equal(plain.cpus, undefined);
        assert.equal(cpuMapArgs(plain), undefined);
        assert.equal(plain.threadsPerProcess, 2);
        assert.throws(
            () => parseLabConfig({ haproxy: { cpus: "2-3" }, local: { hostLimits: { haproxy: { cpus: "0-1" } } } }),
            /c2m:haproxy\.cpus: CPU\(s\) 2,3 are not among the LB host's cgroup \(c2m:local\.hostLimits\.haproxy\.cpus "0-1"\)/,
        );
        assert.throws(
            () => parseLabConfig({ platform: "aws", aws: { instanceTypes: { haproxy: "r6i.xlarge" } }, haproxy: { cpus: "3-4" } }),
            /c2m:haproxy\.cpus: CPU\(s\) 4 are not among the 4 vCPUs of r6i\.xlarge/,
        );
        assert.throws(() => parseLabConfig({ haproxy: { cpus: "one" } }), /c2m:haproxy\.cpus: "one" is not a CPU list/);
    });
});

describe("plan → maxconn, open files, input backlog", () => {
    test("maxconn stands 25 % over the target (the seed saw 2.38M sockets for a 2.1M goal), open files twice that per process", () => {
        const { haproxy } = planCapacity(tier("aws-16c30g"));
        assert.equal(MAXCONN_HEADROOM, 1.25);
        assert.equal(haproxy.maxconnTotal, 1_312_500);
        assert.ok(haproxy.maxconnTotal * 2 >= 2_380_000, "the seed's 2.38M sockets fit");
        assert.equal(haproxy.processes, 1);
        assert.equal(haproxy.nofile, 2 * 1_312_500 + FD_OVERHEAD);
        assert.ok(haproxy.nofile <= 4_194_304, "within the seed's 4M open files");
        const local = planCapacity(tier("local-16c30g")).haproxy;
        assert.equal(local.maxconnTotal, Math.ceil(65_625 * 1.25));
        assert.ok(local.processes * local.maxconnPerProcess >= local.maxconnTotal);
        assert.ok(local.nofile <= 20_000);
    });

    test("an fd ceiling that cannot cover the headroom is refused with the number that breaks", () => {
        assert.throws(
            () => parseLabConfig({ plan: { connections: 1_000_000 }, haproxy: { processes: 1 }, local: { nofileCeiling: 2_200_000 } }),
            /c2m:haproxy\.processes: 1250000 connections \(c2m:plan\.connections 1000000 \+ 25 % headroom\) over 1 HAProxy process\(es\) need 2500256 open files each .* at most 2200000; use 2 processes/,
        );
        // An explicit maxconn says so.
        assert.throws(
            () => parseLabConfig({ plan: { connections: 1_000_000 }, haproxy: { processes: 1, maxconn: 1_000_000 }, local: { nofileCeiling: 1_500_000 } }),
            /1000000 connections \(c2m:haproxy\.maxconn 1000000\) over 1 HAProxy process/,
        );
    });

    test("netdev_max_backlog holds one packet per socket of the kernel, never under the kernel's 1,000, and is read back", () => {
        assert.equal(inputBacklog(10), DEFAULT_INPUT_BACKLOG);
        assert.equal(inputBacklog(262_500), 262_500);
        const config = tier("local-16c30g");
        const capacity = planCapacity(config);
        // One kernel locally: the LB's two sockets per connection, the clients' and the backends' one each.
        const plan = renderTuning({ role: "haproxy", capacity, backends: 2, kernelSockets: 4 * 65_625, memoryBytes: 24 * GB });
        const backlog = plan.kernel.find((s) => s.key === "net.core.netdev_max_backlog");
        assert.ok(backlog);
        assert.equal(backlog.value, "262500");
        assert.equal(backlog.atLeast, true, "a shared kernel's value is only raised");
        const script = tuningScript(kernelSysctls(262_500, 20_000, 24 * GB));
        assert.ok(script.includes("apply 'net.core.netdev_max_backlog' '262500' atleast required"));
        assert.ok(script.includes("check 'net.core.netdev_max_backlog' '262500' atleast required"), "read back after it is applied");
    });

    test("the read-back fails naming the key, the wanted and the live value when the kernel keeps another", () => {
        // A sysctl that does not take the write: the check reads the live value back.
        const script = tuningScript([{ key: "net.core.netdev_max_backlog", value: "262500", atLeast: true, why: "" }]).replace(
            /^apply .*$/m,
            'sysctl() { if [ "$1" = -n ]; then echo 1000; fi; }; true',
        );
        const r = runBash(script);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /net\.core\.netdev_max_backlog: wanted at least 262500, host has 1000/);
    });
});

describe("seed preset → rates", () => {
    test("milestone #2 generates the seed's 30 MB/s: 900 requests/s on 20 clients with bodies sized for it", () => {
        for (const p of ["seed-20min-plain", "seed-20min-tls"] as const) {
            const s = PRESET_SETTINGS[p];
            assert.equal(s.rate * SEED_CLIENTS, 900);
            assert.equal(PRESET_NETWORK_TARGETS[p]?.seedBytesPerS, SEED_M2_NETWORK_BYTES_PER_S);
            const planned = plannedNetworkBytesPerS(s, SEED_CLIENTS);
            assert.ok(planned >= 30_000_000 && planned < 30_001_000, String(planned));
        }
        assert.equal(PRESET_NETWORK_TARGETS.smoke, undefined, "only the milestone sized for a rate is checked on it");
    });

    test("the check passes at the planned rate and fails below 95 % of it, naming both", () => {
        const s = PRESET_SETTINGS["seed-20min-tls"];
        const planned = plannedNetworkBytesPerS(s, SEED_CLIENTS);
        const run = (share: number) => checkNetworkRate("seed-20min-tls", s, SEED_CLIENTS, { bytes_out: { total: planned * 3600 * share }, duration: 3600e9 });
        assert.equal(run(1)?.ok, true);
        assert.match(
            run(1)?.line ?? "",
            /^network 30\.0 MB\/s sent of 30\.0 MB\/s planned \(20 clients × 45\/s × 33334 B; the seed's milestone #2: 30 MB\/s\) reached$/,
        );
        assert.equal(run(NETWORK_RATE_MIN_SHARE)?.ok, true);
        const short = run(0.5);
        assert.equal(short?.ok, false);
        assert.match(short?.line ?? "", /network 15\.0 MB\/s sent of 30\.0 MB\/s planned .* NOT reached/);
        assert.equal(checkNetworkRate("seed-20min-tls", s, SEED_CLIENTS, undefined)?.ok, false, "no bytes read: not reached");
        assert.equal(checkNetworkRate("smoke", PRESET_SETTINGS.smoke, 2, undefined), undefined);
    });
});
