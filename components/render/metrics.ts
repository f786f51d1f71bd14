// The metrics role, rendered: prometheus.yml (node_exporter on every host, HAProxy's PROMEX,
// every pong's /metrics), the shell that starts/stops Prometheus, node_exporter and a per-role
// process sampler (CPU and RSS of the host's own processes, via node_exporter's textfile
// collector), the panels a run pulls back with query_range, and those drawn from the per-host
// samples the run recorded itself (hostSamplePanels). Pure.
import { BACKEND_NAME } from "./haproxyConfig.ts";
import type { HostSamples } from "../records/runRecord.ts";

/** Ports of the lab's own exporters; off the packages' defaults (9090/9100) so a system service never clashes. */
export const PROMETHEUS_PORT = 9190;
export const NODE_EXPORTER_PORT = 9110;

export interface MetricsPaths {
    dir: string;
    textfile: string;
    tsdb: string;
    config: string;
    pids: string;
}

export function metricsPaths(workDir: string): MetricsPaths {
    const dir = `${workDir}/metrics`;
    return { dir, textfile: `${dir}/textfile`, tsdb: `${dir}/tsdb`, config: `${dir}/prometheus.yml`, pids: `${dir}/pids` };
}

export interface ScrapeTarget {
    job: "node" | "haproxy" | "pong" | "prometheus";
    address: string;
    labels: { host: string; role: string };
}

export interface PrometheusInput {
    scrapeIntervalS: number;
    targets: ScrapeTarget[];
}

/** prometheus.yml: one job per exporter kind, one static config per target (so each carries its host and role). */
export function renderPrometheusConfig(input: PrometheusInput): string {
    const s = `${input.scrapeIntervalS}s`;
    const jobs = ["node", "haproxy", "pong", "prometheus"] as const;
    const lines = ["global:", `  scrape_interval: ${s}`, `  scrape_timeout: ${s}`, `  evaluation_interval: ${s}`, "scrape_configs:"];
    for (const job of jobs) {
        const targets = input.targets.filter((t) => t.job === job);
        if (targets.length === 0) continue;
        lines.push(`  - job_name: ${job}`, "    static_configs:");
        for (const t of targets) {
            lines.push(`      - targets: ["${t.address}"]`, `        labels: {host: "${t.labels.host}", role: "${t.labels.role}"}`);
        }
    }
    return `${lines.join("\n")}\n`;
}

/**
 * Every second: CPU seconds and resident memory of this host's lab processes (those whose command
 * line names its work dir: haproxy, pong, vegeta, node_exporter, prometheus), summed per command
 * name, written atomically for node_exporter's textfile collector. The process list (pgrep) is
 * refreshed every second too: a process started for a short step (vegeta in a 4 s tipping step)
 * must be in the counters from its first second, or the step's CPU leaves out what it used before
 * it was found. Each second then costs a pgrep and one awk that reads the /proc stat files itself
 * (a process gone meanwhile is skipped). The sampler's own shell is left out.
 */
export function procstatLoop(workDir: string, textfileDir: string, awkFile: string): string {
    const out = `${textfileDir}/c2m_procstat.prom`;
    return [
        "export TCK=$(getconf CLK_TCK) PAGE=$(getconf PAGESIZE) PIDS=''",
        "while :; do",
        `  PIDS=$(pgrep -d ' ' -f '${workDir}/'); export PIDS`,
        `  awk -f ${awkFile} > ${out}.tmp && mv ${out}.tmp ${out}`,
        "  sleep 1",
        "done",
    ].join("\n");
}

/**
 * The sampler's awk program: the stat files of PIDS, summed per command name. It lives in a file
 * of its own (awk -f), so no shell reads it and nothing in it needs quoting.
 */
