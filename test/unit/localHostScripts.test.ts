// The local platform's host and bridge scripts, as rendered (components/platform/local/scripts.ts):
// a clean root environment for every SSH command (no operator start-up file), and a firewall
// that lets the operator reach the hosts on SSH only. Nothing here creates a namespace; the
// real thing runs in test/e2e/localHost.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
    LOCAL_SSH_PORT,
    bridgeCreateScript,
    bridgeDeleteScript,
    cleanHome,
    firewallDeleteScript,
    firewallRules,
    firewallTableOf,
    hostCreateScript,
    localNames,
    sshdStartScript,
} from "../../components/platform/local/scripts.ts";
import { quote } from "zx/core";
import { bashSyntax, runBash, tempDir, which } from "./helpers.ts";

const n = localNames("local");
const host = {
    namespace: n.namespace("haproxy-0"),
    veth: n.veth(0),
    bridge: n.bridge,
    address: "198.18.0.2",
    extraAddresses: [],
    prefix: 24,
    workDir: "/run/c2m/local/haproxy-0",
    binPath: "/root/.cache/c2m-lab/bin:/work/main/node_modules/.bin:/usr/sbin:/usr/bin",
};

/** The script bash runs inside the private mount namespace (the quoted here-document it reads). */
function innerScript(script: string): string {
    const m = /unshare --mount --propagation private bash -s <<'C2M_SSHD_EOF'\n([\s\S]*?)\nC2M_SSHD_EOF(\n|$)/.exec(script);
    assert.ok(m, "sshd is started through unshare --mount … bash -s <<'C2M_SSHD_EOF'");
    return m[1];
}

describe("local host: sshd in a clean root environment", () => {
    const script = hostCreateScript(host);
    const inner = innerScript(script);

    test("sh and bash parse the host script (run by /bin/sh), bash the script run inside the mount namespace", () => {
        assert.equal(bashSyntax(script).status, 0, bashSyntax(script).stderr);
        const sh = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
        assert.equal(sh.status, 0, sh.stderr);
        assert.equal(bashSyntax(inner).status, 0, bashSyntax(inner).stderr);
    });

    test("sshd runs in the namespace, in a private mount namespace of its own, with an empty environment", () => {
        assert.ok(script.includes(`ip netns exec ${host.namespace} unshare --mount --propagation private bash -s <<'C2M_SSHD_EOF'\n`));
        assert.match(inner, /^exec env -i PATH=\/usr\/sbin:\/usr\/bin:\/sbin:\/bin \/usr\/sbin\/sshd -f \/dev\/null /m);
        assert.match(inner, new RegExp(`-o ListenAddress=198\\.18\\.0\\.2 -o Port=${LOCAL_SSH_PORT} `));
        assert.match(inner, /-o PermitUserEnvironment=no/);
        assert.match(inner, /-o UsePAM=no/);
    });

    test("root's home is replaced by the host's own empty directory, after the tool cache is bound into it", () => {
        const home = cleanHome(host.workDir);
        assert.equal(home, "/run/c2m/local/haproxy-0/home");
        assert.ok(script.indexOf(`mkdir -p ${home}`) < script.indexOf("unshare"), "the empty home exists before sshd starts");
        assert.ok(inner.includes(`clean=${quote(home)}`));
        const bind = inner.indexOf("mount --bind");
        const over = inner.indexOf(`mount --rbind "$clean" "$home"`);
        const start = inner.indexOf("exec env -i");
        assert.ok(bind > 0 && bind < over && over < start, "binds, then the home, then sshd");
        // Every PATH entry is offered; only those under root's home need binding back.
        for (const d of host.binPath.split(":")) assert.ok(inner.includes(` ${quote(d)}`), d);
    });

    test("the home swap, run in a sandbox, binds back only the PATH entries under home that exist", (t) => {
        const home = tempDir(t);
        mkdirSync(join(home, ".cache/c2m-lab/bin"), { recursive: true });
        const binPath = [`${home}/.cache/c2m-lab/bin`, `${home}/missing/bin`, "/usr/bin", `${home}-other/bin`].join(":");
        const sandboxed = innerScript(hostCreateScript({ ...host, binPath }));
        // The inner script's loop with mkdir and mount replaced by recording: what would be bound where.
        const loop = sandboxed
            .split("\n")
            .filter((l) => /^(for |  case |done)/.test(l))
            .join("\n");
        const r = runBash(`home='${home}'; clean=/c; mkdir() { :; }; mount() { echo "mount $*"; }\n${loop}`);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.stdout.trim().split("\n"), [`mount --bind ${home}/.cache/c2m-lab/bin /c/.cache/c2m-lab/bin`]);
    });

    test("without a binPath nothing of the operator's home is bound back", () => {
        const bare = innerScript(hostCreateScript({ ...host, binPath: undefined }));
        assert.doesNotMatch(bare, /mount --bind/);
        assert.match(bare, /mount --rbind "\$clean" "\$home"/);
    });

    test("the sshd start script quotes a PATH entry with a quote in it", () => {
        const odd = sshdStartScript({ ...host, binPath: "/root/it's/bin" });
        assert.equal(bashSyntax(odd).status, 0, bashSyntax(odd).stderr);
        const inner = innerScript(odd);
        assert.ok(inner.includes(`$'/root/it\\'s/bin'`), inner);
        // bash reads it back as the path itself.
        const loop = /for d in (.*); do/.exec(inner)![1];
        assert.equal(runBash(`printf '%s' ${loop}`).stdout, "/root/it's/bin");
    });
});

