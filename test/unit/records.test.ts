// One schema per record (components/records): each round-trips through its file; a damaged or
// old file gives one error naming the file and the failing fields; ledger lines as they have
// always been written still parse; the stack outputs schema lists exactly what index.ts exports.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LabConfigSchema } from "../../components/config.ts";
import { planCapacity } from "../../components/plan/capacity.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";
import { parseRecord, readRecord, writeRecord } from "../../components/records/io.ts";
import { LedgerRowSchema, type LedgerRow } from "../../components/records/ledgerRow.ts";
import { RunRecordSchema, type RunRecord } from "../../components/records/runRecord.ts";
import { StackOutputsSchema, type StackOutputs } from "../../components/records/stackOutputs.ts";
import { TippingRecordSchema, type TippingRecord } from "../../components/records/tippingRecord.ts";
import { ledgerRow, parseLedger } from "../../scripts/analysis/ledgerRows.ts";
import { tempDir } from "./helpers.ts";

const INDEX = fileURLToPath(new URL("../../index.ts", import.meta.url));

/** A run.json as `lab attack` writes it: vegeta's own report fields (bytes_in, …) are kept. */
function runRecord(): RunRecord {
    const vegeta = {
        requests: 2000,
        success: 0.999,
        rate: 200.1,
        throughput: 199.8,
        status_codes: { "200": 1998, "0": 2 },
        errors: ["timeout"],
        latencies: { total: 6.4e10, mean: 3.2e7, "50th": 3.1e7, "90th": 4.5e7, "95th": 5e7, "99th": 5.7e7, max: 6.4e7, min: 1e6 },
        bytes_in: { total: 8000, mean: 4 },
        earliest: "2026-11-25T12:00:00.1Z",
        duration: 5e9,
    };
    return {
        runId: "20261125-120000-local",
        stack: "local",
        startedAt: "2026-11-25T12:00:00.000Z",
        finishedAt: "2026-11-25T12:00:06.500Z",
        interrupted: false,
        settings: { ...PRESET_SETTINGS.smoke },
        processes: [
            { client: "client-0", frontend: "plain", laddr: "198.18.0.10", ratePerSecond: 100, connections: 500 },
            { client: "client-0", frontend: "tls", laddr: "198.18.0.10", ratePerSecond: 100, connections: 500 },
        ],
        versions: { pulumi: "v3.270.0", node: "22.23.3", vegeta: "Version: 12.12.0", haproxy: "HAProxy version 2.6.12" },
        summary: vegeta,
        perFrontend: { plain: vegeta },
        haproxy: { plain: { sessions: 40, requests: 1000 } },
        backend: { sessionsTotal: 1000, current: 0, connectionErrors: 0, responseErrors: 0, serversUp: 20, servers: 20 },
        serversDown: [],
        failedProcesses: [{ client: "client-1", frontend: "plain", laddr: "198.18.0.11", code: 255, stderr: "ssh: connection refused" }],
    };
}

function tippingRecord(): TippingRecord {
    return {
        id: "tipping-20261125-120000-local",
        stack: "local",
        elapsedS: 81.5,
        args: {
            stack: "local",
            startRate: 20,
            factor: 2,
            tolerance: 0.05,
            maxSteps: 8,
            p99Factor: 2,
            maxErrorRatio: 0.001,
            durationS: 10,
            frontend: "plain",
            sleepMs: 0,
            times: 0,
            timeoutS: 30,
        },
        knee: 226,
        uncertainty: 0.04,
        lastGood: 213.3,
        firstBad: 240,
        baselineP99Ms: 12,
        converged: true,
        stopReason: "bracket within ±5 %",
        steps: [
            {
                rate: 20,
                p50Ms: 10,
                p99Ms: 12,
                errorRatio: 0,
                requests: 200,
                throughput: 20,
                runId: "20261125-120000-local",
                step: 1,
                phase: "baseline",
                good: true,
                reason: "baseline",
            },
            { rate: 240, p50Ms: 30, p99Ms: 80, errorRatio: 0, requests: 2400, step: 2, phase: "ramp", good: false, reason: "p99 80.0 ms > 2× baseline" },
        ],
    };
}

