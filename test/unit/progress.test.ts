// Bootstrap's live progress (scripts/toolchain/progress.ts) with a fake clock and sink: what a
// terminal and a CI log show while a long step runs; the parsers of Go's and apt's output; and
// bootstrap's choice to use a pulumi CLI found on PATH when it is at or above the SDK's version.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    aptLine,
    clock,
    fit,
    goLine,
    HEARTBEAT_MS,
    LiveStep,
    progressLine,
    roughDuration,
    runLines,
    type ProgressSink,
} from "../../scripts/toolchain/progress.ts";
import { ensureGoTool, usable } from "../../scripts/toolchain/installTools.ts";
import { PINS } from "../../components/pins.ts";

function fakeSink(isTTY: boolean, columns?: number): ProgressSink & { text: () => string; lines: () => string[] } {
    let out = "";
    return {
        isTTY,
        columns,
        write: (t) => {
            out += t;
        },
        text: () => out,
        lines: () => out.split("\n").filter(Boolean),
    };
}

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
    let t = start;
    return {
        now: () => t,
        advance: (ms) => {
            t += ms;
        },
    };
}

const TYPICAL = { seconds: 600, when: "cold, 2 cores" };

describe("progress line", () => {
    test("elapsed as m:ss, typical durations rounded for a reader", () => {
        assert.equal(clock(0), "0:00");
        assert.equal(clock(7_400), "0:07");
        assert.equal(clock(725_000), "12:05");
        assert.equal(roughDuration(45), "~45 s");
        assert.equal(roughDuration(150), "~2.5 min");
        assert.equal(roughDuration(660), "~11 min");
    });

    test("says the step, elapsed, what it is doing with its count and last item, and the typical duration", () => {
        const line = progressLine(
            "[4/11] pulumi CLI",
            151_000,
            { phase: "go build: compiling packages", done: 412, total: 1733, last: "github.com/a/b" },
            TYPICAL,
        );
        assert.equal(line, "[4/11] pulumi CLI · 2:31 · go build: compiling packages 412/1733 (github.com/a/b) · typically ~10 min cold, 2 cores");
        assert.equal(
            progressLine("[2/11] apt", 3_000, { phase: "apt-get update: package indexes", done: 3 }, undefined),
            "[2/11] apt · 0:03 · apt-get update: package indexes 3",
        );
    });

    test("a line longer than the terminal is cut to its width", () => {
        assert.equal(fit("abcdef", 80), "abcdef");
        const cut = fit("x".repeat(100), 40);
        assert.equal(cut.length, 39);
        assert.ok(cut.endsWith("…"));
    });
});

describe("LiveStep, not a terminal (CI logs)", () => {
    test("a quick step prints one line, at its end", () => {
        const sink = fakeSink(false);
        const c = fakeClock();
        const step = new LiveStep("[1/11] Node >= 22", undefined, { sink, now: c.now, redrawMs: 0 });
        c.advance(40);
        step.tick();
        step.finish("node 22.23.3");
        assert.deepEqual(sink.lines(), ["[1/11] Node >= 22 … node 22.23.3 (0.0 s)"]);
    });

    test("a long step prints when its work starts, then one line every ~15 s with elapsed and count, then its result", () => {
        const sink = fakeSink(false);
        const c = fakeClock();
        const step = new LiveStep("[4/11] pulumi CLI", TYPICAL, { sink, now: c.now, redrawMs: 0 });
        step.begin("none found: building v3.274.1");
        assert.equal(sink.lines().length, 1, "announced at once");
        let compiled = 0;
        for (let s = 1; s <= 45; s++) {
            c.advance(1000);
            step.update({ phase: "go build: compiling packages", done: ++compiled * 10, total: 1733, last: `pkg/${compiled}` });
            step.tick();
        }
        step.finish("3.274.1, built");
        const lines = sink.lines();
        assert.equal(lines.length, 1 + 3 + 1, lines.join("\n"));
        assert.match(lines[1], /^\[4\/11\] pulumi CLI · 0:15 · go build: compiling packages 150\/1733 \(pkg\/15\) · typically ~10 min cold, 2 cores$/);
        assert.match(lines[2], / · 0:30 · go build: compiling packages 300\/1733 /);
        assert.match(lines[3], / · 0:45 · /);
        assert.equal(lines[4], "[4/11] pulumi CLI … 3.274.1, built (45.0 s)");
        assert.ok(!sink.text().includes("\r"), "no carriage returns in a log");
        assert.equal(HEARTBEAT_MS, 15_000);
    });

    test("a failed step ends its live line with FAILED", () => {
        const sink = fakeSink(false);
        const step = new LiveStep("[7/11] vegeta", undefined, { sink, redrawMs: 0 });
        step.begin("go build: compiling packages", { done: 3, total: 271 });
        step.fail();
        assert.match(sink.lines().at(-1)!, /^\[7\/11\] vegeta · 0:00 · go build: compiling packages 3\/271 · FAILED$/);
    });
});

