// What each host ran, read on the host: the script runs for real here (the local hosts run this
// machine's packages) and reads the packages cloud-init installs on EC2.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { formatHostVersions, HOST_VERSIONS_SCRIPT, parseHostVersions, VERSIONED_PACKAGES } from "../../scripts/lib/hostVersions.ts";
import { COMMON_PACKAGES, ROLE_PACKAGES } from "../../components/platform/aws/cloudInit.ts";
import { RunRecordSchema } from "../../components/records/runRecord.ts";

describe("host versions (lab doctor, run.json versions.hosts)", () => {
    test("it reads the role software cloud-init installs on EC2 (HAProxy, OpenSSL, OpenSSH, Prometheus, node_exporter) and cloud-init itself", () => {
        const installed = new Set([...COMMON_PACKAGES, ...Object.values(ROLE_PACKAGES).flat()]);
        for (const p of ["haproxy", "openssl", "openssh-server", "prometheus", "prometheus-node-exporter"]) {
            assert.ok(VERSIONED_PACKAGES.includes(p) && installed.has(p), p);
        }
        assert.ok(VERSIONED_PACKAGES.includes("cloud-init"));
    });
    test("parses name: version lines, ignoring the rest", () => {
        assert.deepEqual(
            parseHostVersions("debian: 12.11\nkernel: 6.1.0-27-cloud-amd64\nhaproxy: 2.6.12-1+deb12u1\nnoise\nopenssh-server: 1:9.2p1-2+deb12u3\n"),
            { debian: "12.11", kernel: "6.1.0-27-cloud-amd64", haproxy: "2.6.12-1+deb12u1", "openssh-server": "1:9.2p1-2+deb12u3" },
        );
        assert.equal(formatHostVersions({ "lb-0": { debian: "12.11", haproxy: "2.6.12" } }), "lb-0  debian 12.11, haproxy 2.6.12");
    });
    test("the script runs under sh on this machine and names its Debian release and kernel", () => {
        const v = parseHostVersions(execFileSync("sh", ["-c", HOST_VERSIONS_SCRIPT], { encoding: "utf8" }));
        assert.match(v.kernel ?? "", /\S/);
        assert.ok(v.debian, "no debian line");
        if (v.haproxy) assert.match(v.haproxy, /^\d+\.\d+/);
    });
    test("run.json carries them per host, and older runs without them still read", () => {
        const versions = RunRecordSchema.shape.versions;
        assert.ok(versions.safeParse({ pulumi: "3", node: "22", vegeta: "12", haproxy: "2.6", hosts: { "haproxy-0": { debian: "12.11" } } }).success);
        assert.ok(versions.safeParse({ pulumi: "3", node: "22", vegeta: "12", haproxy: "2.6" }).success);
        assert.ok(!versions.safeParse({ pulumi: "3", node: "22", vegeta: "12", haproxy: "2.6", hosts: { h: { debian: 12 } } }).success);
    });
});
