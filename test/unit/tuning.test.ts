import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LabConfigSchema } from "../../components/config.ts";
import { FD_OVERHEAD, MAXCONN_HEADROOM, PORTS_PER_SOURCE_ADDRESS, planCapacity, type CapacityPlan } from "../../components/plan/capacity.ts";
import {
    appliedSettings,
    hostSysctls,
    kernelSysctls,
    nofileFor,
    renderTuning,
    socketsOnHost,
    sysctlSaveScript,
    tuningScript,
    type Setting,
} from "../../components/render/tuning.ts";
import { bashSyntax, runBash, tempDir } from "./helpers.ts";

/** Capacity plan of a schema-valid config (plan checks are sizing.test.ts's business). */
const capacityOf = (raw: Record<string, unknown>): CapacityPlan => planCapacity(LabConfigSchema.parse(raw));

describe("socketsOnHost", () => {
    const cap = capacityOf({ plan: { connections: 10_000 }, hosts: { clients: 4, backends: 5 } });

    test("HAProxy holds two sockets per connection (client side and server side)", () => {
        assert.equal(socketsOnHost("haproxy", cap, 5), 2 * 10_000);
    });

    test("a client holds one per connection it opens; a backend one per connection it serves", () => {
        assert.equal(socketsOnHost("client", cap, 5), 10_000 / 4);
        assert.equal(socketsOnHost("backend", cap, 5), 10_000 / 5);
    });

    test("every connection ends on one client and one backend: the roles' sockets add up", () => {
        assert.equal(4 * socketsOnHost("client", cap, 5), 10_000);
        assert.equal(5 * socketsOnHost("backend", cap, 5), 10_000);
    });
});

describe("nofileFor", () => {
    test("HAProxy's nofile is two fds per connection of one process plus the overhead", () => {
        const cap = capacityOf({ plan: { connections: 100_000 }, local: { nofileCeiling: 1_048_576 } });
        assert.equal(cap.haproxy.processes, 1, "one process holds it all under a 1M ceiling");
        // maxconn is the plan's connections + MAXCONN_HEADROOM (the seed's maxconn stood above its goal, nofile at 2 × maxconn)
        assert.equal(nofileFor("haproxy", cap), 2 * Math.ceil(100_000 * MAXCONN_HEADROOM) + FD_OVERHEAD);
        // a client process holds one fd per connection of its source address
        assert.equal(nofileFor("client", cap), cap.client.connectionsPerAddress + FD_OVERHEAD);
    });

    test("under a low ceiling HAProxy is split into processes that each fit", () => {
        const ceiling = 20_000;
        const cap = capacityOf({ plan: { connections: 30_000 }, local: { nofileCeiling: ceiling } });
        // 60000 sockets do not fit one process: at least ceil(60000 / (20000 - overhead)) = 4 processes
        assert.ok(cap.haproxy.processes >= Math.ceil(60_000 / (ceiling - FD_OVERHEAD)));
        assert.ok(cap.haproxy.processes * cap.haproxy.maxconnPerProcess >= 30_000, "the processes together hold the plan");
        for (const role of ["haproxy", "client", "backend"] as const) {
            const nofile = nofileFor(role, cap);
            assert.ok(nofile <= ceiling, `${role} ${nofile}`);
        }
        assert.ok(2 * cap.haproxy.maxconnPerProcess + FD_OVERHEAD <= nofileFor("haproxy", cap));
    });

    test("small loads still get a comfortable floor of 4096, never above a lower ceiling", () => {
        assert.equal(nofileFor("backend", capacityOf({ plan: { connections: 10 }, local: { nofileCeiling: 20_000 } })), 4096);
        assert.equal(nofileFor("backend", capacityOf({ plan: { connections: 10 }, local: { nofileCeiling: 1000 } })), 1000);
    });
});

