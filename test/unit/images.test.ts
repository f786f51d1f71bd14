// Host images (components/images.ts, components/platform/local/image*.ts, scripts/toolchain/images.ts):
// the c2m:image choice, what a host or a bench runs from an image, and what is refused before
// anything starts. The mount test enters a real (tiny) root filesystem; test/e2e/image.test.ts
// runs a whole lab from a built Debian image.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { imageLabel, imageOf, imagesOf } from "../../components/images.ts";
import { parseSchema, ConfigError } from "../../components/config.ts";
import { hostImageBinds, imageArgv, imageRoot, imagesDir, parseHaproxyVersions } from "../../components/platform/local/image.ts";
import { imageProblems, imageRootsOf } from "../../components/platform/local/imageChoice.ts";
import { cleanHome, sshdStartScript } from "../../components/platform/local/scripts.ts";
import { checkImageName, debianMirrors, imageSources, imagesRoot } from "../../scripts/toolchain/images.ts";
import { haproxyRunner } from "../../bench/tlsMemory.ts";
import { vegetaP99 } from "../../bench/tlsHandshakes.ts";
import { tempDir } from "./helpers.ts";

describe("c2m:image", () => {
    test("absent: every host runs the machine's own software, as before images existed", () => {
        const c = parseSchema({});
        assert.equal(c.image, "machine");
        for (const r of ["haproxy", "backend", "client", "metrics"]) assert.equal(imageOf(c.image, r), "machine");
    });
    test("one name covers haproxy, backend and client; the metrics host stays on the machine's", () => {
        const c = parseSchema({ image: "debian-13" });
        assert.deepEqual(
            ["haproxy", "backend", "client", "metrics"].map((r) => imageOf(c.image, r)),
            ["debian-13", "debian-13", "debian-13", "machine"],
        );
        assert.deepEqual(imagesOf(c.image, ["haproxy", "client", "metrics"]), ["debian-13", "machine"]);
        assert.equal(imageLabel(c.image), "debian-13");
    });
    test("per role: a role not named runs the machine's", () => {
        const c = parseSchema({ image: { haproxy: "debian-13" } });
        assert.equal(imageOf(c.image, "haproxy"), "debian-13");
        assert.equal(imageOf(c.image, "client"), "machine");
        assert.equal(imageLabel(c.image), "haproxy=debian-13,backend=machine,client=machine");
    });
    test("an unknown image or a role that cannot run one is refused, naming the key", () => {
        for (const [raw, key] of [
            ["debian-14", "c2m:image"],
            [{ metrics: "debian-13" }, "c2m:image"],
            [{ haproxy: "ubuntu" }, "c2m:image"],
        ] as const) {
            assert.throws(
                () => parseSchema({ image: raw }),
                (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith(key)),
                JSON.stringify(raw),
            );
        }
    });
});

describe("an image must be built before a host runs it", () => {
    test("a missing image is a problem naming the key, the roles and the command; a built one is none", (t) => {
        const dir = tempDir(t);
        const problems = imageProblems({ image: { haproxy: "debian-13", client: "debian-13" } }, dir);
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^c2m:image: image debian-13 \(for haproxy, client\) is not built .*lab image build debian-13/);
        assert.deepEqual(imageProblems({ image: "machine" }, dir), []);
        mkdirSync(join(imageRoot(dir, "debian-13"), "usr/sbin"), { recursive: true });
        writeFileSync(join(imageRoot(dir, "debian-13"), "usr/sbin/haproxy"), "");
        assert.deepEqual(imageProblems({ image: { haproxy: "debian-13" } }, dir), []);
        assert.deepEqual(imageRootsOf({ image: { haproxy: "debian-13" } }, dir), { haproxy: imageRoot(dir, "debian-13") });
    });
    test("the benches refuse an unknown or unbuilt image before starting anything", (t) => {
        const saved = process.env.C2M_CACHE;
        t.after(() => {
            if (saved === undefined) delete process.env.C2M_CACHE;
            else process.env.C2M_CACHE = saved;
        });
        process.env.C2M_CACHE = tempDir(t);
        assert.throws(() => haproxyRunner("debian-14", "/x"), /unknown image "debian-14"/);
        assert.throws(() => haproxyRunner("debian-13", "/x"), /debian-13.*not built.*lab image build debian-13/);
        assert.deepEqual(haproxyRunner("machine", "/x")(["haproxy", "-v"]), ["haproxy", "-v"]);
        assert.throws(() => checkImageName("machine"), /unknown image "machine"/);
    });
    test("the program's image directory is the tool cache's, as scripts/toolchain decides it", (t) => {
        const saved = process.env.C2M_CACHE;
        t.after(() => {
            if (saved === undefined) delete process.env.C2M_CACHE;
            else process.env.C2M_CACHE = saved;
        });
        delete process.env.C2M_CACHE;
        assert.equal(imagesDir(), imagesRoot());
        process.env.C2M_CACHE = "/tmp/some cache";
        assert.equal(imagesDir(), imagesRoot());
        assert.equal(imagesDir(), "/tmp/some cache/images");
    });
});

