// `lab image`: host images (components/images.ts) in the tool cache.
//   lab image build debian-13 [debian-12 …]   build each image unless built (debootstrap + apt; source builds: see components/images.ts)
//   lab image list                              what is built: HAProxy, TLS library, size, build time
import type { Command } from "commander";

export function addImageCommand(lab: Command): void {
    lab.command("image")
        .description("host images (c2m:image): build Debian root filesystems into the tool cache, or list them")
        .argument("<verb>", "build or list")
        .argument("[names...]", "images to build (debian-12, debian-13, debian-12-emu, debian-13-wolfssl)")
        .addHelpText("after", "\nExamples:\n  lab image build debian-13\n  lab image list")
        .action(async (verb: string, names: string[]) => {
            process.exitCode = await image(verb, names);
        });
}

async function image(verb: string, names: string[]): Promise<number> {
    const { IMAGES } = await import("../../components/images.ts");
    const { checkImageName, ensureImage, imagesRoot, readImageRecord, TYPICAL_IMAGE_BUILD } = await import("../toolchain/images.ts");
    const { LiveStep } = await import("../toolchain/progress.ts");
    if (verb === "build" && names.length > 0) {
        for (const n of names) checkImageName(n); // every name checked before anything is built
        for (const n of names) await ensureImage(n, new LiveStep(`image ${n}`, TYPICAL_IMAGE_BUILD));
        return 0;
    }
    if (verb === "list") {
        for (const n of IMAGES.filter((i) => i !== "machine")) {
            const r = readImageRecord(n);
            console.log(
                r
                    ? `${n.padEnd(18)} HAProxy ${r.haproxy}, ${r.tlsLibrary}; ${(r.sizeBytes / 2 ** 20).toFixed(0)} MiB, built in ${r.buildSeconds} s at ${r.builtAt}`
                    : `${n.padEnd(18)} not built (lab image build ${n})`,
            );
        }
        console.log(`(in ${imagesRoot()})`);
        return 0;
    }
    console.error(`Usage: lab image build <name>… | lab image list
Images: ${IMAGES.filter((i) => i !== "machine").join(", ")} (machine = this machine's own packages, nothing to build)
Examples:
  lab image build debian-13
  lab image list`);
    return 2;
}