function stackOutputs(): StackOutputs {
    const labConfig = LabConfigSchema.parse({ hosts: { metrics: 1 } });
    return {
        inventory: [
            {
                name: "haproxy-0",
                role: "haproxy",
                address: "198.18.0.2",
                sourceAddresses: [],
                workDir: "/run/c2m/local/haproxy-0",
                ssh: { host: "198.18.0.2", port: 22, user: "root", binPath: "/usr/local/bin" },
            },
            {
                name: "metrics-0",
                role: "metrics",
                address: "198.18.0.9",
                sourceAddresses: [],
                workDir: "/run/c2m/local/metrics-0",
                ssh: { host: "198.18.0.9", port: 22, user: "root", binPath: "/usr/local/bin" },
            },
        ],
        vips: { plain: "http://198.18.0.2:80/ping", stats: ["http://198.18.0.2:8404/stats"] },
        sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\n…",
        labConfig,
        namespacePrefix: "c2m-local-",
        runDir: "/run/c2m/local",
        haproxyConfig: "global\n",
        haproxyPids: "101\n102",
        capacityPlan: planCapacity(labConfig),
        metricsEndpoint: { prometheus: "http://198.18.0.9:9090", haproxyLog: "http://198.18.0.9:5140", scrapeIntervalS: 1 },
        vegetaVersions: ["Version: 12.12.0"],
        nofile: { "haproxy-0": 20000 },
        expiresAt: "2026-11-25T16:00:00Z",
    };
}

/** A ledger line exactly as ledgerRow + JSON.stringify have appended it since the ledger exists. */
const OLD_LEDGER_LINE =
    '{"id":"20261125-120000-local","stack":"local","tier":"local","preset":"smoke","startedAt":"2026-11-25T12:00:00.000Z",' +
    '"durationS":6.5,"rate":200,"clients":2,"frontends":["plain","tls"],"requests":2000,"errors":0,"errorPct":0,"p50Ms":32.35,' +
    '"p99Ms":57.02,"maxMs":64.18,"peakConns":19,"peakConnsSource":"vegeta","verdict":"pass","why":"errors 0.00 % ≤ 0.1 %"}';
const OLD_LEDGER_LINE_NO_RESULTS =
    '{"id":"20261125-130000-dev5","stack":"dev5","tier":"local","preset":"custom","startedAt":"2026-11-25T13:00:00.000Z",' +
    '"durationS":3,"rate":5,"clients":1,"frontends":["plain"],"requests":0,"errors":0,"errorPct":100,"p50Ms":null,"p99Ms":null,' +
    '"maxMs":null,"peakConns":null,"peakConnsSource":"none","verdict":"interrupted","why":"stopped by the operator"}';

describe("records round-trip through their files", () => {
    test("run.json, tipping.json: written, read back equal", (t) => {
        const dir = tempDir(t);
        for (const [name, schema, value] of [
            ["run.json", RunRecordSchema, runRecord()],
            ["tipping.json", TippingRecordSchema, tippingRecord()],
        ] as const) {
            const file = join(dir, name);
            writeRecord(file, schema, value);
            assert.deepEqual(readRecord(file, schema), value, name);
        }
    });

    test("stack outputs and a ledger row parse back to what was serialised", () => {
        const out = stackOutputs();
        assert.deepEqual(parseRecord(JSON.stringify(out), StackOutputsSchema, "outputs"), out);
        const row: LedgerRow = ledgerRow(runRecord(), { preset: "smoke", platform: "local", peakConns: 19, peakConnsSource: "metrics" });
        assert.deepEqual(parseRecord(JSON.stringify(row), LedgerRowSchema, "ledger.jsonl:1"), row);
    });

    test("outputs Pulumi adds that the schema does not know are dropped; optional ones may be absent", () => {
        const { metricsEndpoint: _, ...local } = stackOutputs();
        const parsed = parseRecord(JSON.stringify({ ...local, somethingNew: 1 }), StackOutputsSchema, "outputs");
        assert.equal("somethingNew" in parsed, false);
        assert.equal(parsed.metricsEndpoint, undefined);
    });

    test("the stack outputs schema names exactly what index.ts exports", () => {
        const exported = [...readFileSync(INDEX, "utf8").matchAll(/^export const (\w+)/gm)].map((m) => m[1]).sort();
        assert.deepEqual(Object.keys(StackOutputsSchema.shape).sort(), exported);
    });
});

