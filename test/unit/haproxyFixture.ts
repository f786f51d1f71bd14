// Fixed input of the haproxy.cfg golden file. Every value differs from the config defaults and
// from the others, so a value rendered in the wrong place shows up in the diff.
import type { HaproxyRenderInput } from "../../components/render/haproxyConfig.ts";
import type { LabConfig } from "../../components/config.ts";

export const GOLDEN_HAPROXY: LabConfig["haproxy"] = {
    maxconn: 24690,
    processes: 2,
    plainPort: 8080,
    tlsPort: 8443,
    statsPort: 9404,
    threads: 3,
    tls: { enabled: true, curve: "P-256", maxVersion: "TLSv1.2" },
    timeouts: { connectMs: 4_000, clientMs: 3_600_000, serverMs: 3_500_000, queueMs: 30_000 },
};

export const GOLDEN_INPUT: HaproxyRenderInput = {
    haproxy: GOLDEN_HAPROXY,
    // 24690 connections over 2 processes
    maxconnPerProcess: 12345,
    // 3 threads on CPUs 5-7 (a host's top CPUs; the others left to the kernel)
    cpu: { cpus: [5, 6, 7], threadsPerProcess: 3 },
    servers: [
        { name: "backend-0-8282", address: "198.18.0.3", port: 8282 },
        { name: "backend-0-8283", address: "198.18.0.3", port: 8283 },
        { name: "backend-1-8282", address: "198.18.0.4", port: 8282 },
    ],
    bindAddress: "198.18.0.2",
    certPath: "/run/c2m/local/haproxy-0/haproxy/lab.pem",
};