describe("building an image", () => {
    test("the mirror comes from the machine's apt sources, deb822 or one-line", () => {
        const deb822 =
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n";
        assert.deepEqual(debianMirrors(deb822), { archive: "http://deb.debian.org/debian", security: "http://deb.debian.org/debian-security" });
        assert.deepEqual(debianMirrors("deb [arch=amd64] http://mirror.example/debian/ bookworm main\n"), {
            archive: "http://mirror.example/debian",
            security: undefined,
        });
        assert.throws(() => debianMirrors("deb https://packages.example/apt stable main\n"), /no Debian archive/);
        assert.equal(
            imageSources(checkImageName("debian-13"), { archive: "http://m/debian", security: "http://m/debian-security" }),
            "deb http://m/debian trixie main\ndeb http://m/debian trixie-updates main\ndeb http://m/debian-security trixie-security main\n",
        );
    });
    test("haproxy -vv gives HAProxy's version and the TLS library it runs on (not the one it was built with)", () => {
        const vv =
            "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\nStatus: long-term\n" +
            "Built with OpenSSL version : OpenSSL 3.0.22 25 Aug 2026\nRunning on OpenSSL version : OpenSSL 3.0.19 27 Jan 2026\n";
        assert.deepEqual(parseHaproxyVersions(vv), { haproxy: "2.6.12-1+deb12u4", tlsLibrary: "OpenSSL 3.0.19" });
        assert.deepEqual(parseHaproxyVersions("HAProxy version 3.0.11-1 2025/06/01\nBuilt with wolfSSL version : wolfSSL 5.7.2 x\n"), {
            haproxy: "3.0.11-1",
            tlsLibrary: "wolfSSL 5.7.2",
        });
        assert.deepEqual(parseHaproxyVersions("HAProxy version 2.6.12\n"), { haproxy: "2.6.12", tlsLibrary: "none" });
    });
});

