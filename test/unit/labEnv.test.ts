// `lab env` (scripts/toolchain/toolchain.ts shellExports): the lines an operator evaluates so
// plain `pulumi` runs as the lab runs it. Evaluated by sh (dash) and bash, once and twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { labEnv, LAB_ENV_KEYS, REPO_ROOT, shellExports } from "../../scripts/toolchain/toolchain.ts";

function evaluate(shell: string, text: string, times: number, env: NodeJS.ProcessEnv): Record<string, string> {
    const script = `${Array(times).fill('eval "$C2M_EXPORTS"').join("\n")}\nunset C2M_EXPORTS\nenv -0`;
    // --norc: bash reads ~/.bashrc when its stdin is a socket, as node's pipes are.
    const r = spawnSync(shell, [...(shell === "bash" ? ["--noprofile", "--norc"] : []), "-c", script], {
        env: { ...env, C2M_EXPORTS: text },
        encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return Object.fromEntries(
        r.stdout
            .split("\0")
            .filter(Boolean)
            .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
}

test("the exports give a shell labEnv()'s values, PATH once however often they are evaluated, odd characters intact", (t) => {
    const saved = process.env.C2M_CACHE;
    t.after(() => {
        if (saved === undefined) delete process.env.C2M_CACHE;
        else process.env.C2M_CACHE = saved;
    });
    process.env.C2M_CACHE = `/tmp/c2m cache 'quoted' $HOME "x" \`y\``;
    const base = { PATH: "/usr/bin:/bin", HOME: "/root" };
    const text = shellExports({ ...base, C2M_CACHE: process.env.C2M_CACHE });
    const want = labEnv(base);
    for (const shell of ["sh", "bash"]) {
        for (const times of [1, 2]) {
            const got = evaluate(shell, text, times, base);
            assert.equal(got.PATH, want.PATH, `${shell}, evaluated ${times}×: ${got.PATH}`);
            for (const key of LAB_ENV_KEYS.filter((k) => k !== "C2M_CACHE")) assert.equal(got[key], want[key], `${key} (${shell})`);
            assert.equal(got.C2M_CACHE, process.env.C2M_CACHE);
        }
    }
    assert.ok(want.PATH!.startsWith(`${process.env.C2M_CACHE}/bin:${join(REPO_ROOT, "node_modules", ".bin")}:/usr/bin:/bin:`));
});

test("an operator's own backend and passphrase are kept, not replaced", () => {
    const text = shellExports({ PATH: "/usr/bin", PULUMI_BACKEND_URL: "s3://team-state", PULUMI_CONFIG_PASSPHRASE: "x" });
    assert.match(text, /^export PULUMI_BACKEND_URL='s3:\/\/team-state'$/m);
    assert.doesNotMatch(text, /PULUMI_CONFIG_PASSPHRASE_FILE/);
    assert.doesNotMatch(text, /PULUMI_CONFIG_PASSPHRASE=/, "a passphrase is never printed");
});