describe("LiveStep, on a terminal", () => {
    test("redraws one line in place, fitted to the width, and leaves the result on it", () => {
        const sink = fakeSink(true, 60);
        const c = fakeClock();
        const step = new LiveStep("[4/11] pulumi CLI", TYPICAL, { sink, now: c.now, redrawMs: 0 });
        c.advance(2_000);
        step.update({ phase: "go get: downloading modules", done: 57, last: "github.com/some/very/long/module/path@v1.2.3" });
        step.tick();
        const frames = sink.text().split("\r\x1b[K").filter(Boolean);
        assert.equal(frames.length, 2, "drawn at start and at the tick");
        assert.ok(
            frames.every((f) => f.length < 60 && !f.includes("\n")),
            JSON.stringify(frames),
        );
        assert.match(frames[1], /^\[4\/11\] pulumi CLI · 0:02 · go get: downloading modules 57/);
        step.finish("done");
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the live line is rewritten with ESC [K
        assert.match(sink.text(), /\r\x1b\[K\[4\/11\] pulumi CLI … done \(2\.0 s\)\n$/);
    });
});

describe("reading tool output", () => {
    test("go: a downloaded module, a compiled package; other lines are neither", () => {
        assert.deepEqual(goLine("go: downloading github.com/pulumi/pulumi/sdk/v3 v3.274.1"), { downloaded: "github.com/pulumi/pulumi/sdk/v3@v3.274.1" });
        assert.deepEqual(goLine("github.com/pulumi/pulumi/pkg/v3/engine"), { compiled: "github.com/pulumi/pulumi/pkg/v3/engine" });
        assert.deepEqual(goLine("internal/goarch"), { compiled: "internal/goarch" });
        assert.deepEqual(goLine("gopkg.in/yaml.v3"), { compiled: "gopkg.in/yaml.v3" });
        for (const other of ["go: added github.com/x/y v1.0.0", "# github.com/x/y", "./main.go:3:2: undefined: z", "go: finding module for package x", ""]) {
            assert.deepEqual(goLine(other), {}, other);
        }
    });

    test("apt: index and package fetches, unpacking, setting up, the number to install", () => {
        assert.deepEqual(aptLine("Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]"), { fetched: "bookworm InRelease" });
        assert.deepEqual(aptLine("Hit:2 http://deb.debian.org/debian-security bookworm-security InRelease"), { fetched: "bookworm-security InRelease" });
        assert.deepEqual(aptLine("Get:3 http://deb.debian.org/debian bookworm/main amd64 nftables amd64 1.0.6-2+deb12u2 [70.3 kB]"), {
            fetched: "bookworm/main amd64 nftables amd64 1.0.6-2+deb12u2",
        });
        assert.deepEqual(aptLine("Unpacking nftables (1.0.6-2+deb12u2) ..."), { unpacking: "nftables" });
        assert.deepEqual(aptLine("Setting up nftables (1.0.6-2+deb12u2) ..."), { settingUp: "nftables" });
        assert.deepEqual(aptLine("0 upgraded, 3 newly installed, 0 to remove and 12 not upgraded."), { toInstall: 3 });
        assert.deepEqual(aptLine("Reading package lists..."), {});
    });

    test("runLines hands over stdout and stderr lines as they come, returns stdout; a failure carries the last lines", async () => {
        const seen: string[] = [];
        const out = await runLines("bash", ["-c", "echo a; echo b >&2; echo c"], { onLine: (l) => seen.push(l) });
        assert.deepEqual(out, ["a", "c"]);
        assert.deepEqual([...seen].sort(), ["a", "b", "c"]);
        await assert.rejects(
            runLines("bash", ["-c", "for i in $(seq 1 50); do echo line$i; done; echo boom >&2; exit 3"]),
            (err: Error) => /exited 3/.test(err.message) && /boom/.test(err.message) && /line50/.test(err.message) && !/line5\n/.test(err.message),
        );
    });
});

describe("a pulumi CLI already installed", () => {
    test("is used when it runs and is at or above the SDK's version; otherwise the pin is built", () => {
        const sdk = PINS.pulumiSdk;
        assert.equal(usable({ path: "/usr/local/bin/pulumi", ok: true, version: sdk }, sdk), true, "equal to the SDK");
        assert.equal(usable({ path: "/usr/local/bin/pulumi", ok: true, version: "9.0.0" }, sdk), true, "newer");
        assert.equal(usable({ path: "/usr/local/bin/pulumi", ok: true, version: "3.100.0" }, sdk), false, "older");
        assert.equal(usable({ path: "/usr/local/bin/pulumi", ok: false }, sdk), false, "does not run");
        assert.equal(usable({ ok: false }, sdk), false, "none");
    });

    test("bootstrap's pulumi step takes one on PATH at the SDK's version as is, without building", async (t) => {
        const dir = mkdtempSync(join(tmpdir(), "c2m-pathcli-"));
        const saved = { PATH: process.env.PATH, C2M_CACHE: process.env.C2M_CACHE };
        t.after(() => {
            process.env.PATH = saved.PATH;
            if (saved.C2M_CACHE === undefined) delete process.env.C2M_CACHE;
            else process.env.C2M_CACHE = saved.C2M_CACHE;
            rmSync(dir, { recursive: true, force: true });
        });
        const operatorBin = join(dir, "usr-local-bin");
        const fake = join(operatorBin, "pulumi");
        (await import("node:fs")).mkdirSync(operatorBin, { recursive: true });
        writeFileSync(fake, `#!/bin/sh\necho v${PINS.pulumiSdk}\n`);
        chmodSync(fake, 0o755);
        process.env.C2M_CACHE = join(dir, "empty-cache"); // no cached pulumi
        process.env.PATH = `${operatorBin}:${saved.PATH}`;
        const sink = fakeSink(false);
        const live = new LiveStep("[4/11] pulumi CLI", TYPICAL, { sink, redrawMs: 0 });
        let built = false;
        const detail = await ensureGoTool(
            live,
            "pulumi",
            PINS.pulumiCli,
            async () => {
                built = true;
            },
            PINS.pulumiSdk,
        );
        assert.equal(built, false, "not rebuilt");
        assert.equal(detail, `${PINS.pulumiSdk} from PATH (${fake}), at or above v${PINS.pulumiSdk}: used as is`);
        assert.equal(sink.text(), "", "nothing announced: no build");

        writeFileSync(fake, "#!/bin/sh\necho v3.100.0\n");
        await assert.rejects(
            ensureGoTool(
                live,
                "pulumi",
                PINS.pulumiCli,
                async () => {
                    built = true;
                    throw new Error("stub build");
                },
                PINS.pulumiSdk,
            ),
            /stub build/,
        );
        assert.equal(built, true, "an older one is not used: the pin is built");
        assert.match(
            sink.text(),
            new RegExp(`pulumi is v3\\.100\\.0, older than v${PINS.pulumiSdk.replace(/\./g, "\\.")}: building v${PINS.pulumiCli.replace(/\./g, "\\.")}`),
        );
    });
});
