// scripts/toolchain/installTools.ts only defines functions at load time (bootstrap() runs from scripts/commands/bootstrap.ts), so
// importing it for olderThan is safe: nothing is installed or built.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { olderThan } from "../../scripts/toolchain/installTools.ts";

describe("olderThan(found, wanted)", () => {
    const cases: [string | undefined, string, boolean, string][] = [
        ["3.274.0", "3.274.1", true, "patch behind"],
        ["3.273.9", "3.274.1", true, "minor behind"],
        ["2.999.999", "3.0.0", true, "major behind"],
        ["3.274.1", "3.274.1", false, "equal"],
        ["3.274.2", "3.274.1", false, "patch ahead"],
        ["3.275.0", "3.274.1", false, "minor ahead"],
        ["4.0.0", "3.274.1", false, "major ahead"],
        ["3.9.0", "3.10.0", true, "numeric, not lexical: 9 < 10"],
        ["3.10.0", "3.9.0", false, "numeric, not lexical: 10 > 9"],
        ["v3.274.1", "3.274.1", false, "leading v on found"],
        ["3.274.1", "v3.274.1", false, "leading v on wanted"],
        ["v3.274.0", "v3.274.1", true, "leading v on both"],
        ["12.13", "12.13.0", false, "missing patch counts as 0"],
        ["12.12", "12.13.0", true, "missing patch, older minor"],
        ["12.13.0-rc1", "12.13.0", false, "pre-release suffix is ignored"],
        ["12.12.9-dev.0", "12.13.0", true, "suffix does not hide an older version"],
        ["3.274.1.7", "3.274.1", false, "only three parts compared"],
        [undefined, "3.274.1", false, "unknown version counts as fine"],
        ["unknown", "3.274.1", false, "unparsable text counts as fine"],
        ["", "3.274.1", false, "empty counts as fine"],
    ];
    for (const [found, wanted, expected, why] of cases) {
        test(`${JSON.stringify(found)} vs ${wanted} → ${expected} (${why})`, () => {
            assert.equal(olderThan(found, wanted), expected);
        });
    }

    test("is a strict order: never older than itself, and exactly one of a<b, b<a for different versions", () => {
        const versions = ["0.0.1", "1.0.0", "1.0.10", "1.2.0", "1.10.0", "3.68.0", "3.274.1", "12.13.0"];
        for (const a of versions) {
            assert.equal(olderThan(a, a), false, a);
            for (const b of versions) if (a !== b) assert.notEqual(olderThan(a, b), olderThan(b, a), `${a} ${b}`);
        }
    });

    test("a version with build metadata (+suffix) is still compared", {}, () => {
        assert.equal(olderThan("3.274.0+dirty", "3.274.1"), true);
    });
});