export const PROCSTAT_AWK = [
    'BEGIN { tck = ENVIRON["TCK"]; page = ENVIRON["PAGE"]; n = split(ENVIRON["PIDS"], pids, " ");',
    '  for (i = 1; i <= n; i++) { file = "/proc/" pids[i] "/stat"; if ((getline line < file) > 0) record(line); close(file) }',
    '  print "# TYPE c2m_process_cpu_seconds_total counter"; for (c in cpu) printf "c2m_process_cpu_seconds_total{comm=\\"%s\\"} %.2f\\n", c, cpu[c];',
    '  print "# TYPE c2m_process_resident_memory_bytes gauge"; for (c in rss) printf "c2m_process_resident_memory_bytes{comm=\\"%s\\"} %d\\n", c, rss[c];',
    '  print "# TYPE c2m_processes gauge"; for (c in cnt) printf "c2m_processes{comm=\\"%s\\"} %d\\n", c, cnt[c] }',
    'function record(line,   comm, f) { sub(/^[0-9]+ \\(/, "", line); comm = substr(line, 1, index(line, ") ") - 1); sub(/^.*\\) /, "", line); split(line, f, " ");',
    "  if (comm ~ /^(sh|bash|sleep|pgrep|awk|cat|mv|ssh|sshd)$/) return;",
    "  cpu[comm] += (f[12] + f[13]) / tck; rss[comm] += f[22] * page; cnt[comm]++ }",
].join("\n");

/** Starts node_exporter (and the process sampler) on one host, listening on its lab address. */
export function nodeExporterStartScript(p: MetricsPaths, workDir: string, address: string): string {
    return [
        "set -eu",
        `mkdir -p ${p.textfile}`,
        `for pid in $(cat ${p.pids} 2>/dev/null); do kill $pid 2>/dev/null || true; done`,
        `: > ${p.pids}`,
        `cat > ${p.dir}/procstat.awk <<'C2M_EOF'\n${PROCSTAT_AWK}\nC2M_EOF`,
        `cat > ${p.dir}/procstat.sh <<'C2M_EOF'\n${procstatLoop(workDir, p.textfile, `${p.dir}/procstat.awk`)}\nC2M_EOF`,
        `setsid sh ${p.dir}/procstat.sh </dev/null >/dev/null 2>&1 &`,
        `echo $! >> ${p.pids}`,
        `setsid prometheus-node-exporter --web.listen-address=${address}:${NODE_EXPORTER_PORT} --collector.textfile.directory=${p.textfile}` +
            ` --no-collector.arp --no-collector.bcache --no-collector.btrfs --no-collector.infiniband --no-collector.ipvs --no-collector.nfs` +
            ` --no-collector.nfsd --no-collector.xfs --no-collector.zfs --no-collector.mdadm --no-collector.tapestats --no-collector.fibrechannel` +
            ` </dev/null >${p.dir}/node_exporter.log 2>&1 &`,
        `echo $! >> ${p.pids}`,
        `for i in $(seq 1 50); do curl -fsS -o /dev/null http://${address}:${NODE_EXPORTER_PORT}/metrics && exit 0; sleep 0.1; done`,
        `echo "node_exporter on ${address} did not answer; its log:" >&2; cat ${p.dir}/node_exporter.log >&2; exit 1`,
    ].join("\n");
}

/** Reads prometheus.yml on stdin, checks it, (re)starts Prometheus and waits until it is ready. */
export function prometheusStartScript(p: MetricsPaths, address: string, retentionHours: number): string {
    const pidFile = `${p.dir}/prometheus.pid`;
    return [
        "set -eu",
        `mkdir -p ${p.tsdb}`,
        `cat > ${p.config}.new`,
        `if ! out=$(promtool check config ${p.config}.new 2>&1); then echo "promtool rejected prometheus.yml:" >&2; echo "$out" >&2; exit 1; fi`,
        `mv ${p.config}.new ${p.config}`,
        `old=$(cat ${pidFile} 2>/dev/null || true)`,
        `if [ -n "$old" ]; then kill $old 2>/dev/null || true; for i in $(seq 1 50); do kill -0 $old 2>/dev/null || break; sleep 0.1; done; fi`,
        `setsid prometheus --config.file=${p.config} --storage.tsdb.path=${p.tsdb} --web.listen-address=${address}:${PROMETHEUS_PORT}` +
            ` --storage.tsdb.retention.time=${retentionHours}h --log.level=warn </dev/null >${p.dir}/prometheus.log 2>&1 &`,
        `echo $! > ${pidFile}`,
        `for i in $(seq 1 100); do curl -fsS -o /dev/null http://${address}:${PROMETHEUS_PORT}/-/ready && exit 0; sleep 0.2; done`,
        `echo "prometheus on ${address} is not ready; its log:" >&2; tail -n 30 ${p.dir}/prometheus.log >&2; exit 1`,
    ].join("\n");
}

