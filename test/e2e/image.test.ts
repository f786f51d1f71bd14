// End to end on the local platform: a lab whose hosts run the Debian 13 image (c2m:image
// debian-13), built into the tool cache by the project's own script if missing (a progress line;
// cached afterwards). Every host answers SSH from inside its image: Debian 13's release file, its
// HAProxy 3.0 on OpenSSL 3.5 on the LB; pong runs on the backend with the rig's Node bound in; a
// plain and TLS attack through it succeeds; `lab sweep --set image=debian-13,machine` runs one cell
// per image on that lab (the hosts made anew for the machine's cell, every role started again on
// them); teardown leaves no namespace, process, file or mount.
// Stack image13 on 198.18.113.0/24; runs go to a temporary directory. Needs root and the toolchain.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { outputs, teardownStack } from "../../scripts/lib/pulumiStack.ts";
import { writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { Remote } from "../../scripts/lib/remote.ts";
import { ensureImage } from "../../scripts/toolchain/images.ts";
import { runLab } from "../unit/helpers.ts";

const STACK = "image13";
const MINUTE = 60_000;
const runsDir = mkdtempSync(join(tmpdir(), "c2m-image-runs-"));
let stackFile: string | undefined;

/** A small lab on the image: one host per role, one pong server, no metrics host. */
function writeStackConfig(): void {
    const doc = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
    doc.config["c2m:local"] = { subnet: "198.18.113.0/24" };
    doc.config["c2m:hosts"] = { haproxy: 1, backends: 1, clients: 1, metrics: 0 };
    doc.config["c2m:backend"] = { serversPerHost: 1 };
    doc.config["c2m:image"] = "debian-13";
    stackFile = writeGeneratedStack(STACK, YAML.stringify(doc)); // generated: in the cache, never the checkout
}

before(
    async () => {
        await ensureImage("debian-13");
        await teardownStack(STACK); // leftovers of an earlier, killed run
        writeStackConfig();
    },
    { timeout: 20 * MINUTE },
);

after(async () => {
    const left = await teardownStack(STACK, stackFile);
    rmSync(runsDir, { recursive: true, force: true });
    assert.equal(residueCount(left), 0, describeResidue(left));
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .filter((l) => l.includes(`/run/c2m/${STACK}/`) || / c2m-image /.test(l));
    assert.deepEqual(mounts, [], "no mount of the lab is left");
});

test("lab up builds the lab with every host running Debian 13 from its image, and an attack goes through it", { timeout: 15 * MINUTE }, async () => {
    const up = await runLab(["up", "--stack", STACK], { runsDir });
    assert.equal(up.code, 0, up.out);
    const out = await outputs(STACK);
    const remote = Remote.forLab(out, { env: labEnv() });
    const read = { timeoutMs: 30_000 };
    try {
        for (const h of out.inventory) {
            const seen = await remote.check(h.name, "cat /etc/c2m-image; cat /etc/debian_version", read);
            assert.match(seen, /^debian-13\n13\./, `${h.name} runs from the image: ${seen}`);
        }
        const lb = out.inventory.find((h) => h.role === "haproxy")!;
        const vv = await remote.check(lb.name, "haproxy -vv", read);
        assert.match(vv, /^HAProxy version 3\.0\./m);
        assert.match(vv, /^Running on OpenSSL version : OpenSSL 3\.5\./m);
        // What serves the lab is that HAProxy: its running process's binary is the image's.
        const exe = await remote.check(lb.name, "for p in $(pgrep -x haproxy); do readlink /proc/$p/exe; done | sort -u", read);
        assert.equal(exe.trim(), "/usr/sbin/haproxy");
        const backend = out.inventory.find((h) => h.role === "backend")!;
        assert.match(await remote.check(backend.name, "pgrep -af pong.ts", read), /node .*pong\.ts/, "pong runs on the image with the rig's Node");
    } finally {
        await remote.close();
    }
    const r = await runLab(["attack", "--stack", STACK, "--rate", "20", "--duration", "3", "--frontends", "plain,tls"], { runsDir });
    assert.equal(r.code, 0, r.out);
    const dir = /^run \S+ → (\S+)$/m.exec(r.out)?.[1];
    assert.ok(dir, r.out);
    const run = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
    assert.equal(run.summary.success, 1, JSON.stringify(run.summary));
    assert.match(run.versions.haproxy, /^HAProxy version 3\.0\./, "run.json names the image's HAProxy");
    assert.match(run.versions.tlsLibrary, /^OpenSSL 3\.5\./, "and the TLS library it runs on");
    assert.deepEqual(run.images, Object.fromEntries(["haproxy-0", "backend-0", "client-0"].map((h) => [h, "debian-13"])), "and each host's image");
    const row = JSON.parse(readFileSync(join(runsDir, "ledger.jsonl"), "utf8").trim().split("\n").at(-1)!);
    assert.equal(row.id, run.runId);
    assert.equal(row.image, "debian-13");
    assert.match(row.haproxy, /^3\.0\./);
    assert.match(row.tlsLibrary, /^OpenSSL 3\.5\./);
});

test("lab sweep --set image=debian-13,machine: each cell runs on its image, the hosts made anew and every role started again", {
    timeout: 15 * MINUTE,
}, async () => {
    const r = await runLab(["sweep", "--stack", STACK, "--set", "image=debian-13,machine", "--frontends", "plain,tls", "--rate", "20", "--duration", "3"], {
        runsDir,
    });
    assert.equal(r.code, 0, r.out);
    const id = /^sweep (sweep-\S+): 2 cells/m.exec(r.out)?.[1];
    assert.ok(id, r.out);
    const state = JSON.parse(readFileSync(join(runsDir, id, "sweep.json"), "utf8"));
    assert.deepEqual(
        state.cells.map((c: { status: string }) => c.status),
        ["done", "done"],
    );
    const runs = state.cells.map((c: { runId: string }) => JSON.parse(readFileSync(join(runsDir, c.runId, "run.json"), "utf8")));
    assert.deepEqual(
        runs.map((x: { images: Record<string, string> }) => x.images["haproxy-0"]),
        ["debian-13", "machine"],
    );
    assert.match(runs[0].versions.haproxy, /^HAProxy version 3\.0\./);
    assert.match(runs[1].versions.haproxy, /^HAProxy version 2\.6\./, "the machine's cell ran the machine's HAProxy");
    for (const x of runs) assert.equal(x.summary.success, 1, JSON.stringify(x.summary));
    assert.ok(existsSync(join(runsDir, id, "sweep.html")), "one page compares the cells");
});
