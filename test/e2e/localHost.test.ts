// Two real local hosts (namespaces on a bridge, each with its sshd) made by the platform's own
// scripts, without Pulumi: a command over SSH runs in a clean root environment (none of the
// operator's shell start-up files is read), and the operator reaches the hosts on SSH only
// while host-to-host traffic crosses the bridge untouched. Needs root, nft and unshare.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addressPlan } from "../../components/platform/addressPlan.ts";
import {
    LOCAL_SSH_PORT,
    bridgeCreateScript,
    bridgeDeleteScript,
    hostCreateScript,
    hostDeleteScript,
    localNames,
    sshdStartScript,
    type LocalHostScriptInput,
} from "../../components/platform/local/scripts.ts";
import { Remote, type SshTarget } from "../../scripts/lib/remote.ts";
import { labEnv } from "../../scripts/toolchain/toolchain.ts";

const STACK = "hostiso";
const SUBNET = "198.18.203.0/24";
const CONTROL_PORT = 2222;
const names = localNames(STACK);
const plan = addressPlan(SUBNET);
const tmp = mkdtempSync(join(tmpdir(), "c2m-hostiso-"));
/** Stands in for the operator's home (mounted over /root for the hosts' sshds only). */
const operatorHome = join(tmp, "home");
const sourcedLog = join(tmp, "sourced");
const keyFile = join(tmp, "id");
const binPath = "/root/.cache/c2m-lab/bin";
const hosts: LocalHostScriptInput[] = ["a", "b"].map((name, i) => ({
    namespace: names.namespace(name),
    veth: names.veth(i),
    bridge: names.bridge,
    address: plan.hostAddress(i),
    extraAddresses: [],
    prefix: plan.prefix,
    workDir: `${names.runDir}/${name}`,
    binPath,
}));
const [a, b] = hosts;

const missing = ["nft", "unshare", "ssh-keygen"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const skip = process.getuid?.() !== 0 ? "needs root (network namespaces)" : missing.length ? `missing ${missing.join(", ")}` : false;

function sh(script: string, env: NodeJS.ProcessEnv = {}): { code: number; out: string } {
    const r = spawnSync("bash", ["--noprofile", "--norc", "-c", script], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: r.status ?? 255, out: `${r.stdout}${r.stderr}` };
}

function teardown(): void {
    for (const h of hosts) sh(hostDeleteScript(h));
    sh(bridgeDeleteScript(names.bridge, names.runDir));
}

/** Each start-up file bash, sh or sshd could read logs its name and exports markers, as pyenv's init would. */
function writeOperatorHome(): void {
    mkdirSync(join(operatorHome, ".ssh"), { recursive: true });
    mkdirSync(join(operatorHome, ".cache/c2m-lab/bin"), { recursive: true });
    for (const f of [".bashrc", ".profile", ".bash_profile", ".bash_login", ".ssh/rc"]) {
        writeFileSync(join(operatorHome, f), `echo ${f} >> ${sourcedLog}\nexport C2M_STARTUP_MARKER=${f} PYENV_ROOT=/nonexistent/.pyenv\n`);
    }
    const probe = join(operatorHome, ".cache/c2m-lab/bin/c2m-probe");
    writeFileSync(probe, "#!/bin/sh\necho tool cache visible\n");
    chmodSync(probe, 0o755);
}

function tcpConnects(host: string, port: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host, port, timeout: timeoutMs });
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("timeout", () => {
            s.destroy();
            resolve(false);
        });
        s.once("error", () => resolve(false));
    });
}

let remote: Remote;

