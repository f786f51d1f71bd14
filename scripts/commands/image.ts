// `lab image`: host images (components/images.ts) in the tool cache.
//   lab image build debian-13 [debian-12 …]   build each image unless built (debootstrap + apt; source builds: see components/images.ts)
//   lab image list                              what is built: HAProxy, TLS library, size, build time
import { IMAGES } from "../../components/images.ts";
import { checkImageName, ensureImage, imagesRoot, readImageRecord } from "../toolchain/images.ts";
import { LiveStep } from "../toolchain/progress.ts";
import { TYPICAL_IMAGE_BUILD } from "../toolchain/images.ts";

const USAGE = `Usage: lab image build <name>… | lab image list
Images: ${IMAGES.filter((i) => i !== "machine").join(", ")} (machine = this machine's own packages, nothing to build)
Examples:
  lab image build debian-13
  lab image list`;

export async function imageCommand(args: string[]): Promise<number> {
    const [verb, ...names] = args;
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
    console.error(USAGE);
    return 2;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
    imageCommand(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err: Error) => {
            console.error(`lab image: ${err.message}`);
            process.exit(1);
        },
    );
}
