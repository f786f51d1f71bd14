// The metrics role's rendered pieces: prometheus.yml (checked by promtool when installed), the
// start/stop scripts (parsed by bash), the process sampler (run for real on this machine), and
// the shaping of query_range answers into report panels.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
    NODE_EXPORTER_PORT,
    PROMETHEUS_PORT,
    logSinkStartScript,
    logSinkStopScript,
    metricsPaths,
    nodeExporterStartScript,
    nodeExporterStopScript,
    panelQueries,
    procstatLoop,
    PROCSTAT_AWK,
    prometheusStartScript,
    prometheusStopScript,
    renderPrometheusConfig,
    seriesLabel,
    toSeries,
} from "../../components/render/metrics.ts";
import { METRICS_DEFAULTS } from "../../components/config.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { parseHaproxyLogLine, summariseHaproxyLog, terminationMeaning } from "../../scripts/analysis/metricsLog.ts";
import dgram from "node:dgram";
import { fileURLToPath } from "node:url";

const SINK = fileURLToPath(new URL("../../backend/logSink.ts", import.meta.url));
import { bashSyntax, freeLoopbackPort, runBash, tempDir, which } from "./helpers.ts";

const TARGETS = [
    { job: "node" as const, address: `198.18.0.2:${NODE_EXPORTER_PORT}`, labels: { host: "haproxy-0", role: "haproxy" } },
    { job: "haproxy" as const, address: "198.18.0.2:8404", labels: { host: "haproxy-0", role: "haproxy" } },
    { job: "haproxy" as const, address: "198.18.0.2:8405", labels: { host: "haproxy-0", role: "haproxy" } },
    { job: "pong" as const, address: "198.18.0.3:8282", labels: { host: "backend-0", role: "backend" } },
    { job: "prometheus" as const, address: `198.18.0.7:${PROMETHEUS_PORT}`, labels: { host: "metrics-0", role: "metrics" } },
];