describe("a damaged or old file: one error naming the file and the fields", () => {
    const damaged = (t: import("node:test").TestContext, text: string) => {
        const file = join(tempDir(t), "run.json");
        writeFileSync(file, text);
        return () => readRecord(file, RunRecordSchema);
    };
    const valid = () => runRecord() as unknown as Record<string, unknown>;

    test("a field of the wrong type", (t) => {
        const run = runRecord() as unknown as { processes: Record<string, unknown>[] };
        run.processes[0].ratePerSecond = "100";
        assert.throws(damaged(t, JSON.stringify(run)), /run\.json: field processes\.0\.ratePerSecond: expected number, received string$/);
    });

    test("a missing field (an older run.json), and several at once", (t) => {
        const { serversDown: _, ...old } = valid();
        assert.throws(damaged(t, JSON.stringify(old)), /run\.json: field serversDown: missing \(expected array or "unknown"\)$/);
        const { settings: __, runId: ___, ...worse } = valid();
        assert.throws(damaged(t, JSON.stringify(worse)), /run\.json: field runId: missing \(expected string\); field settings: missing \(expected object\)$/);
    });

    test("a field the schema does not know (a typo, a newer writer)", (t) => {
        assert.throws(damaged(t, JSON.stringify({ ...valid(), serverDown: [] })), /run\.json: record: Unrecognized key: "serverDown"/);
    });

    test("invalid JSON, an empty file, no file", (t) => {
        assert.throws(damaged(t, '{"runId": "x",'), /run\.json: not valid JSON: /);
        assert.throws(damaged(t, ""), /run\.json: empty, expected a JSON record/);
        assert.throws(damaged(t, "[]"), /run\.json: record: expected object, received array/);
        assert.throws(() => readRecord(join(tempDir(t), "none", "tipping.json"), TippingRecordSchema), /none\/tipping\.json: no such file/);
    });

    test("an invalid record is refused before it reaches a file", (t) => {
        const file = join(tempDir(t), "tipping.json");
        const bad = { ...tippingRecord(), steps: [{ ...tippingRecord().steps[0], phase: "climb" }] } as unknown as TippingRecord;
        assert.throws(() => writeRecord(file, TippingRecordSchema, bad), /tipping\.json: refusing to write an invalid record: field steps\.0\.phase: /);
        assert.equal(existsSync(file), false);
    });
});

describe("the ledger", () => {
    test("lines as the ledger has always written them still parse", () => {
        const { rows, problems } = parseLedger(`${OLD_LEDGER_LINE}\n${OLD_LEDGER_LINE_NO_RESULTS}\n`, "runs/ledger.jsonl");
        assert.deepEqual(problems, []);
        assert.deepEqual(
            rows.map((r) => [r.id, r.p99Ms, r.peakConns, r.verdict]),
            [
                ["20261125-120000-local", 57.02, 19, "pass"],
                ["20261125-130000-dev5", null, null, "interrupted"],
            ],
        );
    });

    test("a torn or damaged line is skipped and named with its line number and field", () => {
        const torn = OLD_LEDGER_LINE.slice(0, 40);
        const wrong = OLD_LEDGER_LINE.replace('"requests":2000', '"requests":"2000"');
        const { rows, problems } = parseLedger([OLD_LEDGER_LINE, torn, wrong].join("\n"), "runs/ledger.jsonl");
        assert.equal(rows.length, 1);
        assert.match(problems[0], /^runs\/ledger\.jsonl:2: not valid JSON: .*\(line skipped\)$/);
        assert.match(problems[1], /^runs\/ledger\.jsonl:3: field requests: expected number, received string \(line skipped\)$/);
    });
});
