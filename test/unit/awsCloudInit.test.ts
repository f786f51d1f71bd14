import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import YAML from "yaml";
import { cloudInitReadyScript, renderCloudInit, type CloudInitInput } from "../../components/platform/aws/cloudInit.ts";

const GOLDEN = new URL("./golden/aws-cloud-init-client.yaml", import.meta.url);

const input = (over: Partial<CloudInitInput> = {}): CloudInitInput => ({
    stack: "aws-16c64g", host: "client-0", role: "client", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample c2m-lab",
    nofileCeiling: 4_194_304, memoryGiB: 64, binPath: "/opt/c2m/bin", workDir: "/var/lib/c2m/client-0",
    addresses: ["198.18.2.64", "198.18.2.65", "198.18.2.66", "198.18.2.67"], prefix: 19,
    versions: { node: "22.23.3", vegeta: "12.13.0" }, ...over,
});

function bashSyntaxOk(script: string): void {
    const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
}

describe("cloud-init user data", () => {
    test("client: golden file (UPDATE_GOLDEN=1 rewrites it)", () => {
        const text = renderCloudInit(input());
        if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, text);
        assert.equal(text, readFileSync(GOLDEN, "utf8"));
    });
    test("is #cloud-config YAML: root by key only, nofile ceiling everywhere", () => {
        const text = renderCloudInit(input());
        assert.ok(text.startsWith("#cloud-config\n"));
        const doc = YAML.parse(text);
        assert.equal(doc.disable_root, false);
        assert.equal(doc.ssh_pwauth, false);
        assert.deepEqual(doc.ssh_authorized_keys, [input().publicKey]);
        const file = (p: string) => doc.write_files.find((f: { path: string }) => f.path === p)?.content as string;
        assert.match(file("/etc/sysctl.d/60-c2m.conf"), /^fs\.nr_open = 4194304$/m);
        assert.match(file("/etc/security/limits.d/60-c2m.conf"), /^root hard nofile 4194304$/m);
        assert.match(file("/etc/systemd/system.conf.d/60-c2m.conf"), /DefaultLimitNOFILE=4194304/);
        assert.match(file("/etc/ssh/sshd_config.d/60-c2m.conf"), /PasswordAuthentication no/);
        for (const cmd of doc.runcmd) bashSyntaxOk(cmd);
    });
    test("each role gets its packages: haproxy from apt, node and vegeta pinned and checksum-verified", () => {
        const runcmd = (role: CloudInitInput["role"]) => YAML.parse(renderCloudInit(input({ role, addresses: ["198.18.0.32"] })));
        const lb = runcmd("haproxy");
        assert.ok(lb.packages.includes("haproxy") && lb.packages.includes("openssh-server"));
        assert.ok(lb.runcmd.includes("systemctl disable --now haproxy"));
        const be = runcmd("backend").runcmd.join("\n");
        assert.match(be, /nodejs\.org\/dist\/v22\.23\.3\/node-v22\.23\.3-linux-x64\.tar\.xz/);
        assert.match(be, /sha256sum -c -/);
        assert.match(be, /ln -sf \/opt\/c2m\/node\/bin\/node \/opt\/c2m\/bin\/node/);
        const cl = runcmd("client").runcmd.join("\n");
        assert.match(cl, /vegeta\/releases\/download\/v12\.13\.0\/vegeta_12\.13\.0_linux_amd64\.tar\.gz/);
        assert.match(cl, /sha256sum -c -/);
        assert.ok(!runcmd("client").packages.includes("haproxy"));
    });
    test("secondary addresses are put on the primary's interface", () => {
        const cmds = YAML.parse(renderCloudInit(input())).runcmd.join("\n");
        for (const a of ["198.18.2.65", "198.18.2.66", "198.18.2.67"]) assert.match(cmds, new RegExp(`ip addr replace ${a.replaceAll(".", "\\.")}/19 dev "\\$dev"`));
        assert.ok(!/ip addr replace 198\.18\.2\.64\//.test(cmds));
        // The awk pattern really finds the interface holding the primary address.
        const line = cmds.split("\n").find((l: string) => l.startsWith("dev=$("))!;
        const awk = /awk '(.*)'/.exec(line)![1];
        const r = spawnSync("awk", [awk], { input: "2: ens5    inet 198.18.2.64/19 metric 100 brd 198.18.31.255 scope global ens5\n3: ens6    inet 198.18.2.640/19 scope global\n", encoding: "utf8" });
        assert.equal(r.stdout.trim(), "ens5");
    });
    test("readiness check waits for cloud-init and checks the role's tools and limits", () => {
        const s = cloudInitReadyScript("client", "/opt/c2m/bin", 4_194_304);
        bashSyntaxOk(s);
        assert.match(s, /cloud-init status --wait/);
        assert.match(s, /command -v vegeta/);
        assert.match(s, /fs\.nr_open\)" -ge 4194304/);
    });
});
