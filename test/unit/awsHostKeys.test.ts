// SSH to EC2 hosts checks the host key the stack made (public IPs are recycled after an instance
// ends itself): the session writes the stack's known_hosts and ssh refuses any other key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { knownHosts, remoteDial, sshArgs, SshSession } from "../../scripts/lib/ssh.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfLb c2m-lab";

describe("SSH host keys of the lab's hosts", () => {
    test("a host with a known key: ssh accepts that key only (StrictHostKeyChecking=yes, the stack's known_hosts)", () => {
        const args = sshArgs({ keyFile: "/k", host: "203.0.113.10", port: 22, user: "root", connectTimeoutS: 5, knownHostsFile: "/tmp/kh" }, "true");
        assert.ok(args.join(" ").includes("-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/tmp/kh -o GlobalKnownHostsFile=/dev/null"), args.join(" "));
        assert.ok(!args.includes("StrictHostKeyChecking=no"));
    });
    test("known_hosts lines: host and key, [host]:port off port 22", () => {
        assert.equal(
            knownHosts([
                { host: "203.0.113.10", hostKey: `${KEY}\n` },
                { host: "198.18.0.5", port: 2222, hostKey: KEY },
            ]),
            `203.0.113.10 ${KEY}\n[198.18.0.5]:2222 ${KEY}\n`,
        );
    });
    test("a session checks the keys the inventory carries, and only for those hosts", () => {
        const session = new SshSession("PRIVATE", {}, [{ host: "203.0.113.10", port: 22, hostKey: KEY }, { host: "198.18.0.7" }]) as any;
        try {
            const keyed: string[] = session.args({ host: "203.0.113.10", port: 22, user: "root" }, "true");
            const file = keyed[keyed.indexOf("-o", keyed.indexOf("StrictHostKeyChecking=yes") - 1) + 3].replace("UserKnownHostsFile=", "");
            assert.ok(keyed.includes("StrictHostKeyChecking=yes"), keyed.join(" "));
            assert.equal(readFileSync(file, "utf8"), `203.0.113.10 ${KEY}\n`);
            const local: string[] = session.args({ host: "198.18.0.7", port: 22, user: "root" }, "true");
            assert.ok(local.includes("StrictHostKeyChecking=no"), "a local namespace host has no key from the stack");
            assert.throws(() => session.args({ host: "192.0.2.1", port: 22, user: "root" }, "true"), /not a host of this lab/);
        } finally {
            session.close();
        }
    });
});

describe("the rig's command provider honours a connection's hostKey", () => {
    test("with a hostKey: known_hosts holds it and ssh checks it; without: as before", () => {
        const keyed = remoteDial({ host: "203.0.113.10", privateKey: "K", hostKey: KEY }, "/tmp/d");
        assert.equal(keyed.dial.knownHostsFile, "/tmp/d/known_hosts");
        assert.equal(keyed.files["/tmp/d/known_hosts"], `203.0.113.10 ${KEY}\n`);
        assert.ok(sshArgs(keyed.dial, "true").includes("StrictHostKeyChecking=yes"));
        const plain = remoteDial({ host: "198.18.0.7", privateKey: "K" }, "/tmp/d");
        assert.equal(plain.dial.knownHostsFile, undefined);
        assert.deepEqual(Object.keys(plain.files), ["/tmp/d/id"]);
    });
});

describe("ssh with the stack's known_hosts against a real sshd on loopback", () => {
    test("the right host key connects; another key is refused (Host key verification failed)", async (t) => {
        const { spawn, spawnSync } = await import("node:child_process");
        const { mkdtempSync, rmSync, writeFileSync, readFileSync: read, existsSync } = await import("node:fs");
        const { tmpdir } = await import("node:os");
        const { join } = await import("node:path");
        if (!existsSync("/usr/sbin/sshd")) {
            t.skip("no sshd");
            return;
        }
        const dir = mkdtempSync(join(tmpdir(), "c2m-hostkey-"));
        const keygen = (name: string) => {
            spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, name)]);
            return read(join(dir, `${name}.pub`), "utf8").trim();
        };
        const hostPub = keygen("host");
        const otherPub = keygen("other");
        const userPub = keygen("user");
        writeFileSync(join(dir, "authorized_keys"), `${userPub}\n`);
        spawnSync("mkdir", ["-p", "/run/sshd"]);
        const port = 20000 + (process.pid % 20000);
        const sshd = spawn(
            "/usr/sbin/sshd",
            [
                "-D",
                "-e",
                "-f",
                "/dev/null",
                "-h",
                join(dir, "host"),
                "-p",
                String(port),
                "-o",
                "ListenAddress=127.0.0.1",
                "-o",
                `AuthorizedKeysFile=${join(dir, "authorized_keys")}`,
                "-o",
                "UsePAM=no",
                "-o",
                "StrictModes=no",
                "-o",
                `PidFile=${join(dir, "pid")}`,
            ],
            { stdio: "ignore" },
        );
        try {
            const tryWith = (hostKey: string) => {
                const { dial, files } = remoteDial({ host: "127.0.0.1", port, user: "root", hostKey, privateKey: read(join(dir, "user"), "utf8") }, dir);
                for (const [f, text] of Object.entries(files)) writeFileSync(f, text, { mode: 0o600 });
                for (let i = 0; i < 50; i++) {
                    const r = spawnSync("ssh", sshArgs({ ...dial, connectTimeoutS: 2 }, "echo hello"), { encoding: "utf8", timeout: 10_000 });
                    if (!/Connection refused/.test(r.stderr)) return r;
                    spawnSync("sleep", ["0.1"]);
                }
                throw new Error("sshd did not start");
            };
            const ok = tryWith(hostPub);
            assert.equal(ok.status, 0, ok.stderr);
            assert.equal(ok.stdout.trim(), "hello");
            const bad = tryWith(otherPub);
            assert.notEqual(bad.status, 0);
            assert.match(bad.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
        } finally {
            sshd.kill();
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
