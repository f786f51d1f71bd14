// End to end on the local platform with the real Pulumi engine, sshd, HAProxy, vegeta and
// pong servers: up, attack through the plain and TLS frontends, torn down by the scheduled reaper past its TTL, zero residue.
// Needs root (network namespaces) and the toolchain (`npm run bootstrap`).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv } from "../../scripts/toolchain/toolchain.ts";
import { outputs, stackExists, teardownStack, up } from "../../scripts/lib/pulumiStack.ts";
import { reapExpired } from "../../scripts/lib/stackLeases.ts";
import { stackConfigFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { localResidue, reapLocal } from "../../components/platform/local/residue.ts";
import { attack } from "../../scripts/lib/attackRun.ts";
import { fetchStats } from "../../scripts/lib/runReadings.ts";
import { Remote } from "../../scripts/lib/remote.ts";
import { localNames } from "../../components/platform/local/scripts.ts";
import { spawnSync } from "node:child_process";
import { ConfigError } from "../../components/config.ts";

const STACK = "e2e";
const BAD_STACK = "e2ebad";
const runsDir = mkdtempSync(join(tmpdir(), "c2m-e2e-runs-"));
/** A stack's settings: generated ones live in the cache, never in the checkout. */
const stackFile = (stack: string) => stackConfigFile(stack);

function writeStackConfig(stack: string, edit: (config: Record<string, any>) => void): void {
    const doc = YAML.parse(readFileSync(stackFile("local"), "utf8"));
    edit(doc.config);
    writeGeneratedStack(stack, YAML.stringify(doc));
}

before(async () => {
    await reapLocal(STACK);
    // Its own subnet, so the test never touches an operator's `local` lab.
    writeStackConfig(STACK, (c) => {
        c["c2m:local"] = { subnet: "198.18.200.0/24" };
    });
});

after(async () => {
    // Runs also when a test failed midway: nothing of either stack may remain.
    await teardownStack(STACK, stackFile(STACK));
    await teardownStack(BAD_STACK, stackFile(BAD_STACK));
    rmSync(runsDir, { recursive: true, force: true });
    for (const stack of [STACK, BAD_STACK]) {
        const residue = await localResidue(stack);
        assert.equal(residueCount(residue), 0, describeResidue(residue));
    }
});

test("an impossible plan is refused before any resource exists", async () => {
    writeStackConfig(BAD_STACK, (c) => {
        c["c2m:local"] = { subnet: "198.18.201.0/24" };
        // 150k per client cannot fit one source address (64512 ports, < 20000 open files).
        c["c2m:plan"] = { connections: 300_000, tlsShare: 0, sourceAddressesPerClient: 1 };
    });
    await assert.rejects(up(BAD_STACK), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(
            (err as Error).message,
            /c2m:plan\.sourceAddressesPerClient: 300000 connections over 2 clients need \d+ source addresses per client .* config gives 1/,
        );
        return true;
    });
    assert.equal(await stackExists(BAD_STACK), false, "no stack may be created for a refused plan");
    assert.equal(residueCount(await localResidue(BAD_STACK)), 0);
});