describe("renderTuning", () => {
    const cap = capacityOf({ plan: { connections: 4000 }, local: { nofileCeiling: 20_000 } });
    const input = { capacity: cap, backends: 2, kernelSockets: 4 * 4000, memoryBytes: 8 * 1024 ** 3 };

    test("gives each role its own nofile, per-host net.* settings and machine-wide settings", () => {
        for (const role of ["haproxy", "client", "backend"] as const) {
            const plan = renderTuning({ role, ...input });
            assert.equal(plan.nofile, nofileFor(role, cap));
            assert.ok(
                plan.sysctls.every((s) => s.key.startsWith("net.")),
                role,
            );
            assert.ok(plan.kernel.length > 0);
        }
    });

    test("refuses a nofile above the ceiling with a message that has both numbers", () => {
        const broken: CapacityPlan = { ...cap, nofileCeiling: 5000, haproxy: { ...cap.haproxy, nofile: 9000 } };
        assert.throws(
            () => renderTuning({ role: "haproxy", ...input, capacity: broken }),
            (err: Error) => {
                assert.match(err.message, /^haproxy: /);
                assert.ok(err.message.includes("9000") && err.message.includes("5000"), err.message);
                return true;
            },
        );
    });

    test("exactly at the ceiling is allowed", () => {
        const edge: CapacityPlan = { ...cap, nofileCeiling: 9000, client: { ...cap.client, nofile: 9000 } };
        assert.equal(renderTuning({ role: "client", ...input, capacity: edge }).nofile, 9000);
    });

    test("a host applies its net.* settings; with a kernel of its own, the machine-wide ones too, each key once", () => {
        const plan = renderTuning({ role: "backend", ...input });
        assert.deepEqual(appliedSettings(plan, true), plan.sysctls);
        const own = appliedSettings(plan, false);
        const keys = own.map((s) => s.key);
        assert.deepEqual(keys, [...new Set(keys)]);
        assert.deepEqual(new Set(keys), new Set([...plan.sysctls, ...plan.kernel].map((s) => s.key)));
        // the machine-wide entry wins where both lists have the key (nf_conntrack_max)
        for (const k of plan.kernel)
            assert.equal(
                own.find((s) => s.key === k.key),
                k,
            );
    });
});

describe("hostSysctls", () => {
    test("net.* keys only (per namespace), each once, each with a reason", () => {
        const settings = hostSysctls(10_000);
        for (const s of settings) {
            assert.match(s.key, /^net\./);
            assert.ok(s.why.length > 0, s.key);
        }
        assert.equal(new Set(settings.map((s) => s.key)).size, settings.length);
    });

    test("the port range holds PORTS_PER_SOURCE_ADDRESS ports, none privileged", () => {
        const range = hostSysctls(1)
            .find((s) => s.key === "net.ipv4.ip_local_port_range")
            ?.value.split(/\s+/)
            .map(Number);
        assert.ok(range && range.length === 2);
        assert.ok(range[0] >= 1024);
        assert.equal(range[1] - range[0] + 1, PORTS_PER_SOURCE_ADDRESS);
    });

    test("conntrack (where loaded) has room for every socket and never lowers a larger table", () => {
        for (const sockets of [10, 1_000_000, 5_000_000]) {
            const ct = hostSysctls(sockets).find((s) => s.key === "net.netfilter.nf_conntrack_max");
            assert.ok(ct);
            assert.ok(Number(ct.value) >= sockets, `${sockets}: ${ct.value}`);
            assert.equal(ct.atLeast, true);
            assert.equal(ct.optional, true, "kernels without conntrack skip it");
        }
    });

    test("buffers: min ≤ default ≤ max; many idle sockets get smaller default buffers than few", () => {
        const buf = (sockets: number, key: string) =>
            hostSysctls(sockets)
                .find((s) => s.key === key)!
                .value.split(" ")
                .map(Number);
        for (const key of ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]) {
            for (const sockets of [100, 2_000_000]) {
                const [min, def, max] = buf(sockets, key);
                assert.ok(min <= def && def <= max, `${key} ${sockets}`);
            }
            assert.ok(buf(2_000_000, key)[1] <= buf(100, key)[1], key);
        }
        assert.ok(buf(2_000_000, "net.ipv4.tcp_rmem")[1] < buf(100, "net.ipv4.tcp_rmem")[1]);
    });
});