describe("local bridge: SSH-only firewall", () => {
    test("one inet table per stack, named after its bridge, derivable from the stack name", () => {
        assert.equal(n.firewallTable, n.bridge);
        assert.equal(firewallTableOf(localNames("local").bridge), localNames("local").firewallTable);
        assert.notEqual(localNames("lab").firewallTable, localNames("lab-2").firewallTable);
        assert.match(n.firewallTable, /^[a-zA-Z][a-zA-Z0-9_]*$/, "a plain nft identifier");
    });

    test("the rules: output hook, bridge only, SSH accepted, everything else dropped; stateless", () => {
        const rules = firewallRules(n.bridge);
        assert.match(rules, new RegExp(`^add table inet ${n.bridge}\\ndelete table inet ${n.bridge}\\ntable inet ${n.bridge} \\{`));
        assert.match(rules, /type filter hook output priority filter; policy accept;/);
        assert.ok(rules.includes(`oifname "${n.bridge}" tcp dport 22 accept`));
        assert.ok(rules.includes(`oifname "${n.bridge}" counter drop`));
        assert.ok(rules.indexOf("tcp dport 22 accept") < rules.indexOf("counter drop"));
        // No connection tracking (its cost at 300k flows), and no hook bridged host-to-host frames cross.
        assert.doesNotMatch(rules, /\bct\b/);
        assert.doesNotMatch(rules, /hook (forward|prerouting|postrouting|input)/);
    });

    test("nft accepts the ruleset (check mode: nothing is applied)", { skip: (!which("nft") || process.getuid?.() !== 0) && "needs nft and root" }, () => {
        const r = spawnSync("nft", ["-c", "-f", "-"], { input: firewallRules(n.bridge), encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
    });

    test("the bridge script sets up the firewall before the bridge carries traffic; delete removes it", () => {
        const create = bridgeCreateScript(n.bridge, "198.18.0.1", 24);
        assert.equal(bashSyntax(create).status, 0, bashSyntax(create).stderr);
        const nft = create.indexOf("nft -f - <<'NFT'");
        assert.ok(nft > 0 && nft < create.indexOf("ip addr replace") && nft < create.indexOf(`ip link set ${n.bridge} up`));
        assert.ok(create.includes(firewallRules(n.bridge)));
        assert.match(create, /command -v nft .*run lab bootstrap/);
        const del = bridgeDeleteScript(n.bridge, n.runDir);
        assert.ok(del.includes(firewallDeleteScript(n.bridge)));
        assert.equal(firewallDeleteScript(n.bridge), `nft delete table inet ${n.bridge} 2>/dev/null || true`);
    });
});
