// The tree's architecture, checked by walking its imports: components/ never imports the CLI
// (scripts/) or the benches, programs shipped to hosts (backend/) stand alone, and no module
// imports itself back through a chain of imports, type imports counted: a type that goes around a
// circle ties the files' design together as much as a value does, even if Node erases it. Inside
// scripts/, the commands (scripts/commands/, one file per `lab` command, and lab.ts) sit on top of
// the libraries (lib/, analysis/, toolchain/), and analysis/ stands on components/ alone. In
// scripts/ and bench/, each file has a name of its own and stays short enough to read.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const SOURCE_DIRS = ["components", "scripts", "backend", "bench", "policy"];

function sourceFiles(): string[] {
    const files = ["index.ts"];
    for (const dir of SOURCE_DIRS) {
        for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })) {
            if (f.endsWith(".ts") && !f.includes("node_modules")) files.push(join(dir, f));
        }
    }
    return files;
}

/** Relative imports of a file, as repo paths: value and type imports, re-exports, dynamic imports. */
export function relativeImports(file: string, text: string): string[] {
    const specs: string[] = [];
    const statement = /^\s*(?:import|export)\s+[^;]*?from\s+["'](\.[^"']+)["']/gm;
    for (const m of text.matchAll(statement)) specs.push(m[1]);
    for (const m of text.matchAll(/import\(\s*["'](\.[^"']+)["']\s*\)/g)) specs.push(m[1]);
    return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

function importGraph(): Map<string, string[]> {
    return new Map(sourceFiles().map((f) => [f, relativeImports(f, readFileSync(join(ROOT, f), "utf8"))]));
}

function cycles(graph: Map<string, string[]>): string[][] {
    const found: string[][] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (node: string) => {
        state.set(node, "open");
        path.push(node);
        for (const next of graph.get(node) ?? []) {
            if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next]);
            else if (!state.has(next)) visit(next);
        }
        path.pop();
        state.set(node, "done");
    };
    for (const node of graph.keys()) if (!state.has(node)) visit(node);
    return found;
}

const top = (path: string) => path.split("/")[0];

describe("layout: imports follow the architecture", () => {
    const graph = importGraph();

    it("reads every source file and finds their imports", () => {
        assert.ok(graph.size > 50, `only ${graph.size} files read`);
        assert.ok([...graph.values()].flat().length > 100);
    });

    it("the walker sees a cycle and an upward import when there is one", () => {
        const fake = new Map([
            ["components/a.ts", ["components/b.ts"]],
            ["components/b.ts", ["scripts/c.ts", "components/a.ts"]],
        ]);
        assert.deepEqual(cycles(fake), [["components/a.ts", "components/b.ts", "components/a.ts"]]);
        assert.deepEqual(relativeImports("components/x.ts", 'import type { A } from "./a.ts";\nimport { B,\n  type C } from "../scripts/b.ts";'), [
            "components/a.ts",
            "scripts/b.ts",
        ]);
    });

    it("components/ imports nothing from scripts/ or bench/", () => {
        const upward = [...graph].flatMap(([f, deps]) =>
            top(f) === "components" ? deps.filter((d) => ["scripts", "bench"].includes(top(d))).map((d) => `${f} -> ${d}`) : [],
        );
        assert.deepEqual(upward, []);
    });

    it("scripts/ never imports bench/; programs shipped to hosts (backend/) import nothing of the rig", () => {
        const wrong = [...graph].flatMap(([f, deps]) =>
            deps.filter((d) => (top(f) === "scripts" && top(d) === "bench") || (top(f) === "backend" && top(d) !== "backend")).map((d) => `${f} -> ${d}`),
        );
        assert.deepEqual(wrong, []);
    });

    it("in scripts/, only commands import commands, and analysis/ imports no operator code", () => {
        const dir = (path: string) => path.split("/").slice(0, 2).join("/");
        const isCommand = (path: string) => dir(path) === "scripts/commands" || path === "scripts/lab.ts";
        const wrong = [...graph].flatMap(([f, deps]) =>
            deps
                .filter(
                    (d) =>
                        (isCommand(d) && !isCommand(f)) ||
                        (dir(f) === "scripts/analysis" && ["scripts/lib", "scripts/toolchain", "scripts/commands"].includes(dir(d))),
                )
                .map((d) => `${f} -> ${d}`),
        );
        assert.deepEqual(wrong, []);
    });

    it("every relative import resolves to a file of the tree", () => {
        const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d) && !d.startsWith("node_modules")).map((d) => `${f} -> ${d}`));
        assert.deepEqual(missing, []);
    });

    it("no cycle of imports, type imports counted", () => {
        assert.deepEqual(
            cycles(graph).map((c) => c.join(" -> ")),
            [],
        );
    });
});

describe("layout: files a reader can find and read", () => {
    const files = sourceFiles().filter((f) => ["scripts", "bench"].includes(top(f)));
    const lines = (f: string) => readFileSync(join(ROOT, f), "utf8").split("\n").length - 1;
    const MAX_LINES = 400;

    it("no two files in scripts/ and bench/ share a name", () => {
        const byName = new Map<string, string[]>();
        for (const f of files) byName.set(basename(f), [...(byName.get(basename(f)) ?? []), f]);
        assert.deepEqual(
            [...byName.values()].filter((paths) => paths.length > 1),
            [],
        );
    });

    it(`no file in scripts/ or bench/ is over ${MAX_LINES} lines`, () => {
        assert.ok(files.length > 50, `only ${files.length} files read`);
        assert.deepEqual(
            files.filter((f) => lines(f) > MAX_LINES).map((f) => `${f}: ${lines(f)} lines`),
            [],
        );
    });
});