describe("a local host running an image", () => {
    const h = {
        namespace: "c2m-x-local-haproxy-0",
        address: "198.18.0.2",
        workDir: "/run/c2m/local/haproxy-0",
        binPath: "/root/.cache/c2m-lab/bin:/work/main/node_modules/.bin:/usr/sbin:/usr/bin",
    };
    test("sshd is chrooted into the host's own mount of the image; the machine's sshd otherwise", () => {
        const plain = sshdStartScript(h);
        assert.doesNotMatch(plain, /chroot|overlay/);
        const s = sshdStartScript({ ...h, imageRoot: "/cache/images/debian-13/root" });
        assert.match(s, /^ip netns exec c2m-x-local-haproxy-0 unshare --mount --propagation private bash -s <<'C2M_SSHD_EOF'$/m);
        assert.match(s, /mount -t overlay c2m-image -o lowerdir=.*\/cache\/images\/debian-13\/root.*upperdir=.*\/run\/c2m\/local\/haproxy-0\/image\/upper/);
        assert.match(s, /exec chroot "\$root" \/usr\/bin\/env -i PATH=\/usr\/sbin:\/usr\/bin:\/sbin:\/bin \/usr\/sbin\/sshd .*-o ListenAddress=198\.18\.0\.2/);
    });
    test("root's clean home is bound at /root before the tool cache under it; the image's own bin directories stay", () => {
        const binds = hostImageBinds(h.workDir, cleanHome(h.workDir), h.binPath);
        assert.deepEqual(binds, [[cleanHome(h.workDir), "/root"], h.workDir, "/root/.cache/c2m-lab/bin", "/work/main/node_modules"]);
    });
    test("a program run from an image sees the image, the bound paths, writes nothing into the image, and leaves no mount", (t) => {
        // A tiny root filesystem: the machine's sh and the libraries it needs, a marker file, a fake haproxy.
        const dir = tempDir(t);
        const root = join(dir, "root");
        const copy = (file: string) => {
            mkdirSync(join(root, dirname(file)), { recursive: true });
            copyFileSync(file, join(root, file));
        };
        const sh = "/bin/sh";
        copy(sh);
        const libs = spawnSync("ldd", [sh], { encoding: "utf8" }).stdout.match(/\/\S+/g) ?? [];
        for (const lib of libs) copy(lib);
        for (const d of ["proc", "sys", "dev", "tmp", "etc", "usr/sbin", "usr/bin"]) mkdirSync(join(root, d), { recursive: true });
        copyFileSync(sh, join(root, "usr/bin/env-sh"));
        writeFileSync(join(root, "etc/c2m-image"), "fake\n");
        writeFileSync(join(root, "usr/sbin/haproxy"), "#!/bin/sh\necho fake\n");
        chmodSync(join(root, "usr/sbin/haproxy"), 0o755);
        // env is what imageArgv execs in the image: the machine's would need its libraries, so a sh stands in.
        writeFileSync(join(root, "usr/bin/env"), '#!/bin/sh\nshift\nexec "$@"\n');
        chmodSync(join(root, "usr/bin/env"), 0o755);
        const bound = join(dir, "bound");
        mkdirSync(bound);
        writeFileSync(join(bound, "file"), "from the machine\n");
        const argv = imageArgv(
            [sh, "-c", `read x < /etc/c2m-image; echo "$x"; read y < ${bound}/file; echo "$y"; echo changed > /etc/c2m-image; echo out > ${bound}/out`],
            { root, layer: join(dir, "layer"), binds: [bound] },
        );
        const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "fake\nfrom the machine\n");
        assert.equal(readFileSync(join(root, "etc/c2m-image"), "utf8"), "fake\n", "the image itself is unchanged (the host's layer took the write)");
        assert.ok(existsSync(join(bound, "out")), "a bound path is the machine's own");
        assert.doesNotMatch(readFileSync("/proc/self/mountinfo", "utf8"), new RegExp(dir), "no mount is left");
        const unbuilt = imageArgv([sh, "-c", "true"], { root: join(dir, "none"), layer: join(dir, "layer2"), binds: [] });
        const u = spawnSync(unbuilt[0], unbuilt.slice(1), { encoding: "utf8" });
        assert.notEqual(u.status, 0);
        assert.match(u.stderr, /is not built: run lab image build/);
    });
});

test("vegeta's JSON report gives p99 in ms and the success ratio", () => {
    assert.deepEqual(vegetaP99(JSON.stringify({ latencies: { "99th": 12_345_678 }, success: 1, requests: 5000 })), {
        p99Ms: 12.35,
        success: 1,
        requests: 5000,
    });
});

test("on EC2 each image is Debian's AMI of its release, by Debian's public parameter", async () => {
    const { DEBIAN_AMI_PARAMETER_OF } = await import("../../components/platform/aws/image.ts");
    const { IMAGES } = await import("../../components/images.ts");
    for (const image of IMAGES) assert.match(DEBIAN_AMI_PARAMETER_OF[image], /^\/aws\/service\/debian\/release\/(12|13)\/latest\/amd64$/, image);
    assert.equal(DEBIAN_AMI_PARAMETER_OF["debian-13"], "/aws/service/debian/release/13/latest/amd64");
    assert.equal(DEBIAN_AMI_PARAMETER_OF.machine, DEBIAN_AMI_PARAMETER_OF["debian-12"], "the default stays what EC2 runs today");
});