test("up, attack through plain and TLS frontends: all requests succeed and cross HAProxy; the reaper ends the lab past its TTL", async () => {
    await up(STACK);
    const out = await outputs(STACK);
    assert.equal(out.inventory.length, 6, "1 haproxy + 2 backends + 2 clients + 1 metrics");
    assert.equal((await localResidue(STACK)).namespaces.length, 6, "one namespace per host");
    assert.ok(!JSON.stringify(out.inventory).includes("PRIVATE KEY"), "inventory carries no key");
    await operatorReachesSshOnly(out);

    const rate = 150;
    const durationS = 4;
    const result = await attack(STACK, { preset: "smoke", rate, durationS, sleepMs: 20, times: 2 }, runsDir);
    const clients = out.inventory.filter((h) => h.role === "client").length;
    const expected = rate * durationS * clients;

    assert.equal(result.failedProcesses.length, 0, JSON.stringify(result.failedProcesses));
    // vegeta stops at its duration: starved of CPU (three lab files on 2 cores) its pacer has fallen a
    // hit or two short of rate × duration (1,199 of 1,200, twice in CI); a client or a frontend left
    // out would be half or less.
    const nearPlanned = (got: number | undefined, planned: number, what: string) =>
        assert.ok(got !== undefined && got <= planned && got >= planned * 0.99, `${what}: ${got} requests of ${planned} planned`);
    nearPlanned(result.summary?.requests, expected, "all clients");
    assert.equal(result.summary?.success, 1, `success ratio ${result.summary?.success}, errors ${result.summary?.errors}`);
    assert.deepEqual(Object.keys(result.summary?.status_codes ?? {}), ["200"]);
    // pong's responses take 3 random waits of 0..21 ms: nothing should come close to 1 s.
    assert.ok((result.summary?.latencies["99th"] ?? Infinity) < 1e9, "p99 under 1 s");
    for (const frontend of ["plain", "tls"] as const) {
        const vegeta = result.perFrontend[frontend];
        const haproxy = result.haproxy[frontend];
        nearPlanned(vegeta?.requests, expected / 2, `${frontend}: half of the requests`);
        assert.ok(
            haproxy && haproxy.requests >= vegeta!.requests,
            `${frontend}: HAProxy counted ${haproxy?.requests} requests, vegeta sent ${vegeta?.requests}`,
        );
        assert.ok(haproxy.sessions > 0, `${frontend}: connections crossed HAProxy`);
    }
    const run = JSON.parse(readFileSync(join(result.dir, "run.json"), "utf8"));
    assert.match(run.versions.haproxy, /HAProxy version 2\./);
    assert.match(run.versions.vegeta, /12\.13\.0/);
    // Each host's own memory and CPU through the run (its cgroup, read over its SSH).
    assert.deepEqual(Object.keys(run.hostSamples?.hosts ?? {}).sort(), out.inventory.map((h) => h.name).sort(), JSON.stringify(run.hostSamples?.unreadable));
    for (const [host, h] of Object.entries<{ samples: { memoryBytes: number; cpuNs: number }[] }>(run.hostSamples.hosts)) {
        assert.ok(h.samples.length >= 2 && h.samples.every((s) => s.memoryBytes > 0), `${host}: ${h.samples.length} readings with memory`);
    }
    const lbSamples = run.hostSamples.hosts[out.inventory.find((h) => h.role === "haproxy")!.name].samples;
    assert.ok(lbSamples.at(-1).cpuNs > lbSamples[0].cpuNs, "the LB host's CPU time rose while it proxied");
    assert.ok(existsSync(join(result.dir, "report.txt")));
    assert.ok(existsSync(join(result.dir, "metrics.json")), "server-side metrics of the run were pulled from Prometheus");
    const metrics = JSON.parse(readFileSync(join(result.dir, "metrics.json"), "utf8"));
    assert.ok(
        metrics.panels.some((p: { series: unknown[] }) => p.series.length > 0),
        "with series in them",
    );
    assert.ok(metrics.peakConns > 0, `HAProxy's connections over the run: peak ${metrics.peakConns}`);
    // The request log, from the metrics host's sink: every request of the run is in it.
    const log = JSON.parse(readFileSync(join(result.dir, "haproxy-log-summary.json"), "utf8"));
    assert.ok(log.requests >= result.summary!.requests, `${log.requests} requests logged, ${result.summary!.requests} sent`);
    assert.ok(existsSync(join(result.dir, "haproxy.log.gz")));
    assert.equal(existsSync(join(result.dir, "haproxy.log.part")), false, "the streamed part is gone");
    // HAProxy's counters as the run recorded them (read on the LB over SSH, before and after).
    assert.match(readFileSync(join(result.dir, "haproxy-stats-after.csv"), "utf8"), /^api_plain,FRONTEND,/m);
    const runFiles = readFileSync(join(result.dir, "run.json"), "utf8") + readFileSync(join(result.dir, "config.yaml"), "utf8");
    assert.ok(!runFiles.includes(out.sshPrivateKey.trim().split("\n")[1]), "the SSH key never reaches the run directory");

    // Torn down the way an unattended lab is: the scheduled reaper (`lab reap --expired`), once past its TTL.
    assert.deepEqual(await reapExpired(new Date(), [STACK]), [], `not reaped before its TTL (${out.labConfig.ttlHours} h)`);
    const pastTtl = new Date(Date.now() + out.labConfig.ttlHours * 3_600_000 + 60_000);
    const reaped = await reapExpired(pastTtl, [STACK]);
    assert.equal(reaped.length, 1);
    assert.equal(reaped[0].residue, 0);
    assert.equal(await stackExists(STACK), false, "the expired stack is removed");
    const residue = await localResidue(STACK);
    assert.equal(residueCount(residue), 0, describeResidue(residue));
    assert.equal(firewallTableExists(), false, "the stack's firewall table went with the bridge");
});

function firewallTableExists(): boolean {
    return spawnSync("nft", ["list", "table", "inet", localNames(STACK).firewallTable]).status === 0;
}

/** Opens a TCP connection from the operator's machine; false when refused, dropped or timed out. */
function operatorConnects(url: string, timeoutMs = 2000): Promise<boolean> {
    return fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).then(
        () => true,
        () => false,
    );
}

/**
 * As on EC2 (security group: SSH from the operator's CIDR only): from the operator, HAProxy's
 * statistics, a pong server and Prometheus do not answer, while the same pages read on the hosts
 * over SSH do; and a command over SSH runs without the operator's ~/.bashrc (no pyenv).
 */
async function operatorReachesSshOnly(out: Awaited<ReturnType<typeof outputs>>): Promise<void> {
    assert.ok(firewallTableExists(), "the stack's firewall table is in place");
    const backend = out.inventory.find((h) => h.role === "backend")!;
    const pong = `http://${backend.address}:${out.labConfig.backend.basePort}/ping`;
    const denied = [`${out.vips.stats[0]};csv`, pong, out.vips.plain, ...(out.metricsEndpoint ? [`${out.metricsEndpoint.prometheus}/-/ready`] : [])];
    const t0 = Date.now();
    const direct = await Promise.all(denied.map((url) => operatorConnects(url)));
    assert.deepEqual(
        Object.fromEntries(denied.map((u, i) => [u, direct[i]])),
        Object.fromEntries(denied.map((u) => [u, false])),
        "a direct request from the operator fails",
    );
    process.stderr.write(`operator → hosts: ${denied.length} direct HTTP requests failed (${Date.now() - t0} ms)\n`);
    const remote = Remote.forLab(out, { env: labEnv() });
    try {
        const stats = await fetchStats(remote, out.vips.stats);
        assert.ok(
            stats.some((r) => r.pxname === "api_plain" && r.svname === "FRONTEND"),
            "the same statistics, read on the LB over SSH",
        );
        const fromClient = await remote.request(pong, { from: out.inventory.find((h) => h.role === "client")!.name });
        assert.equal(fromClient.status, 200, "a client reaches the pong port across the bridge");
        const env = await remote.check(out.inventory.find((h) => h.role === "haproxy")!.name, "env; ls -A ~");
        assert.doesNotMatch(env, /^PYENV/m, "no pyenv: the operator's ~/.bashrc was not read");
        assert.doesNotMatch(env, /^\.bashrc$/m, "root's home on a host is its own");
    } finally {
        await remote.close();
    }
}
