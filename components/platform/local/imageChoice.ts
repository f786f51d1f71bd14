// Which image root each role's local hosts run (c2m:image), and what is wrong with the choice on
// this machine (an image not built), each problem naming the config key and the command that fixes it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LabConfig } from "../../config.ts";
import { IMAGE_ROLES, imageOf, type ImageRole } from "../../images.ts";
import { imageRoot, imagesDir } from "./image.ts";

/** The image root of each role that runs an image (machine: none). */
export function imageRootsOf(config: Pick<LabConfig, "image">, dir = imagesDir()): Partial<Record<ImageRole, string>> {
    return Object.fromEntries(
        IMAGE_ROLES.map((r) => [r, imageOf(config.image, r)] as const)
            .filter(([, name]) => name !== "machine")
            .map(([r, name]) => [r, imageRoot(dir, name)]),
    );
}

/** Problems of the stack's image choice on this machine: each image it names must be built. */
export function imageProblems(config: Pick<LabConfig, "image">, dir = imagesDir()): string[] {
    const missing = new Map<string, ImageRole[]>();
    for (const r of IMAGE_ROLES) {
        const name = imageOf(config.image, r);
        if (name !== "machine" && !existsSync(join(imageRoot(dir, name), "usr/sbin/haproxy"))) missing.set(name, [...(missing.get(name) ?? []), r]);
    }
    return [...missing].map(
        ([name, roles]) => `c2m:image: image ${name} (for ${roles.join(", ")}) is not built in ${join(dir, name)}: run \`lab image build ${name}\``,
    );
}