before(() => {
    if (skip) return;
    teardown();
    writeOperatorHome();
    assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]).status, 0);
    const bridge = sh(bridgeCreateScript(names.bridge, plan.bridgeAddress, plan.prefix));
    assert.equal(bridge.code, 0, bridge.out);
    for (const h of hosts) {
        const made = sh(hostCreateScript(h), { AUTHORIZED_KEY: readFileSync(`${keyFile}.pub`, "utf8") });
        assert.equal(made.code, 0, made.out);
    }
    // Host b keeps the sshd its script started, under the operator's real /root. Host a's sshd is
    // started again (the same sshdStartScript) where /root is the stand-in home, so it would see
    // its marker files; a second, plain sshd on a (port 2222) is the control: it does read them.
    const stop = sh(
        `kill $(cat ${a.workDir}/ssh/sshd.pid); for i in $(seq 1 50); do kill -0 $(cat ${a.workDir}/ssh/sshd.pid) 2>/dev/null || exit 0; sleep 0.1; done; exit 1`,
    );
    assert.equal(stop.code, 0, stop.out);
    const control =
        `ip netns exec ${a.namespace} env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/sshd -f /dev/null -h ${a.workDir}/ssh/host_key` +
        ` -o ListenAddress=${a.address} -o Port=${CONTROL_PORT} -o PidFile=${a.workDir}/ssh/control.pid` +
        ` -o AuthorizedKeysFile=${a.workDir}/ssh/authorized_keys -o UsePAM=no -o StrictModes=no`;
    const ready = `for i in $(seq 1 50); do ip netns exec ${a.namespace} bash -c 'exec 3<>/dev/tcp/${a.address}/${LOCAL_SSH_PORT}' 2>/dev/null && exit 0; sleep 0.1; done; exit 1`;
    const restarted = spawnSync(
        "unshare",
        [
            "--mount",
            "--propagation",
            "private",
            "bash",
            "--noprofile",
            "--norc",
            "-c",
            `set -e; mount --bind "$1" /root; bash -c "$2"; $3; bash -c "$4"`,
            "_",
            operatorHome,
            sshdStartScript(a),
            control,
            ready,
        ],
        { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(restarted.status, 0, `${restarted.stdout}${restarted.stderr}`);
    remote = new Remote({ privateKey: readFileSync(keyFile, "utf8"), hosts: hosts.map((h) => h.address), env: labEnv() });
});

after(() => {
    if (skip) return;
    remote?.closeSync();
    teardown();
    rmSync(tmp, { recursive: true, force: true });
    const left = [
        spawnSync("ip", ["netns", "list"], { encoding: "utf8" })
            .stdout.split("\n")
            .filter((l) => l.startsWith(names.namespacePrefix)),
        spawnSync("nft", ["list", "table", "inet", names.firewallTable], { encoding: "utf8" }).status === 0 ? [names.firewallTable] : [],
        spawnSync("pgrep", ["-af", `${names.runDir}/`], { encoding: "utf8" })
            .stdout.split("\n")
            .filter(Boolean),
        existsSync(names.runDir) ? [names.runDir] : [],
    ].flat();
    assert.deepEqual(left, [], "nothing of the test's hosts is left");
});

test("a command over SSH runs in a clean root environment: no start-up file of the operator is read", { skip }, async () => {
    const r = await remote.run(
        { host: a.address, port: LOCAL_SSH_PORT, user: "root", binPath },
        `echo "HOME=$HOME"; echo "PATH=$PATH"; echo "marker=\${C2M_STARTUP_MARKER:-}"; env | grep -c '^PYENV' || true; ` +
            `ls -A ~ | tr '\\n' ' '; echo; c2m-probe; bash -lic 'echo "login marker=\${C2M_STARTUP_MARKER:-}"' 2>/dev/null`,
        { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], "HOME=/root");
    assert.match(lines[1], new RegExp(`^PATH=${binPath}:`), "the rig sets PATH itself, the tool cache first");
    assert.equal(lines[2], "marker=", "~/.bashrc was not sourced");
    assert.equal(lines[3], "0", "no PYENV_* variable");
    assert.equal(lines[4].trim(), ".cache", "root's home holds only the tool cache's path");
    assert.equal(lines[5], "tool cache visible", "a tool in binPath under root's home still runs");
    assert.equal(lines[6], "login marker=", "a login shell finds no ~/.profile or ~/.bash_profile either");
    assert.equal(existsSync(sourcedLog), false, `start-up files were read: ${existsSync(sourcedLog) ? readFileSync(sourcedLog, "utf8") : ""}`);
});