describe("prometheus.yml", () => {
    const yml = renderPrometheusConfig({ scrapeIntervalS: 1, targets: TARGETS });

    test("scrapes every second; one job per exporter kind, each target labelled with host and role", () => {
        assert.match(yml, /^global:\n {2}scrape_interval: 1s\n {2}scrape_timeout: 1s/);
        assert.deepEqual(
            [...yml.matchAll(/job_name: (\w+)/g)].map((m) => m[1]),
            ["node", "haproxy", "pong", "prometheus"],
        );
        assert.match(yml, /targets: \["198\.18\.0\.2:8405"\]\n {8}labels: \{host: "haproxy-0", role: "haproxy"\}/);
        assert.equal(renderPrometheusConfig({ scrapeIntervalS: 1, targets: TARGETS }), yml, "same input, same text");
    });

    test("promtool accepts it", (t) => {
        const promtool = which("promtool");
        if (!promtool) {
            t.skip("promtool not installed (npm run bootstrap)");
            return;
        }
        const dir = tempDir(t);
        writeFileSync(join(dir, "prometheus.yml"), yml);
        const r = runBash(`${promtool} check config ${dir}/prometheus.yml`);
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    test("c2m:metrics defaults: 1 s scrapes, no metrics host unless asked", () => {
        const c = parseLabConfig({});
        assert.deepEqual([c.hosts.metrics, c.metrics], [undefined, undefined]);
        assert.deepEqual(METRICS_DEFAULTS, { scrapeIntervalS: 1, retentionHours: 24 });
        assert.equal(parseLabConfig({ metrics: { scrapeIntervalS: 5 } }).metrics?.retentionHours, 24);
        assert.equal(parseLabConfig({ hosts: { metrics: 1 } }).hosts.metrics, 1);
        assert.throws(() => parseLabConfig({ hosts: { metrics: 2 } }), /c2m:hosts\.metrics/);
        assert.throws(() => parseLabConfig({ metrics: { scrapeIntervalS: 0.1 } }), /c2m:metrics\.scrapeIntervalS/);
    });
});

describe("metrics scripts", () => {
    const p = metricsPaths("/run/c2m/dev/metrics-0");

    test("every script parses; exporters listen on the host's lab address only", () => {
        for (const [name, script] of Object.entries({
            nodeStart: nodeExporterStartScript(p, "/run/c2m/dev/metrics-0", "198.18.0.7"),
            nodeStop: nodeExporterStopScript(p),
            promStart: prometheusStartScript(p, "198.18.0.7", 24),
            promStop: prometheusStopScript(p),
        })) {
            const r = bashSyntax(script);
            assert.equal(r.status, 0, `${name}: ${r.stderr}`);
        }
        assert.match(
            nodeExporterStartScript(p, "/w", "198.18.0.7"),
            /--web\.listen-address=198\.18\.0\.7:9110 --collector\.textfile\.directory=\/run\/c2m\/dev\/metrics-0\/metrics\/textfile/,
        );
        assert.match(
            prometheusStartScript(p, "198.18.0.7", 24),
            /promtool check config .*\n.*\n.*\n.*\n.*--web\.listen-address=198\.18\.0\.7:9190 --storage\.tsdb\.retention\.time=24h/,
        );
    });

    test("the process sampler reports CPU and RSS of the host's processes, per command, and not itself", async (t) => {
        const dir = tempDir(t);
        const workDir = join(dir, "host");
        runBash(`mkdir -p ${workDir}/pong ${dir}/textfile`);
        // A stand-in for a lab process: its command line names the host's work dir.
        writeFileSync(join(workDir, "pong", "busy.js"), "let x = 0; const end = Date.now() + 20000; while (Date.now() < end) x++;");
        const busy = spawn(process.execPath, [join(workDir, "pong", "busy.js")], { stdio: "ignore" });
        writeFileSync(join(dir, "procstat.awk"), PROCSTAT_AWK);
        writeFileSync(join(dir, "procstat.sh"), procstatLoop(workDir, join(dir, "textfile"), join(dir, "procstat.awk")));
        const sampler = spawn("sh", [join(dir, "procstat.sh")], { stdio: "ignore", detached: true });
        t.after(() => {
            busy.kill("SIGKILL");
            try {
                process.kill(-sampler.pid!, "SIGKILL");
            } catch {
                /* gone */
            }
        });
        const file = join(dir, "textfile", "c2m_procstat.prom");
        let text = "";
        for (let i = 0; i < 40 && !/cpu_seconds_total\{comm="node"\} [1-9]/.test(text); i++) {
            await new Promise((r) => setTimeout(r, 250));
            text = existsSync(file) ? readFileSync(file, "utf8") : "";
        }
        assert.match(text, /^# TYPE c2m_process_cpu_seconds_total counter$/m);
        assert.match(text, /^c2m_process_cpu_seconds_total\{comm="node"\} [1-9]\d*\.\d\d$/m);
        const rss = Number(/c2m_process_resident_memory_bytes\{comm="node"\} (\d+)/.exec(text)?.[1]);
        assert.ok(rss > 10 * 2 ** 20 && rss < 2 ** 30, `node RSS ${rss}`);
        assert.match(text, /^c2m_processes\{comm="node"\} 1$/m);
        assert.doesNotMatch(text, /comm="(sh|sleep|awk|pgrep)"/);
    });

    test("the process sampler looks for new processes at every reading, so a process of a short step is counted from its first second", (t) => {
        const dir = tempDir(t);
        // Stand-ins on PATH: pgrep logs each search, sleep logs each reading and ends the loop after five.
        runBash(`mkdir -p ${dir}/bin ${dir}/textfile
cat > ${dir}/bin/pgrep <<'EOF2'
#!/bin/sh
echo search >> ${dir}/log
EOF2
cat > ${dir}/bin/sleep <<'EOF2'
#!/bin/sh
echo reading >> ${dir}/log
[ "$(grep -c reading ${dir}/log)" -ge 5 ] && kill $PPID
exit 0
EOF2
chmod +x ${dir}/bin/pgrep ${dir}/bin/sleep`);
        writeFileSync(join(dir, "procstat.awk"), PROCSTAT_AWK);
        writeFileSync(join(dir, "procstat.sh"), procstatLoop(join(dir, "host"), join(dir, "textfile"), join(dir, "procstat.awk")));
        runBash(`sh ${dir}/procstat.sh`, { env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` }, timeoutMs: 20_000 });
        const log = readFileSync(join(dir, "log"), "utf8").trim().split("\n");
        assert.equal(log.filter((l) => l === "reading").length, 5);
        // Each reading is preceded by its own search.
        assert.deepEqual(log, Array.from({ length: 5 }, () => ["search", "reading"]).flat());
    });
});

describe("panels", () => {
    test("each panel has queries; rate windows follow the scrape interval", () => {
        const panels = panelQueries(1);
        assert.ok(panels.length >= 8);
        assert.ok(panels.every((p) => p.queries.length > 0));
        assert.ok(
            panels
                .flatMap((p) => p.queries)
                .filter((q) => q.expr.includes("rate("))
                .every((q) => q.expr.includes("[4s]")),
        );
        assert.ok(
            panelQueries(15)
                .flatMap((p) => p.queries)
                .filter((q) => q.expr.includes("rate("))
                .every((q) => q.expr.includes("[60s]")),
        );
        const ids = panels.map((p) => p.id);
        for (const needed of ["tcp", "haproxy-conns", "haproxy-ssl", "errors", "cpu", "memory", "net-bytes", "net-packets"])
            assert.ok(ids.includes(needed), needed);
    });

    test("query_range answers become labelled series; NaN samples are dropped", () => {
        assert.equal(seriesLabel("{{role}} {{comm}}", { role: "haproxy", comm: "haproxy" }), "haproxy haproxy");
        assert.equal(seriesLabel("{{host}}", {}), "?");
        const series = toSeries("{{host}}", [
            {
                metric: { host: "b" },
                values: [
                    [1, "2"],
                    [2, "NaN"],
                    [3, "+Inf"],
                ],
            },
            { metric: { host: "a" }, values: [[1, "5"]] },
        ]);
        assert.deepEqual(series, [
            { label: "a", values: [[1, 5]] },
            { label: "b", values: [[1, 2]] },
        ]);
    });
});

describe("HAProxy request log", () => {
    const LINE = `1795649278408 Nov 25 23:27:58 haproxy[2697]: 198.18.50.5:39055 [25/Nov/2026:23:27:58.183] api_tls~ pong/backend-0-8283 0/3/1/211/223 200 146 - - ---- 20/18/17/2/0 4/9 "POST /ping HTTP/1.1"`;

    test("a line as the sink keeps it: arrival time, frontend (TLS ~ dropped), server, the five timers, state, queues", () => {
        assert.deepEqual(parseHaproxyLogLine(LINE), {
            atMs: 1795649278408,
            frontend: "api_tls",
            backend: "pong",
            server: "backend-0-8283",
            tq: 0,
            tw: 3,
            tc: 1,
            tr: 211,
            ta: 223,
            status: 200,
            bytes: 146,
            termination: "----",
            actconn: 20,
            srvQueue: 4,
            backendQueue: 9,
        });
        const aborted = parseHaproxyLogLine(
            `[25/Nov/2026:23:27:58.183] api_plain pong/<NOSRV> 0/-1/-1/-1/+5 503 217 - - sQ-- 1/1/0/0/0 0/0 "POST /ping HTTP/1.1"`,
            7,
        );
        assert.deepEqual([aborted?.atMs, aborted?.tw, aborted?.ta, aborted?.status, aborted?.termination], [7, -1, 5, 503, "sQ--"]);
        assert.equal(parseHaproxyLogLine("Proxy api_plain started."), undefined);
    });

    test("termination states read as words", () => {
        assert.equal(terminationMeaning("----"), "normal end");
        assert.equal(terminationMeaning("sQ--"), "server timeout, waiting in the queue");
        assert.equal(terminationMeaning("CD--"), "client aborted, during the data phase");
    });

    test("a run's lines sum up to timer percentiles, state and status counts and a per-second timeline; scrapes left out", () => {
        const records = Array.from({ length: 100 }, (_, i) => ({
            ...parseHaproxyLogLine(LINE)!,
            atMs: 1000 + i * 20,
            tw: i,
            tr: 100 + i,
            ta: 101 + 2 * i,
            termination: i < 3 ? "sH--" : "----",
        }));
        records.push({ ...records[0], frontend: "stats", tw: 10_000 });
        const s = summariseHaproxyLog(records, { startMs: 1000 });
        assert.equal(s.requests, 100);
        const tw = s.timers.find((t) => t.name === "Tw")!;
        assert.deepEqual([tw.p50, tw.p90, tw.p99, tw.max, tw.reached], [49, 89, 98, 99, 100]);
        assert.deepEqual(
            s.termination.map((t) => [t.state, t.count]),
            [
                ["----", 97],
                ["sH--", 3],
            ],
        );
        assert.deepEqual(s.status, [{ code: "200", count: 100 }]);
        assert.deepEqual(
            s.timeline.bins.map((b) => [b.t, b.requests]),
            [
                [0, 50],
                [1, 50],
            ],
        );
        assert.deepEqual(s.maxQueue, { server: 4, backend: 9 });
    });

    test("the sink program keeps UDP lines with their arrival time and serves a time window (127.0.0.1)", async (t) => {
        const dir = tempDir(t);
        const port = await freeLoopbackPort();
        const sink = spawn(process.execPath, [SINK, "--listen", `127.0.0.1:${port}`, "--file", join(dir, "haproxy.log")], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        t.after(() => sink.kill("SIGKILL"));
        await new Promise<void>((resolve, reject) => {
            sink.stdout.once("data", () => resolve());
            sink.once("exit", (c) => reject(new Error(`sink exited ${c}`)));
        });
        const udp = dgram.createSocket("udp4");
        const t0 = Date.now();
        for (let i = 0; i < 20; i++)
            await new Promise<void>((r) => udp.send(`<134>${LINE.slice(14).replace("0/3/1/211/223", `0/${i}/1/211/223`)}`, port, "127.0.0.1", () => r()));
        udp.close();
        await new Promise((r) => setTimeout(r, 200));
        const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { received: number; written: number };
        assert.deepEqual([health.received, health.written], [20, 20]);
        const lines = (await (await fetch(`http://127.0.0.1:${port}/lines?from=${t0 - 1}&to=${Date.now()}`)).text()).trim().split("\n");
        assert.equal(lines.length, 20);
        assert.deepEqual(
            lines.map((l) => parseHaproxyLogLine(l)?.tw),
            Array.from({ length: 20 }, (_, i) => i),
        );
        assert.ok(lines.every((l) => Math.abs(parseHaproxyLogLine(l)!.atMs - t0) < 5000));
        assert.equal(await (await fetch(`http://127.0.0.1:${port}/lines?from=0&to=${t0 - 10_000}`)).text(), "");
    });

    test("the sink's start and stop scripts parse", () => {
        const p = metricsPaths("/run/c2m/dev/metrics-0");
        for (const script of [logSinkStartScript(p, "198.18.0.7"), logSinkStopScript(p)]) assert.equal(bashSyntax(script).status, 0);
        assert.match(logSinkStartScript(p, "198.18.0.7"), /--listen 198\.18\.0\.7:5514 --file \/run\/c2m\/dev\/metrics-0\/metrics\/haproxy\.log/);
    });
});
