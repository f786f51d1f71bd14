import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import YAML from "yaml";
import { cloudInitReadyScript, renderCloudInit, TUNING_SCRIPT, type CloudInitInput } from "../../components/platform/aws/cloudInit.ts";
import { amiPinScript, DEBIAN_AMI_NAME, DEBIAN_AMI_OWNER, DEBIAN_AMI_PARAMETER, DEBIAN_RELEASE } from "../../components/platform/aws/image.ts";
import { APT_PACKAGES } from "../../scripts/toolchain/toolchain.ts";
import { EXPIRY_ENABLE, EXPIRY_UNIT, expiryRenewScript, onCalendar } from "../../components/platform/aws/expiry.ts";
import { EPHEMERAL_PORTS } from "../../components/platform/aws/trafficRules.ts";
import { LabConfigSchema } from "../../components/config.ts";
import { planCapacity } from "../../components/plan/capacity.ts";
import { hostSysctls, kernelSysctls, renderTuning, socketsOnHost, type Setting } from "../../components/render/tuning.ts";
import type { Role } from "../../components/types.ts";

const GOLDEN = new URL("./golden/aws-cloud-init-client.yaml", import.meta.url);

// The aws-16c64g tier's shape: 1.05M connections, 20 clients, 8 backend hosts, 64 GiB hosts.
const config = LabConfigSchema.parse({
    platform: "aws",
    plan: { connections: 1_050_000 },
    hosts: { backends: 8, clients: 20 },
    aws: { secondaryIpsPerClient: 3 },
});
const capacity = planCapacity(config);
const MEMORY = 64 * 1024 ** 3;
/** A host's tuning as the program computes it on EC2: its own kernel carries only its sockets. */
const tuningOf = (role: Role) =>
    renderTuning({
        role,
        capacity,
        backends: 8,
        kernelSockets: socketsOnHost(role, capacity, 8),
        memoryBytes: MEMORY,
    });

const input = (over: Partial<CloudInitInput> = {}): CloudInitInput => ({
    stack: "aws-16c64g",
    host: "client-0",
    role: "client",
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample c2m-lab",
    hostKey: {
        privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nHOSTKEY\n-----END OPENSSH PRIVATE KEY-----\n",
        publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey c2m-lab",
    },
    tuning: tuningOf(over.role ?? "client"),
    binPath: "/opt/c2m/bin",
    workDir: "/var/lib/c2m/client-0",
    addresses: ["198.18.2.64", "198.18.2.65", "198.18.2.66", "198.18.2.67"],
    prefix: 19,
    versions: { node: "22.23.3", vegeta: "12.13.0" },
    expiresAt: "2026-11-26T03:00:00Z",
    ...over,
});

type Doc = { write_files: { path: string; content: string }[]; runcmd: string[] };
const file = (doc: Doc, path: string) => doc.write_files.find((f) => f.path === path)?.content ?? "";

