// The image EC2 hosts run: Debian 12 (bookworm), the release the local lab's hosts run (DESIGN:
// Debian 12's HAProxy 2.6, OpenSSL 3.0, OpenSSH 9.2, cloud-init 22.4), so every figure measured
// locally is of the software EC2 runs. Pure.
//
// Debian's cloud team publishes its official AMIs from one AWS account, and the current image of
// each release as a public Systems Manager parameter (wiki.debian.org/Cloud/AmazonEC2Image/Bookworm;
// AWS documents reading public parameters in the EC2 User Guide, "Reference AMIs using Systems
// Manager parameters"). Which AMI a parameter names, and that its owner is this account, is
// listed in docs/aws.md under "unverified without an account" with the command that checks it.

import { IMAGE_SPECS, type ImageName } from "../../images.ts";

/** Debian's release on both sides (its major version, as /etc/debian_version starts). */
export const DEBIAN_RELEASE = "12";
export const DEBIAN_CODENAME = "bookworm";
/** Account that publishes Debian's official AMIs (wiki.debian.org/Cloud/AmazonEC2Image/Bookworm). */
export const DEBIAN_AMI_OWNER = "136693071363";
/** Debian's public SSM parameter naming the current Debian 12 amd64 AMI of the region. */
export const DEBIAN_AMI_PARAMETER = `/aws/service/debian/release/${DEBIAN_RELEASE}/latest/amd64`;
/** Names of Debian 12 amd64 AMIs: debian-12-amd64-<date>-<build>. */
export const DEBIAN_AMI_NAME = new RegExp(`^debian-${DEBIAN_RELEASE}-amd64-\\d{8}-\\d+$`);

const AMI_ID = /^ami-[0-9a-f]{8,17}$/;

/** The AMI pin's command: prints the id it is given (once; the pin never runs again). */
export function amiPinScript(ami: string): string {
    if (!AMI_ID.test(String(ami))) {
        throw new Error(
            `${DEBIAN_AMI_PARAMETER} answered "${ami}", not an AMI id: set c2m:aws.ami to a Debian ${DEBIAN_RELEASE} AMI of the region (lab preflight prints one)`,
        );
    }
    return `printf '%s\\n' ${ami}`;
}

/**
 * c2m:image → Debian's public SSM parameter naming the image's current amd64 AMI. `machine` and
 * `debian-12` are the Debian 12 AMI above. `debian-13` (trixie) is the same parameter with its
 * release number: Debian's cloud team lists each release's parameter on its release page
 * (wiki.debian.org/Cloud/AmazonEC2Image/Trixie for 13, as Bookworm's page for 12); not reachable
 * from here, corroborated by public configurations that read `/aws/service/debian/release/13/latest/amd64`.
 * Unverified without an account, as Debian 12's (docs/aws.md): `aws ssm get-parameter --name <it>`.
 */
export const DEBIAN_AMI_PARAMETER_OF: Record<ImageName, string> = {
    machine: DEBIAN_AMI_PARAMETER,
    "debian-12": DEBIAN_AMI_PARAMETER,
    "debian-13": "/aws/service/debian/release/13/latest/amd64",
    // Built from source into the local tool cache: the config refuses them on aws; their base release's AMI here.
    "debian-12-emu": DEBIAN_AMI_PARAMETER,
    "debian-13-wolfssl": "/aws/service/debian/release/13/latest/amd64",
};

/** Debian release of a c2m:image on EC2 (`machine` = the Debian 12 AMI). */
export function debianReleaseOf(image: ImageName): number {
    return image === "machine" ? Number(DEBIAN_RELEASE) : IMAGE_SPECS[image].release;
}

/** Names of that release's amd64 AMIs: debian-<release>-amd64-<date>-<build>. */
export function debianAmiNameOf(image: ImageName): RegExp {
    return new RegExp(`^debian-${debianReleaseOf(image)}-amd64-\\d{8}-\\d+$`);
}
