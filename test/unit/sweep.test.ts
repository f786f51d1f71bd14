// `lab sweep`, without a lab: --set parsing, the cells and their order, each cell's stack file and
// config checks, and the comparison page (table with links to each cell's report, plots).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import {
    applyToStackConfig,
    attackOverrides,
    cellRawConfig,
    comparisonTable,
    labPart,
    parseSet,
    parseValue,
    sweepCells,
    sweepCharts,
} from "../../scripts/analysis/sweepMatrix.ts";
import { buildSweepReport, checkCells, stackFileWith } from "../../scripts/lib/sweepRun.ts";
import { renderReportHtml } from "../../scripts/analysis/reportPage.ts";
import { SweepRecordSchema, type SweepRecord } from "../../components/records/sweepRecord.ts";
import { LedgerRowSchema, type LedgerRow } from "../../components/records/ledgerRow.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { tempDir } from "./helpers.ts";

describe("--set", () => {
    test("values: numbers, booleans, +-joined lists, text", () => {
        assert.equal(parseValue("2"), 2);
        assert.equal(parseValue("0.5"), 0.5);
        assert.equal(parseValue("false"), false);
        assert.deepEqual(parseValue("plain+tls"), ["plain", "tls"]);
        assert.equal(parseValue("rsa-2048"), "rsa-2048");
    });

    test("key=v1,v2 (c2m: prefix optional)", () => {
        assert.deepEqual(parseSet("haproxy.threads=1,2"), { key: "haproxy.threads", values: [1, 2] });
        assert.deepEqual(parseSet("c2m:haproxy.tls.certificate=ecdsa-p256,rsa-2048"), { key: "haproxy.tls.certificate", values: ["ecdsa-p256", "rsa-2048"] });
        // a list key: each value is a list, a single one a one-item list
        assert.deepEqual(parseSet("attack.frontends=plain,tls,plain+tls"), { key: "attack.frontends", values: [["plain"], ["tls"], ["plain", "tls"]] });
    });

    test("refused: no value, an empty or repeated value, a key that is what the lab is", () => {
        for (const [arg, why] of [
            ["haproxy.threads", /expected key=value/],
            ["haproxy.threads=1,,2", /an empty value/],
            ["haproxy.threads=1,1", /given twice/],
            ["platform=aws", /what the lab is/],
            ["local.subnet=198.18.1.0/24", /what the lab is/],
        ] as const) {
            assert.throws(() => parseSet(arg), why, arg);
        }
    });
});