/** The settings a tuning script applies, read back from its `apply 'key' 'value' mode opt` lines. */
function appliedBy(script: string): Omit<Setting, "why">[] {
    return [...script.matchAll(/^apply '([^']+)' '([^']+)' (exact|atleast) (required|optional)$/gm)].map(([, key, value, mode, opt]) => ({
        key,
        value,
        ...(mode === "atleast" ? { atLeast: true } : {}),
        ...(opt === "optional" ? { optional: true } : {}),
    }));
}

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
    test("is #cloud-config YAML: root by key only, the role's nofile everywhere", () => {
        const text = renderCloudInit(input());
        assert.ok(text.startsWith("#cloud-config\n"));
        const doc = YAML.parse(text);
        assert.equal(doc.disable_root, false);
        assert.equal(doc.ssh_pwauth, false);
        assert.deepEqual(doc.ssh_authorized_keys, [input().publicKey]);
        const nofile = tuningOf("client").nofile;
        assert.match(file(doc, "/etc/security/limits.d/60-c2m.conf"), new RegExp(`^root hard nofile ${nofile}$`, "m"));
        assert.match(file(doc, "/etc/systemd/system.conf.d/60-c2m.conf"), new RegExp(`DefaultLimitNOFILE=${nofile}\n`));
        assert.match(file(doc, "/etc/ssh/sshd_config.d/60-c2m.conf"), /PasswordAuthentication no/);
        bashSyntaxOk(file(doc, TUNING_SCRIPT));
        for (const cmd of doc.runcmd) bashSyntaxOk(cmd);
        assert.equal(doc.runcmd[0], EXPIRY_ENABLE, "the host's own end at the expiry comes first");
        assert.equal(doc.runcmd[1], `bash ${TUNING_SCRIPT}`, "tuned before anything is installed");
    });
    for (const role of ["haproxy", "backend", "client", "metrics"] as const) {
        test(`${role}: the sysctls and nofile are the tuning table's for the role`, () => {
            const plan = tuningOf(role);
            const doc: Doc = YAML.parse(renderCloudInit(input({ role, addresses: ["198.18.0.32"] })));
            const sockets = socketsOnHost(role, capacity, 8);
            const largestNofile = Math.max(capacity.haproxy.nofile, capacity.client.nofile, capacity.backend.nofile);
            const table = [...hostSysctls(sockets), ...kernelSysctls(sockets, largestNofile, MEMORY)];
            const applied = appliedBy(file(doc, TUNING_SCRIPT));
            // Every key of the table, each once, with the table's value and mode.
            assert.deepEqual(applied.map((s) => s.key).sort(), [...new Set(table.map((s) => s.key))].sort());
            for (const s of applied) {
                const { why: _, ...want } = table.findLast((t) => t.key === s.key)!;
                assert.deepEqual(s, want, s.key);
            }
            const limits = file(doc, "/etc/security/limits.d/60-c2m.conf");
            assert.deepEqual(
                [...limits.matchAll(/nofile (\d+)$/gm)].map((m) => Number(m[1])),
                [plan.nofile, plan.nofile, plan.nofile, plan.nofile],
            );
            assert.match(file(doc, "/etc/systemd/system.conf.d/60-c2m.conf"), new RegExp(`DefaultLimitNOFILE=${plan.nofile}\n`));
        });
    }
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
        for (const a of ["198.18.2.65", "198.18.2.66", "198.18.2.67"])
            assert.match(cmds, new RegExp(`ip addr replace ${a.replaceAll(".", "\\.")}/19 dev "\\$dev"`));
        assert.ok(!/ip addr replace 198\.18\.2\.64\//.test(cmds));
        // The awk pattern really finds the interface holding the primary address.
        const line = cmds.split("\n").find((l: string) => l.startsWith("dev=$("))!;
        const awk = /awk '(.*)'/.exec(line)![1];
        const r = spawnSync("awk", [awk], {
            input: "2: ens5    inet 198.18.2.64/19 metric 100 brd 198.18.31.255 scope global ens5\n3: ens6    inet 198.18.2.640/19 scope global\n",
            encoding: "utf8",
        });
        assert.equal(r.stdout.trim(), "ens5");
    });
    test("every role ends itself at the lab's expiry: a systemd timer due then powers the instance off, enabled before anything else", () => {
        for (const role of ["haproxy", "backend", "client", "metrics"] as const) {
            const doc: Doc = YAML.parse(renderCloudInit(input({ role, addresses: ["198.18.0.32"], expiresAt: "2026-12-01T17:45:09Z" })));
            const timer = file(doc, `/etc/systemd/system/${EXPIRY_UNIT}.timer`);
            assert.match(timer, /^OnCalendar=2026-12-01 17:45:09 UTC$/m, role);
            assert.match(timer, /^Persistent=true$/m);
            assert.match(timer, /^WantedBy=timers\.target$/m);
            assert.match(file(doc, `/etc/systemd/system/${EXPIRY_UNIT}.service`), /^ExecStart=\/usr\/bin\/systemctl --no-block poweroff$/m);
            assert.equal(doc.runcmd[0], `systemctl daemon-reload && systemctl enable --now ${EXPIRY_UNIT}.timer`, role);
        }
        assert.equal(onCalendar("2026-11-26T03:00:00Z"), "2026-11-26 03:00:00 UTC");
        assert.throws(() => onCalendar("2026-11-26T03:00:00.000Z"), /not a UTC instant/);
    });
    test("each up renews the timer over SSH: same units, the new expiry, checked active", () => {
        const s = expiryRenewScript("aws-16c64g", "2026-12-01T17:45:09Z");
        bashSyntaxOk(s);
        assert.match(s, /^set -eu$/m);
        assert.match(s, new RegExp(`systemctl restart ${EXPIRY_UNIT}\\.timer`));
        assert.match(s, /grep -qx 'OnCalendar=2026-12-01 17:45:09 UTC'/);
        const written = [...s.matchAll(/^echo '([A-Za-z0-9+/=]+)' \| base64 -d > (\S+)$/gm)].map((m) => ({
            path: m[2],
            content: Buffer.from(m[1], "base64").toString(),
        }));
        const doc: Doc = YAML.parse(renderCloudInit(input({ expiresAt: "2026-12-01T17:45:09Z" })));
        assert.equal(written.length, 2);
        for (const w of written) assert.equal(w.content, file(doc, w.path), w.path);
    });
    test("downloads after the tuning bind a source port the lab ACL lets replies in on", () => {
        for (const role of ["backend", "client"] as const) {
            const curls = YAML.parse(renderCloudInit(input({ role, addresses: ["198.18.0.32"] })))
                .runcmd.join("\n")
                .split("\n")
                .filter((l: string) => /\bcurl\b/.test(l));
            assert.ok(curls.length >= 2, role);
            for (const c of curls) assert.ok(c.includes(`--local-port ${EPHEMERAL_PORTS.from}-${EPHEMERAL_PORTS.to}`), c);
        }
    });
    test("readiness check waits for cloud-init and checks the role's tools and limits", () => {
        const s = cloudInitReadyScript("client", "/opt/c2m/bin", tuningOf("client").nofile);
        bashSyntaxOk(s);
        assert.match(s, /cloud-init status --wait/);
        assert.match(s, /command -v vegeta/);
        assert.match(s, new RegExp(`fs\\.nr_open\\)" -ge ${tuningOf("client").nofile} `));
    });
});