export function prometheusStopScript(p: MetricsPaths): string {
    const pidFile = `${p.dir}/prometheus.pid`;
    return [
        `pid=$(cat ${pidFile} 2>/dev/null || true)`,
        `if [ -n "$pid" ]; then kill $pid 2>/dev/null || true; for i in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; kill -KILL $pid 2>/dev/null || true; fi`,
        `rm -rf ${p.tsdb} ${p.config} ${pidFile}`,
    ].join("\n");
}

export function nodeExporterStopScript(p: MetricsPaths): string {
    return [
        `for pid in $(cat ${p.pids} 2>/dev/null); do kill $pid 2>/dev/null || true; done`,
        "sleep 0.3",
        `for pid in $(cat ${p.pids} 2>/dev/null); do kill -KILL $pid 2>/dev/null || true; done`,
        `rm -rf ${p.textfile} ${p.pids} ${p.dir}/procstat.sh ${p.dir}/procstat.awk ${p.dir}/node_exporter.log`,
    ].join("\n");
}

/** A panel of the report and the PromQL behind each of its series (`by` labels name the series). */
export interface PanelQuery {
    id: string;
    title: string;
    unit: "count" | "bytes" | "percent" | "per_s" | "bytes_per_s" | "seconds";
    queries: { expr: string; label: string }[];
}