describe("cells", () => {
    test("every combination, lab keys outer and attack keys inner (fewest lab changes)", () => {
        const cells = sweepCells([parseSet("attack.frontends=plain,tls"), parseSet("haproxy.threads=1,2")]);
        assert.deepEqual(
            cells.map((c) => [c.values["haproxy.threads"], c.values["attack.frontends"]]),
            [
                [1, ["plain"]],
                [1, ["tls"]],
                [2, ["plain"]],
                [2, ["tls"]],
            ],
        );
        assert.ok(cells.every((c, i) => c.index === i && c.status === "pending"));
        assert.equal(labPart(cells[0].values), labPart(cells[1].values));
        assert.notEqual(labPart(cells[1].values), labPart(cells[2].values));
        assert.equal(sweepCells([parseSet("a.b=1,2,3"), parseSet("c.d=1,2"), parseSet("attack.rate=1,2")]).length, 12);
    });

    test("a key given twice is refused", () => {
        assert.throws(() => sweepCells([parseSet("haproxy.threads=1"), parseSet("haproxy.threads=2")]), /given twice/);
    });

    test("attack keys become lab attack overrides; lab keys go into the stack's config, nested keys merged", () => {
        const values = { "haproxy.tls.certificate": "rsa-2048", "haproxy.threads": 2, "attack.frontends": ["tls"], "attack.rate": 50 };
        assert.deepEqual(attackOverrides(values), { frontends: ["tls"], rate: 50 });
        const config = { "c2m:haproxy": { maxconn: 4000, tls: { enabled: true } }, "c2m:hosts": { clients: 2 } };
        assert.deepEqual(applyToStackConfig(config, values), {
            "c2m:haproxy": { maxconn: 4000, threads: 2, tls: { enabled: true, certificate: "rsa-2048" } },
            "c2m:hosts": { clients: 2 },
        });
        assert.deepEqual(config["c2m:haproxy"], { maxconn: 4000, tls: { enabled: true } }, "the input is untouched");
        const raw = cellRawConfig(config, values, { durationS: 5, rate: 10 });
        assert.deepEqual(raw.attack, { durationS: 5, rate: 50, frontends: ["tls"] }, "the cell's attack keys beat the sweep's");
    });

    test("the stack file written for a cell says the same as the config the cell was checked with, comments kept", () => {
        const original = readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8");
        const values = { "haproxy.tls.certificate": "rsa-2048", "haproxy.threads": 2, "backend.serversPerHost": 2, "attack.rate": 5 };
        const written = stackFileWith(original, values);
        assert.deepEqual(YAML.parse(written).config, applyToStackConfig(YAML.parse(original).config, values));
        assert.ok(written.includes("# Local rehearsal stack"), "the file's comments are kept");
        assert.doesNotMatch(written, /rate: 5/, "attack keys never go into the stack file");
    });

    test("every cell is checked like a stack file before anything runs; problems name the cell and the key", () => {
        const config = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8")).config;
        const keys = [parseSet("haproxy.threads=1,0"), parseSet("attack.frontends=plain,tls")];
        const problems = checkCells({ keys, cells: sweepCells(keys), attack: {} }, config);
        assert.equal(problems.length, 2);
        assert.match(problems[0], /^cell 3 \(haproxy\.threads=0, attack\.frontends=plain\): .*c2m:haproxy\.threads/);
        assert.deepEqual(
            checkCells(
                {
                    keys: [parseSet("haproxy.tls.certificate=ecdsa-p256,rsa-2048")],
                    cells: sweepCells([parseSet("haproxy.tls.certificate=ecdsa-p256,rsa-2048")]),
                    attack: { rate: 20 },
                },
                config,
            ),
            [],
        );
    });
});

const row = (id: string, p99Ms: number): LedgerRow =>
    LedgerRowSchema.parse({
        id,
        stack: "local",
        tier: "local",
        preset: "smoke+",
        startedAt: "2026-12-02T12:00:00.000Z",
        durationS: 4,
        rate: 20,
        clients: 2,
        frontends: ["tls"],
        requests: 80,
        errors: 0,
        errorPct: 0,
        p50Ms: p99Ms / 2,
        p99Ms,
        maxMs: p99Ms * 2,
        peakConns: 3,
        peakConnsSource: "vegeta",
        verdict: "pass",
        why: "errors 0.00 % ≤ 0.1 %",
    });

function fixture(): { record: SweepRecord; rows: Map<string, LedgerRow> } {
    const keys = [parseSet("haproxy.tls.certificate=ecdsa-p256,rsa-2048"), parseSet("attack.rate=10,20")];
    const cells = sweepCells(keys);
    cells[0] = { ...cells[0], status: "done", runId: "20261202-120000-local" };
    cells[1] = { ...cells[1], status: "done", runId: "20261202-120100-local" };
    cells[2] = { ...cells[2], status: "failed", error: "lab up: boom" };
    const record = SweepRecordSchema.parse({
        id: "sweep-20261202-115900-local",
        stack: "local",
        startedAt: "2026-12-02T11:59:00.000Z",
        keys,
        attack: { durationS: 2 },
        cells,
    });
    return {
        record,
        rows: new Map([
            ["20261202-120000-local", row("20261202-120000-local", 12)],
            ["20261202-120100-local", row("20261202-120100-local", 30)],
        ]),
    };
}

