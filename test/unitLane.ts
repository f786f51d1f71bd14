// The unit lane's entry file: npm test runs every unit file in ONE node process (loading the SDKs
// once is most of what the lane saves), and node's own one-process mode (--experimental-test-
// isolation=none) drops a file that throws at import, and the tests after the throw, in silence,
// with exit 0. This file imports each unit file itself: a file that throws at import, or whose
// import does not settle within IMPORT_LIMIT_MS, becomes a failing test named `<file> loads`
// (test/durations.ts files it under that file). The files come from C2M_UNIT_FILES (a JSON array
// of paths relative to the repository), set by test/run.ts.
import { test } from "node:test";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Longest a unit file may take to import (its top level, not its tests): the slowest takes ~3 s. */
export const IMPORT_LIMIT_MS = 60_000;

/** The test name a file's failed import is reported under. */
export const loadTestName = (file: string) => `${file} loads`;

async function importWithin(file: string, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${file}: its import did not settle within ${ms / 1000} s (a top-level await that never ends?)`)), ms);
    });
    try {
        await Promise.race([import(pathToFileURL(join(ROOT, file)).href), limit]);
    } finally {
        clearTimeout(timer);
    }
}

const files = JSON.parse(process.env.C2M_UNIT_FILES ?? "[]") as string[];
if (files.length === 0) throw new Error("test/unitLane.ts: C2M_UNIT_FILES names no file (test/run.ts sets it)");
for (const file of files) {
    try {
        await importWithin(file, Number(process.env.C2M_IMPORT_LIMIT_MS ?? IMPORT_LIMIT_MS));
    } catch (error) {
        test(loadTestName(file), () => {
            throw error;
        });
    }
}