/** What a run records; `{{x}}` in a label is replaced by the series' label x. `w` is the rate window. */
export function panelQueries(scrapeIntervalS: number): PanelQuery[] {
    const w = `${Math.max(4 * scrapeIntervalS, 2)}s`;
    return [
        { id: "tcp", title: "TCP connections established, per host", unit: "count", queries: [{ expr: "node_netstat_Tcp_CurrEstab", label: "{{host}}" }] },
        {
            id: "haproxy-conns",
            title: "HAProxy connections (CurrConns, CurrSslConns)",
            unit: "count",
            queries: [
                { expr: "sum(haproxy_process_current_connections)", label: "CurrConns" },
                { expr: "sum(haproxy_process_current_ssl_connections)", label: "CurrSslConns" },
                { expr: 'sum by (proxy) (haproxy_frontend_current_sessions{proxy!="stats"})', label: "frontend {{proxy}}" },
                { expr: 'sum(haproxy_backend_current_sessions{proxy="pong"})', label: "backend pong" },
            ],
        },
        {
            id: "haproxy-ssl",
            title: "HAProxy SSL: key rate (per s) and session reuse (%)",
            unit: "per_s",
            queries: [
                { expr: "sum(haproxy_process_current_frontend_ssl_key_rate)", label: "SSL key rate" },
                { expr: "avg(haproxy_process_frontend_ssl_reuse)", label: "session reuse %" },
            ],
        },
        {
            id: "errors",
            title: "Errors per second (HAProxy backend and frontend)",
            unit: "per_s",
            queries: [
                { expr: `sum(rate(haproxy_backend_connection_errors_total{proxy="${BACKEND_NAME}"}[${w}]))`, label: "backend connection errors" },
                { expr: `sum(rate(haproxy_backend_response_errors_total{proxy="${BACKEND_NAME}"}[${w}]))`, label: "backend response errors" },
                { expr: `sum(rate(haproxy_frontend_http_responses_total{code="5xx",proxy!="stats"}[${w}]))`, label: "5xx sent to clients" },
                { expr: `sum(rate(haproxy_frontend_request_errors_total{proxy!="stats"}[${w}]))`, label: "request errors" },
            ],
        },
        {
            id: "pong",
            title: "Pong servers: responses per second, in flight, queued",
            unit: "count",
            queries: [
                { expr: `sum(rate(pong_responses_total[${w}]))`, label: "responses/s" },
                { expr: "sum(pong_in_flight)", label: "in flight" },
                { expr: "sum(pong_queued)", label: "queued (capacity limit)" },
            ],
        },
        {
            id: "cpu",
            title: "CPU per role and process (% of one core)",
            unit: "percent",
            queries: [{ expr: `sum by (role, comm) (rate(c2m_process_cpu_seconds_total[${w}])) * 100`, label: "{{role}} {{comm}}" }],
        },
        {
            id: "memory",
            title: "Resident memory per role and process",
            unit: "bytes",
            queries: [{ expr: "sum by (role, comm) (c2m_process_resident_memory_bytes)", label: "{{role}} {{comm}}" }],
        },
        {
            id: "machine",
            title: "Memory in use per host (machine-wide: local hosts share one kernel)",
            unit: "bytes",
            queries: [{ expr: "max by (host) (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)", label: "{{host}}" }],
        },
        {
            id: "net-bytes",
            title: "Network bytes per second, per host (received + sent)",
            unit: "bytes_per_s",
            queries: [
                { expr: `sum by (host) (rate(node_network_receive_bytes_total{device!="lo"}[${w}]))`, label: "{{host}} in" },
                { expr: `sum by (host) (rate(node_network_transmit_bytes_total{device!="lo"}[${w}]))`, label: "{{host}} out" },
            ],
        },
        {
            id: "net-packets",
            title: "Packets per second, per host (received + sent)",
            unit: "per_s",
            queries: [
                { expr: `sum by (host) (rate(node_network_receive_packets_total{device!="lo"}[${w}]))`, label: "{{host}} in" },
                { expr: `sum by (host) (rate(node_network_transmit_packets_total{device!="lo"}[${w}]))`, label: "{{host}} out" },
            ],
        },
    ];
}

/**
 * The metrics role's own cost: Prometheus, every node_exporter and the HAProxy log sink (node on
 * the metrics host). The per-host process sampler's shell is not in it (measured apart: docs/results/rate.md).
 */
export const OVERHEAD_QUERIES = (scrapeIntervalS: number) => {
    const w = `${Math.max(4 * scrapeIntervalS, 2)}s`;
    const own = (metric: string, f: (sel: string) => string) =>
        `(${f(`${metric}{comm=~"prometheus.*"}`)} or vector(0)) + (${f(`${metric}{role="metrics",comm="node"}`)} or vector(0))`;
    return {
        cpuPct: `(${own("c2m_process_cpu_seconds_total", (sel) => `sum(rate(${sel}[${w}]))`)}) * 100`,
        rssBytes: own("c2m_process_resident_memory_bytes", (sel) => `sum(${sel})`),
    };
};

export interface PromMatrix {
    metric: Record<string, string>;
    values: [number, string][];
}

export function seriesLabel(template: string, metric: Record<string, string>): string {
    return template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => metric[k] ?? "?");
}

/** A query_range answer as panel series; NaN/Inf samples are dropped. */
export function toSeries(template: string, result: PromMatrix[]): { label: string; values: [number, number][] }[] {
    return result
        .map((r) => ({
            label: seriesLabel(template, r.metric),
            values: r.values.map(([t, v]) => [t, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)),
        }))
        .sort((a, b) => a.label.localeCompare(b.label));
}

/** UDP port HAProxy sends its request log to (syslog), and TCP port the sink serves it on. */
export const HAPROXY_LOG_PORT = 5514;