describe("comparison page", () => {
    test("one row per cell: the varied keys, its state, its run linked to the run's report, its results", () => {
        const { record, rows } = fixture();
        const t = comparisonTable(record, rows);
        assert.deepEqual(t.header.slice(0, 4), ["haproxy.tls.certificate", "attack.rate", "status", "run"]);
        assert.equal(t.rows.length, 4);
        assert.deepEqual(t.rows[0].slice(0, 6), ["ecdsa-p256", "10", "done", "20261202-120000-local", "80", "6.0"]);
        assert.deepEqual(t.rows[2].slice(0, 4), ["rsa-2048", "10", "failed: lab up: boom", "-"]);
        assert.equal(t.links[0][3], "../20261202-120000-local/report.html");
        assert.equal(t.links[2][3], undefined);
        const html = renderReportHtml({
            title: "t",
            subtitle: "s",
            facts: [],
            figures: [],
            texts: [],
            generatedAt: "now",
            tables: [{ title: "Cells", header: t.header, rows: t.rows, links: t.links }],
        });
        assert.match(html, /<td><a href="\.\.\/20261202-120000-local\/report\.html">20261202-120000-local<\/a><\/td>/);
        assert.equal((html.match(/<a href="\.\./g) ?? []).length, 2);
    });

    test("a link that is not a sibling report's relative path is shown as text, never as a link", () => {
        const html = renderReportHtml({
            title: "t",
            subtitle: "s",
            facts: [],
            figures: [],
            texts: [],
            generatedAt: "now",
            tables: [{ title: "x", header: ["a"], rows: [["x"], ["y"]], links: [["https://example.com/a.html"], ["javascript:alert(1)"]] }],
        });
        assert.doesNotMatch(html, /<td><a href/);
    });

    test("plots: the first key on x, the second as colour side by side; only cells with a run", () => {
        const { record, rows } = fixture();
        const charts = sweepCharts(record, rows);
        assert.deepEqual(
            charts.map((c) => c.id),
            ["sweep-p99", "sweep-p50", "sweep-rps", "sweep-errors"],
        );
        const spec = charts[0].spec as { data: { values: { x: string; colour: string; p99: number }[] }; encoding: Record<string, { field: string }> };
        assert.deepEqual(
            spec.data.values.map((v) => [v.x, v.colour, v.p99]),
            [
                ["ecdsa-p256", "10", 12],
                ["ecdsa-p256", "20", 30],
            ],
        );
        assert.equal(spec.encoding.xOffset.field, "colour");
    });

    test("sweep.html from a sweep directory and its runs/ ledger: 4 plots, a row per cell, links", async (t) => {
        const runs = tempDir(t);
        const { record, rows } = fixture();
        const dir = join(runs, record.id);
        mkdirSync(dir);
        writeFileSync(join(dir, "sweep.json"), JSON.stringify(record));
        writeFileSync(join(runs, "ledger.jsonl"), [...rows.values()].map((r) => JSON.stringify(r)).join("\n") + "\n");
        const built = await buildSweepReport(dir);
        assert.equal(built.figures, 4);
        const html = readFileSync(built.file, "utf8");
        assert.equal((html.match(/<figure /g) ?? []).length, 4);
        assert.equal((html.match(/<svg/g) ?? []).length >= 4, true);
        assert.match(html, /2 of 4 done \(`lab sweep --resume sweep-20261202-115900-local` runs the rest\)/);
        assert.match(html, /href="\.\.\/20261202-120100-local\/report\.html"/);
    });
});

describe("lab sweep CLI", () => {
    const lab = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "lab.ts"), ...args], { encoding: "utf8", timeout: 60_000 });

    test("--help shows --set, --resume and examples", () => {
        const r = lab("sweep", "--help");
        assert.equal(r.status, 0, r.stderr);
        for (const s of ["--set <key=v1,v2>", "--resume <sweep>", "haproxy.tls.certificate=ecdsa-p256,rsa-2048"]) assert.ok(r.stdout.includes(s), s);
    });

    test("a bad --set is refused before anything runs, naming it", () => {
        const r = lab("sweep", "--stack", "local", "--set", "platform=aws");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /--set platform=aws: platform is what the lab is/);
    });
});