describe("kernelSysctls", () => {
    const GB = 1024 ** 3;
    const get = (settings: Setting[], key: string) => settings.find((s) => s.key === key)!;

    test("fs.nr_open allows the largest nofile (and at least the usual 1M), only ever raised", () => {
        assert.equal(Number(get(kernelSysctls(10, 4_194_304, GB), "fs.nr_open").value), 4_194_304);
        assert.equal(Number(get(kernelSysctls(10, 20_000, GB), "fs.nr_open").value), 1_048_576);
        assert.equal(get(kernelSysctls(10, 20_000, GB), "fs.nr_open").atLeast, true);
    });

    test("fs.file-max has room for every socket and more", () => {
        for (const sockets of [0, 100_000, 8_000_000]) {
            assert.ok(Number(get(kernelSysctls(sockets, 1, GB), "fs.file-max").value) > sockets);
        }
    });

    test("tcp_mem: ascending pages, up to two pages per socket, never above 60% of memory", () => {
        const pages = (sockets: number, mem: number) =>
            get(kernelSysctls(sockets, 1, mem), "net.ipv4.tcp_mem")
                .value.split(" ")
                .map(Number);
        const [low, pressure, high] = pages(1000, 64 * GB);
        assert.ok(low < pressure && pressure < high);
        assert.equal(high, 2 * 1000, "2 pages per socket when memory allows");
        const capped = pages(100_000_000, 4 * GB)[2];
        assert.ok(capped * 4096 <= 0.6 * 4 * GB, `${capped} pages`);
        assert.ok(capped * 4096 > 0.59 * 4 * GB);
    });

    test("machine-wide keys are fs.*, tcp_mem, the input backlog and the conntrack ceiling only, and all only raise", () => {
        const machineWide = ["net.ipv4.tcp_mem", "net.netfilter.nf_conntrack_max", "net.core.netdev_max_backlog"];
        for (const s of kernelSysctls(1000, 20_000, GB)) {
            // nf_conntrack_max: a namespace cannot exceed the initial namespace's value; netdev_max_backlog has no per-namespace copy.
            assert.ok(s.key.startsWith("fs.") || machineWide.includes(s.key), s.key);
            assert.equal(s.atLeast, true, s.key);
        }
    });
});

// The script is run for real here, but `sysctl` is shadowed by a shell function that records
// every write (-w) instead of doing it and passes reads through: nothing on this machine changes.
const hasSysctl = existsSync("/proc/sys/net/core/somaxconn");
const read = (cmd: string) => runBash(cmd).stdout.trim();

/** Runs tuningScript with writes recorded in a file instead of applied. */
function runReadOnly(dir: string, script: string) {
    const writes = join(dir, "writes");
    const guard = `sysctl() { case " $* " in *" -w "*) printf '%s\\n' "$*" >> '${writes}'; return 0;; esac; command sysctl "$@"; }`;
    const r = runBash(`${guard}\n${script}`);
    return { ...r, writes: existsSync(writes) ? readFileSync(writes, "utf8").trim().split("\n") : [] };
}