/** Reads the sink program (backend/logSink.ts) on stdin and starts it on the metrics host. */
export function logSinkStartScript(p: MetricsPaths, address: string): string {
    return [
        "set -eu",
        `mkdir -p ${p.dir}`,
        `cat > ${p.dir}/logSink.ts`,
        `pid=$(cat ${p.dir}/logsink.pid 2>/dev/null || true); [ -n "$pid" ] && kill $pid 2>/dev/null || true`,
        `setsid node ${p.dir}/logSink.ts --listen ${address}:${HAPROXY_LOG_PORT} --file ${p.dir}/haproxy.log </dev/null >${p.dir}/logsink.out 2>&1 &`,
        `echo $! > ${p.dir}/logsink.pid`,
        `for i in $(seq 1 50); do curl -fsS -o /dev/null http://${address}:${HAPROXY_LOG_PORT}/health && exit 0; sleep 0.1; done`,
        `echo "the log sink on ${address} did not answer; its output:" >&2; cat ${p.dir}/logsink.out >&2; exit 1`,
    ].join("\n");
}

export function logSinkStopScript(p: MetricsPaths): string {
    return [
        `pid=$(cat ${p.dir}/logsink.pid 2>/dev/null || true)`,
        `if [ -n "$pid" ]; then kill $pid 2>/dev/null || true; sleep 0.3; kill -KILL $pid 2>/dev/null || true; fi`,
        `rm -f ${p.dir}/logSink.ts ${p.dir}/logsink.pid ${p.dir}/logsink.out ${p.dir}/haproxy.log`,
    ].join("\n");
}

/** A panel drawn from samples the run recorded itself (same shape as a pulled one; `t` in Unix seconds). */
export interface SampledPanel {
    id: string;
    title: string;
    unit: "bytes" | "percent";
    series: { label: string; values: [number, number][] }[];
}

/**
 * Each host's own memory and CPU over the run (run.json hostSamples, local cgroups): memory per
 * host with its limit, the load balancer's memory by part, and CPU per host in % of one core
 * (from the CPU-time counter between readings). Pure.
 */
export function hostSamplePanels(h: HostSamples | undefined): SampledPanel[] {
    if (!h) return [];
    const hosts = Object.entries(h.hosts).sort(([a], [b]) => a.localeCompare(b));
    const at = (t: number) => t / 1000;
    const memory = hosts.flatMap(([name, x]) => [
        { label: name, values: x.samples.map((s) => [at(s.t), s.memoryBytes] as [number, number]) },
        ...(x.limitBytes === undefined || x.samples.length === 0
            ? []
            : [{ label: `${name} limit`, values: [x.samples[0], x.samples[x.samples.length - 1]].map((s) => [at(s.t), x.limitBytes!] as [number, number]) }]),
    ]);
    const parts = hosts
        .filter(([, x]) => x.role === "haproxy")
        .flatMap(([name, x]) =>
            (
                [
                    ["user (anon)", "anonBytes"],
                    ["kernel (slab, stacks)", "kernelBytes"],
                    ["socket buffers", "socketBytes"],
                    ["page cache", "fileBytes"],
                ] as const
            ).map(([what, k]) => ({ label: `${name} ${what}`, values: x.samples.map((s) => [at(s.t), s[k]] as [number, number]) })),
        );
    const cpu = hosts.map(([name, x]) => ({
        label: name,
        values: x.samples.slice(1).map((s, i) => {
            const prev = x.samples[i];
            return [at(s.t), s.t > prev.t ? Math.round(((s.cpuNs - prev.cpuNs) / 1e6 / (s.t - prev.t)) * 1000) / 10 : 0] as [number, number];
        }),
    }));
    return [
        { id: "host-memory", title: "Memory per host, its own cgroup (user + kernel + socket buffers), with its limit", unit: "bytes", series: memory },
        { id: "host-memory-lb", title: "Load balancer host's memory by part (its cgroup)", unit: "bytes", series: parts },
        { id: "host-cpu", title: "CPU per host, its own cgroup (% of one core)", unit: "percent", series: cpu },
    ];
}
