// SSH to EC2 hosts checks the host key the stack made (public IPs are recycled after an instance
// ends itself): the session writes the stack's known_hosts and ssh refuses any other key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { knownHosts, sshArgs, SshSession } from "../../scripts/lib/ssh.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfLb c2m-lab";

describe("SSH host keys of the lab's hosts", () => {
    test("a host with a known key: ssh accepts that key only (StrictHostKeyChecking=yes, the stack's known_hosts)", () => {
        const args = sshArgs({ keyFile: "/k", host: "203.0.113.10", port: 22, user: "root", connectTimeoutS: 5, knownHostsFile: "/tmp/kh" }, "true");
        assert.ok(args.join(" ").includes("-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/tmp/kh -o GlobalKnownHostsFile=/dev/null"), args.join(" "));
        assert.ok(!args.includes("StrictHostKeyChecking=no"));
    });
    test("known_hosts lines: host and key, [host]:port off port 22", () => {
        assert.equal(knownHosts([{ host: "203.0.113.10", hostKey: `${KEY}\n` }, { host: "198.18.0.5", port: 2222, hostKey: KEY }]),
            `203.0.113.10 ${KEY}\n[198.18.0.5]:2222 ${KEY}\n`);
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