describe("tuningScript on this machine (writes intercepted)", { skip: !hasSysctl && "no /proc/sys/net" }, () => {
    const somaxconn = read("sysctl -n net.core.somaxconn");
    const portRange = read("sysctl -n net.ipv4.ip_local_port_range").split(/\s+/).join(" ");
    const hardNofile = read("ulimit -Hn");
    const nofileOk = hardNofile === "unlimited" ? 4096 : Math.min(Number(hardNofile), 4096);
    const setting = (key: string, value: string, extra: Partial<Setting> = {}): Setting => ({ key, value, why: "test", ...extra });

    test("bash parses it, with and without a nofile check", () => {
        const settings = [...hostSysctls(1000), ...kernelSysctls(1000, 20_000, 1024 ** 3)];
        assert.equal(bashSyntax(tuningScript(settings)).status, 0);
        assert.equal(bashSyntax(tuningScript(settings, 4096)).status, 0);
    });

    test("values the host already has pass: exit 0, nothing on stderr; every setting was applied first", (t) => {
        const dir = tempDir(t);
        const r = runReadOnly(dir, tuningScript([setting("net.core.somaxconn", somaxconn), setting("net.ipv4.ip_local_port_range", portRange)], nofileOk));
        assert.equal(r.stderr, "");
        assert.equal(r.status, 0);
        assert.deepEqual(r.writes, [`-q -w net.core.somaxconn=${somaxconn}`, `-q -w net.ipv4.ip_local_port_range=${portRange}`]);
        assert.equal(read("sysctl -n net.core.somaxconn"), somaxconn, "nothing was written");
    });

    test("a value the host did not take fails (exit 1) naming the key, the wanted and the actual value", (t) => {
        const dir = tempDir(t);
        const wrong = String(Number(somaxconn) + 1);
        const r = runReadOnly(dir, tuningScript([setting("net.core.somaxconn", wrong)]));
        assert.equal(r.status, 1);
        assert.equal(r.stderr.trim(), `net.core.somaxconn: wanted ${wrong}, host has ${somaxconn}`);
    });

    test("every mismatch is reported, not only the first", (t) => {
        const dir = tempDir(t);
        const [low, high] = portRange.split(" ");
        const r = runReadOnly(
            dir,
            tuningScript([setting("net.core.somaxconn", String(Number(somaxconn) + 1)), setting("net.ipv4.ip_local_port_range", `${low} ${Number(high) - 1}`)]),
        );
        assert.equal(r.status, 1);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 2);
        assert.equal(lines[1], `net.ipv4.ip_local_port_range: wanted ${low} ${Number(high) - 1}, host has ${low} ${high}`);
    });

    test("'at least' settings: a host above the value passes, below fails saying 'at least'; the write never lowers", (t) => {
        // (somaxconn rather than fs.file-max: the latter can be 2^63-1, beyond exact JS numbers)
        const below = String(Number(somaxconn) - 1);
        const ok = runReadOnly(tempDir(t), tuningScript([setting("net.core.somaxconn", below, { atLeast: true })]));
        assert.equal(ok.status, 0, ok.stderr);
        assert.deepEqual(ok.writes, [`-q -w net.core.somaxconn=${somaxconn}`], "the larger current value is kept");

        const above = String(Number(somaxconn) + 1);
        const bad = runReadOnly(tempDir(t), tuningScript([setting("net.core.somaxconn", above, { atLeast: true })]));
        assert.equal(bad.status, 1);
        assert.deepEqual(bad.writes, [`-q -w net.core.somaxconn=${above}`]);
        assert.equal(bad.stderr.trim(), `net.core.somaxconn: wanted at least ${above}, host has ${somaxconn}`);
    });

    test("'at least' compares vectors component by component", (t) => {
        const [low, high] = portRange.split(" ").map(Number);
        // one component above, one below the host's: not "at least"
        const r = runReadOnly(tempDir(t), tuningScript([setting("net.ipv4.ip_local_port_range", `${low - 1} ${high + 1}`, { atLeast: true })]));
        assert.equal(r.status, 1);
        assert.match(r.stderr, /^net\.ipv4\.ip_local_port_range: wanted at least /);
        assert.deepEqual(r.writes, [`-q -w net.ipv4.ip_local_port_range=${low} ${high + 1}`], "component-wise maximum");
    });

    test("a missing key fails when required and is skipped when optional", (t) => {
        const dir = tempDir(t);
        const required = runReadOnly(dir, tuningScript([setting("net.c2m.no_such_key", "1")]));
        assert.equal(required.status, 1);
        assert.match(required.stderr, /^net\.c2m\.no_such_key: not available on this host$/m);
        assert.match(required.stderr, /^net\.c2m\.no_such_key: wanted 1, host has <missing>$/m);
        assert.deepEqual(required.writes, []);

        const optional = runReadOnly(tempDir(t), tuningScript([setting("net.c2m.no_such_key", "1", { optional: true })]));
        assert.equal(optional.status, 0, optional.stderr);
        assert.equal(optional.stderr, "");
    });

    test("nofile within the hard limit passes; above it fails naming nofile", (t) => {
        assert.equal(runReadOnly(tempDir(t), tuningScript([], nofileOk)).status, 0);
        // Above fs.nr_open no process can get it, root or not; it is also above the hard limit.
        const impossible = Number(readFileSync("/proc/sys/fs/nr_open", "utf8")) + 1;
        const r = runReadOnly(tempDir(t), tuningScript([], impossible));
        assert.equal(r.status, 1);
        assert.match(r.stderr, new RegExp(`^nofile: wanted ${impossible}, host allows ${hardNofile}$`, "m"));
    });

    test("the nofile check does not change the calling shell's limit", () => {
        const r = runBash(
            `before=$(ulimit -n)\n${tuningScript([], 1024).replace(/exit \$fail$/, "")}\n[ "$(ulimit -n)" = "$before" ] || { echo changed >&2; exit 1; }`,
        );
        assert.equal(r.status, 0, r.stderr);
    });
});

describe("sysctlSaveScript on this machine (reads only)", { skip: !hasSysctl && "no /proc/sys/net" }, () => {
    test("prints key=value for every key the host has, with whitespace normalised, and skips missing ones", () => {
        const r = runBash(
            sysctlSaveScript([
                { key: "net.core.somaxconn", value: "1", why: "" },
                { key: "net.ipv4.ip_local_port_range", value: "1 2", why: "" },
                { key: "net.c2m.no_such_key", value: "1", why: "" },
            ]),
        );
        const lines = r.stdout.trim().split("\n");
        assert.deepEqual(lines, [
            `net.core.somaxconn=${read("sysctl -n net.core.somaxconn")}`,
            `net.ipv4.ip_local_port_range=${read("sysctl -n net.ipv4.ip_local_port_range").split(/\s+/).join(" ")}`,
        ]);
    });
});
