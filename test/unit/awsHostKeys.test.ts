// SSH to EC2 hosts checks the host key the stack made (public IPs are recycled after an instance
// ends itself): the session writes the stack's known_hosts and ssh refuses any other key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { knownHosts, Remote } from "../../scripts/lib/remote.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfLb c2m-lab";

describe("SSH host keys of the lab's hosts", () => {
    test("known_hosts lines: host and key, [host]:port off port 22", () => {
        assert.equal(
            knownHosts([
                { host: "203.0.113.10", hostKey: `${KEY}\n` },
                { host: "198.18.0.5", port: 2222, hostKey: KEY },
            ]),
            `203.0.113.10 ${KEY}\n[198.18.0.5]:2222 ${KEY}\n`,
        );
    });
    test("a session checks the keys the inventory carries (StrictHostKeyChecking=yes, the stack's known_hosts), and only for those hosts", async () => {
        const dir = mkdtempSync(join(tmpdir(), "c2m-hostkeys-"));
        const session = new Remote({ privateKey: "PRIVATE", hosts: [{ host: "203.0.113.10", port: 22, hostKey: KEY }, { host: "198.18.0.7" }], dir });
        try {
            const keyed = session.dialArgs({ host: "203.0.113.10", port: 22, user: "root" });
            const line = keyed.join(" ");
            assert.ok(line.includes("-o StrictHostKeyChecking=yes -o UserKnownHostsFile="), line);
            assert.ok(line.includes("-o GlobalKnownHostsFile=/dev/null"), line);
            assert.ok(!keyed.includes("StrictHostKeyChecking=no"));
            const file = keyed.find((a) => a.startsWith("UserKnownHostsFile="))!.replace("UserKnownHostsFile=", "");
            assert.equal(readFileSync(file, "utf8"), `203.0.113.10 ${KEY}\n`);
            const local = session.dialArgs({ host: "198.18.0.7", port: 22, user: "root" });
            assert.ok(local.includes("StrictHostKeyChecking=no"), "a local namespace host has no key from the stack");
            assert.throws(() => session.dialArgs({ host: "192.0.2.1", port: 22, user: "root" }), /not a host of this lab/);
        } finally {
            await session.close();
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("the command provider's connection with a hostKey, against a real sshd on loopback", () => {
    test("the right host key connects; another key is refused (Host key verification failed)", async (t) => {
        const { spawn, spawnSync } = await import("node:child_process");
        const { writeFileSync, readFileSync: read, existsSync } = await import("node:fs");
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
            // As the command provider dials a connection with a hostKey: one host, its key only.
            const tryWith = async (hostKey: string) => {
                const remote = new Remote({
                    privateKey: read(join(dir, "user"), "utf8"),
                    hosts: [{ host: "127.0.0.1", port, hostKey }],
                    dir,
                    connectTimeoutS: 2,
                });
                try {
                    for (let i = 0; i < 50; i++) {
                        const r = await remote.run({ host: "127.0.0.1", port, user: "root" }, "echo hello", { timeoutMs: 10_000 });
                        if (!/Connection refused/.test(r.stderr)) return r;
                        await new Promise((resolve) => setTimeout(resolve, 100));
                    }
                } finally {
                    await remote.close();
                }
                throw new Error("sshd did not start");
            };
            const ok = await tryWith(hostPub);
            assert.equal(ok.code, 0, ok.stderr);
            assert.equal(ok.stdout.trim(), "hello");
            const bad = await tryWith(otherPub);
            assert.notEqual(bad.code, 0);
            assert.match(bad.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
        } finally {
            sshd.kill();
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