const ROLES: Role[] = ["haproxy", "backend", "client", "metrics"];

describe("same software on both sides: EC2 hosts install what the local hosts run", () => {
    // The packages a lab host runs locally (the machine's own, toolchain.ts APT_PACKAGES) minus the
    // operator-side tools: the ssh client, shellcheck (lints), nftables (the local platform's firewall).
    const OPERATOR_ONLY = new Set(["openssh-client", "shellcheck", "nftables"]);
    const localHostPackages = [...new Set(Object.values(APT_PACKAGES))].filter((p) => !OPERATOR_ONLY.has(p)).sort();

    test("the union over roles of the user data's packages holds every local host package, from Debian's archive", () => {
        const installed = new Set(ROLES.flatMap((role) => YAML.parse(renderCloudInit(input({ role, addresses: ["198.18.0.32"] }))).packages as string[]));
        assert.ok(localHostPackages.length >= 6, localHostPackages.join(" "));
        assert.deepEqual(
            localHostPackages.filter((p) => !installed.has(p)),
            [],
            "a package the local hosts run is not installed on EC2",
        );
        // Only what EC2 needs besides: the ENA counters' tool, the CA bundle and xz for the pinned Node tarball.
        assert.deepEqual([...installed].filter((p) => !localHostPackages.includes(p)).sort(), ["ca-certificates", "ethtool", "xz-utils"]);
    });
    test("each role gets its own software: HAProxy and OpenSSL on the LB, Prometheus on the metrics host, node_exporter and sshd everywhere", () => {
        const pkgs = (role: Role) => YAML.parse(renderCloudInit(input({ role, addresses: ["198.18.0.32"] }))).packages as string[];
        for (const role of ROLES) for (const p of ["openssh-server", "prometheus-node-exporter"]) assert.ok(pkgs(role).includes(p), `${role}: ${p}`);
        assert.ok(pkgs("haproxy").includes("haproxy") && pkgs("haproxy").includes("openssl"));
        assert.ok(pkgs("metrics").includes("prometheus"));
    });
    test("the image is Debian 12, the local hosts' release, from Debian's own account and public parameter", () => {
        assert.equal(DEBIAN_RELEASE, "12");
        assert.equal(DEBIAN_AMI_OWNER, "136693071363");
        assert.equal(DEBIAN_AMI_PARAMETER, "/aws/service/debian/release/12/latest/amd64");
        assert.match("debian-12-amd64-20261201-1950", DEBIAN_AMI_NAME);
        assert.doesNotMatch("debian-13-amd64-20261201-1950", DEBIAN_AMI_NAME);
        // This machine is the local lab: where it is Debian, it is the same release.
        const version = existsSync("/etc/debian_version") ? readFileSync("/etc/debian_version", "utf8").trim() : "";
        if (/^\d+\./.test(version)) assert.equal(version.split(".")[0], DEBIAN_RELEASE, `local hosts run Debian ${version}`);
    });
    test("the host key the program made is the only one sshd gets", () => {
        const doc = YAML.parse(renderCloudInit(input()));
        assert.deepEqual(doc.ssh_keys, { ed25519_private: input().hostKey.privateKey, ed25519_public: input().hostKey.publicKey });
        assert.equal(doc.ssh_deletekeys, true);
        assert.deepEqual(doc.ssh_genkeytypes, ["ed25519"], "only the type whose key is given");
    });
    test("the AMI pin refuses an answer that is not an AMI id, naming the parameter and the fix", () => {
        assert.equal(amiPinScript("ami-0123456789abcdef0"), "printf '%s\\n' ami-0123456789abcdef0");
        assert.throws(() => amiPinScript("None"), /\/aws\/service\/debian\/release\/12\/latest\/amd64 answered "None", not an AMI id: set c2m:aws\.ami/);
    });
});