test("a local host prints its SSH host key, so a host made anew (e.g. on another image) has a new connection for every role", async () => {
    const { hostCreateScript, parseHostKey, localNames } = await import("../../components/platform/local/scripts.ts");
    const n = localNames("local");
    const script = hostCreateScript({
        namespace: n.namespace("h"),
        veth: n.veth(0),
        bridge: n.bridge,
        address: "198.18.0.2",
        extraAddresses: [],
        prefix: 24,
        workDir: "/run/c2m/local/h",
    });
    const line = script.split("\n").find((l) => l.includes("hostkey"));
    assert.ok(line, "the create script prints the key");
    assert.ok(script.indexOf(line) > script.indexOf("sshd -f /dev/null"), "after sshd started with that key");
    assert.equal(parseHostKey("hostkey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\n"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB");
    assert.equal(parseHostKey(""), undefined, "a host made before keys were printed has none");
});

test("the ledger names the hosts' image, HAProxy and its TLS library; one image for all hosts is named once", async () => {
    const { imageSummary } = await import("../../scripts/analysis/ledgerRows.ts");
    assert.equal(imageSummary({ "haproxy-0": "debian-13", "client-0": "debian-13" }), "debian-13");
    assert.equal(
        imageSummary({ "haproxy-0": "debian-13", "client-0": "machine", "backend-0": "machine" }),
        "debian-13: haproxy-0; machine: client-0 backend-0",
    );
});

test("an image whose HAProxy the rig builds from source is refused on aws (EC2 runs Debian's AMIs), accepted locally", async () => {
    const { loadConfig } = await import("../../components/loadConfig.ts");
    assert.equal(parseSchema({ image: "debian-12-emu" }).image, "debian-12-emu");
    const aws = (image: unknown) => loadConfig("aws-x", { platform: "aws", aws: { operatorCidr: "203.0.113.7/32" }, image });
    const refused = aws({ haproxy: "debian-13-wolfssl" });
    assert.throws(
        () => refused.platform.check(refused),
        (e: unknown) =>
            e instanceof ConfigError && e.problems.some((p) => /^c2m:image: debian-13-wolfssl is built from source .*machine, debian-12 or debian-13/.test(p)),
    );
    const fine = aws("debian-13");
    assert.doesNotThrow(() => fine.platform.check(fine));
});

test("the planner's TLS term is the image's own; images rank by the LB headroom they leave", async () => {
    const { costsForImage, imagesByHeadroom, IMAGE_TLS_TERMS } = await import("../../components/plan/imageCosts.ts");
    const { PER_CONNECTION_COSTS } = await import("../../components/plan/costs.ts");
    const d13 = costsForImage("debian-13")!;
    assert.equal(d13.haproxyTlsKB, IMAGE_TLS_TERMS["debian-13"]!.haproxyTlsKB);
    assert.equal(costsForImage("debian-13", "TLSv1.3")!.haproxyTlsKB, IMAGE_TLS_TERMS["debian-13"]!.haproxyTls13KB);
    assert.deepEqual({ ...d13, haproxyTlsKB: 0 }, { ...PER_CONNECTION_COSTS, haproxyTlsKB: 0 }, "only the TLS term changes");
    assert.equal(costsForImage("machine")!.haproxyTlsKB, PER_CONNECTION_COSTS.haproxyTlsKB);
    const ranked = imagesByHeadroom(500_000, 1, 28);
    assert.deepEqual(ranked.map((r) => r.image).sort(), Object.keys(IMAGE_TLS_TERMS).sort());
    for (let i = 1; i < ranked.length; i++) assert.ok(ranked[i - 1].headroom.headroom_pct >= ranked[i].headroom.headroom_pct, "most headroom first");
    const kb = (i: string) => IMAGE_TLS_TERMS[i as "debian-13"]!.haproxyTlsKB;
    assert.ok(kb(ranked[0].image) <= kb(ranked.at(-1)!.image), "the leanest TLS state leaves the most headroom");
});

test("lab plan uses the stack's image for the LB's TLS term and ranks the images for the tier", async () => {
    const { planStack, readTierConfig, formatImageHeadroom } = await import("../../scripts/lib/tierPlan.ts");
    const { imagesByHeadroom, IMAGE_TLS_TERMS } = await import("../../components/plan/imageCosts.ts");
    const config = readTierConfig("aws-16c30g");
    const base = planStack("aws-16c30g", { ...config, image: "machine" }, { tlsShare: 1 });
    const d13 = planStack("aws-16c30g", { ...config, image: "debian-13" }, { tlsShare: 1 });
    assert.equal(
        Math.round((d13.lb_headroom.per_conn_kb - base.lb_headroom.per_conn_kb) * 10) / 10,
        Math.round((IMAGE_TLS_TERMS["debian-13"]!.haproxyTlsKB - IMAGE_TLS_TERMS.machine!.haproxyTlsKB) * 10) / 10,
        "the image's TLS term, nothing else",
    );
    assert.ok(d13.lb_headroom.conns_that_fit < base.lb_headroom.conns_that_fit);
    const ranked = imagesByHeadroom(base.lb_headroom.target, 1, base.lb_usable_gb);
    const text = formatImageHeadroom("debian-13", ranked);
    assert.match(text, /this stack: debian-13/);
    assert.match(text, new RegExp(`most headroom: ${ranked[0].image}$`));
});
