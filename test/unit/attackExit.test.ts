// `lab attack`'s exit status: a partly failed attack is recorded but is not a success unless the
// operator accepts it (--allow-partial); an interrupted one exits 130.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { attackExit, PARTIAL_EXIT_CODE } from "../../scripts/lib/attackOutcome.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

const proc = (client: string, frontend: "plain" | "tls", laddr: string) => ({ client, frontend, laddr, ratePerSecond: 50, connections: 500 });
const processes = [
    proc("client-0", "plain", "198.18.0.10"),
    proc("client-0", "tls", "198.18.0.10"),
    proc("client-1", "plain", "198.18.0.11"),
    proc("client-1", "tls", "198.18.0.11"),
];
const lost = [
    { client: "client-1", frontend: "plain" as const, laddr: "198.18.0.11", code: 255, stderr: "results not collected: Connection refused" },
    { client: "client-1", frontend: "tls" as const, laddr: "198.18.0.11", code: 255, stderr: "results not collected: Connection refused" },
];

describe("attackExit", () => {
    test("every process ran and returned its results: 0, nothing to say", () => {
        assert.deepEqual(attackExit({ interrupted: false, failedProcesses: [], processes }), { code: 0 });
    });

    test("a failed or uncollected process: non-zero, naming each lost part, the count and where the run is recorded", () => {
        const exit = attackExit({ interrupted: false, failedProcesses: lost, processes, dir: "/runs/20260101-000000-x" });
        assert.equal(exit.code, PARTIAL_EXIT_CODE);
        assert.notEqual(exit.code, 0);
        assert.match(exit.message!, /^part of the attack failed: 2 of 4 vegeta processes failed or lost their results/);
        assert.match(exit.message!, /client-1\/plain\/198\.18\.0\.11, client-1\/tls\/198\.18\.0\.11/);
        assert.match(exit.message!, /the run is recorded in \/runs\/20260101-000000-x/);
        assert.match(exit.message!, /--allow-partial/);
    });

    test("--allow-partial: 0, but the loss is still said", () => {
        const exit = attackExit({ interrupted: false, failedProcesses: lost, processes }, { allowPartial: true });
        assert.equal(exit.code, 0);
        assert.match(exit.message!, /^partial run accepted \(--allow-partial\): 2 of 4 vegeta processes/);
    });

    test("interrupted by the operator: 130 whatever else happened, allowed or not", () => {
        for (const allowPartial of [false, true]) {
            assert.equal(attackExit({ interrupted: true, failedProcesses: lost, processes }, { allowPartial }).code, 130);
            assert.equal(attackExit({ interrupted: true, failedProcesses: [], processes }, { allowPartial }).code, 130);
        }
    });

    test("the partial exit status is neither success, the generic error (1) nor an interrupt (130)", () => {
        assert.ok(![0, 1, 130].includes(PARTIAL_EXIT_CODE));
    });

    test("lab attack --help offers --allow-partial and names the exit status", () => {
        const r = spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "lab.ts"), "attack", "--help"], { encoding: "utf8", timeout: 60_000 });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout.replace(/\s+/g, " "), new RegExp(`--allow-partial .*exit ${PARTIAL_EXIT_CODE}`));
    });
});