test("the same on a host whose sshd started under the operator's real /root: no PYENV_*, nothing of ~/.bashrc", { skip }, async () => {
    const r = await remote.run(
        { host: b.address, port: LOCAL_SSH_PORT, user: "root", binPath },
        "env | grep -c '^PYENV' || true; ls -A ~ | tr '\\n' ' '; echo; echo \"$PATH\"",
        { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const [pyenv, home, path] = r.stdout.trim().split("\n");
    assert.equal(pyenv, "0", "no PYENV_* variable");
    assert.doesNotMatch(home, /\.bashrc|\.profile|\.pyenv|\.cargo/, "root's home is the host's own");
    assert.doesNotMatch(path, /pyenv|cargo/);
});

test("control: a plain sshd on the same host does read them (so the test above can fail)", { skip }, async () => {
    const t0 = Date.now();
    // The same remote.ts, its ssh run from host b's namespace (the operator reaches port 2222 of no host).
    const fromB = join(tmp, "ssh-from-b");
    writeFileSync(fromB, `#!/bin/sh\nexec ip netns exec ${b.namespace} ssh "$@"\n`, { mode: 0o755 });
    const control = new Remote({ privateKey: readFileSync(keyFile, "utf8"), hosts: [a.address], env: labEnv(), ssh: fromB });
    const target: SshTarget = { host: a.address, port: CONTROL_PORT, user: "root" };
    const r = await control.run(target, "echo marker=$C2M_STARTUP_MARKER", { timeoutMs: 30_000 }).finally(() => control.close());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /marker=\.bashrc/);
    assert.match(readFileSync(sourcedLog, "utf8"), /^\.bashrc$/m);
    rmSync(sourcedLog, { force: true });
    process.stderr.write(`control ssh (host b → a:${CONTROL_PORT}, start-up files read): ${Date.now() - t0} ms\n`);
});

test("the operator reaches a host on its SSH port only; host to host, any port works", { skip }, async () => {
    assert.equal(await tcpConnects(a.address, LOCAL_SSH_PORT, 3000), true, "SSH from the operator");
    assert.equal(await tcpConnects(a.address, CONTROL_PORT, 1500), false, "another port from the operator is dropped");
    assert.equal(await tcpConnects(b.address, 9100, 1500), false, "and on every host");
    // The same port from host b, across the bridge: the control test above logged in through it.
    const r = sh(`ip netns exec ${b.namespace} bash -c 'exec 3<>/dev/tcp/${a.address}/${CONTROL_PORT}' && echo open`);
    assert.equal(r.out.trim(), "open", r.out);
    // Dropped by the stack's table, which counted them.
    const table = spawnSync("nft", ["list", "table", "inet", names.firewallTable], { encoding: "utf8" });
    assert.equal(table.status, 0, table.stderr);
    const dropped = Number(/counter packets (\d+) bytes \d+ drop/.exec(table.stdout)?.[1]);
    assert.ok(dropped >= 2, `drops counted: ${table.stdout}`);
});

test("timing: one remote command over SSH in the clean environment", { skip }, async () => {
    const target = { host: a.address, port: LOCAL_SSH_PORT, user: "root", binPath };
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const r = await remote.run(target, "true", { timeoutMs: 30_000 });
        assert.equal(r.code, 0, r.stderr);
        times.push(Date.now() - t0);
    }
    times.sort((x, y) => x - y);
    process.stderr.write(`remote command (operator → a:22, clean): median ${times[2]} ms of ${times.join(", ")}\n`);
    assert.ok(times[2] < 10_000, "no start-up file can hold a command for long");
});

test("remote.ts: commands and HTTP reach the hosts over one multiplexed SSH connection per host", { skip }, async () => {
    // A web server on host b, reached from host a across the bridge (the operator reaches SSH only).
    const web = spawn(
        "ip",
        [
            "netns",
            "exec",
            b.namespace,
            process.execPath,
            "-e",
            `require("http").createServer((q, s) => s.end("from " + q.socket.remoteAddress)).listen(8080, "${b.address}")`,
        ],
        { stdio: "ignore" },
    );
    const lab = Remote.forLab({
        sshPrivateKey: readFileSync(keyFile, "utf8"),
        inventory: hosts.map((h, i) => ({ name: ["a", "b"][i], address: h.address, ssh: { host: h.address, port: LOCAL_SSH_PORT, user: "root", binPath } })),
    });
    try {
        const clients = await Promise.all([1, 2, 3].map(() => lab.check("a", 'echo "$SSH_CLIENT"', { timeoutMs: 30_000 })));
        assert.equal(new Set(clients).size, 1, `one connection: ${clients.join(" ")}`);
        assert.equal((await lab.check("a", "c2m-probe", { timeoutMs: 30_000 })).trim(), "tool cache visible");
        let body = "";
        for (let i = 0; i < 50 && !body; i++) body = await lab.get(`http://${b.address}:8080/`, { from: "a", timeoutMs: 5000 }).catch(() => "");
        assert.equal(body, `from ${a.address}`, "the exchange starts on host a");
        assert.equal(await lab.get(`http://${b.address}:8080/`), `from ${b.address}`, "by default on the host the URL names");
    } finally {
        await lab.close();
        web.kill();
    }
    assert.equal(existsSync(lab.dir), false);
});
