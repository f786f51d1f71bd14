// Headless Chromium for checking reports the way an operator sees them: installed from the
// Debian package when missing (like the bootstrap's apt step), run offline with a fresh
// profile, and asked for the DOM after load (`--dump-dom`).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

function findChromium(): string | undefined {
    return CANDIDATES.find((p) => existsSync(p));
}

/** The Chromium binary, installing the Debian package `chromium` first if there is none. */
export function ensureChromium(log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
    const found = findChromium();
    if (found) return found;
    log("chromium: not installed; apt-get install chromium (one time)…");
    // policy-rc.d: packages must not start system services (as in scripts/toolchain/installTools.ts).
    const policy = "/usr/sbin/policy-rc.d";
    const hadPolicy = existsSync(policy);
    if (!hadPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    try {
        const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
        for (const args of [
            ["update", "-q"],
            ["install", "-y", "-q", "--no-install-recommends", "chromium"],
        ]) {
            const r = spawnSync("apt-get", args, { env, encoding: "utf8", timeout: 900_000 });
            if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (${r.status}): ${(r.stderr || r.stdout).trim().slice(-400)}`);
        }
    } finally {
        if (!hadPolicy) rmSync(policy, { force: true });
    }
    const installed = findChromium();
    if (!installed) throw new Error("chromium was installed but no binary was found");
    return installed;
}

const HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
];

/** Loads a local HTML file and returns the DOM after its scripts ran. */
export async function dumpDom(htmlFile: string, options: { chromium?: string; timeoutMs?: number } = {}): Promise<string> {
    const binary = options.chromium ?? ensureChromium();
    const profile = mkdtempSync(join(tmpdir(), "c2m-chromium-"));
    try {
        return await new Promise<string>((resolve, reject) => {
            const child = spawn(
                binary,
                [...HEADLESS_FLAGS, `--user-data-dir=${profile}`, "--virtual-time-budget=5000", "--dump-dom", pathToFileURL(htmlFile).href],
                { stdio: ["ignore", "pipe", "pipe"] },
            );
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => {
                stdout += d;
            });
            child.stderr.on("data", (d) => {
                stderr += d;
            });
            const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
            child.on("error", reject);
            child.on("close", (code) => {
                clearTimeout(timer);
                if (code === 0 && stdout.trim()) resolve(stdout);
                else reject(new Error(`chromium exited ${code}: ${stderr.trim().slice(-600)}`));
            });
        });
    } finally {
        rmSync(profile, { recursive: true, force: true });
    }
}
