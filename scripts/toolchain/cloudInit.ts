// `cloud-init schema` for checking the EC2 hosts' user data, without installing cloud-init.
//
// Debian's cloud-init package is not a library: its postinst enables cloud-init-local,
// cloud-init, cloud-config and cloud-final (systemd units and sysv rc links) and the hotplug
// socket, so the machine would run cloud-init at its next boot (datasource detection, per-instance
// modules: SSH host keys, users, network configuration). The rig only needs the schema checker,
// so `lab bootstrap` installs the Python libraries cloud-init imports (plain library packages, no
// services), downloads the package with `apt-get download` and unpacks it with `dpkg-deb -x` into
// the cache; nothing under /etc, /lib/systemd or /var changes. The cache's `cloud-init` runs the
// unpacked copy with the system Python, isolated from the operator's Python environment.
import { join } from "node:path";
import { PINS } from "../../components/pins.ts";
import { paths } from "./toolchain.ts";

/** The Python libraries cloud-init imports (its package's Depends on python3-*). */
export const CLOUD_INIT_PYTHON_PACKAGES = [
    "python3-configobj",
    "python3-jinja2",
    "python3-jsonpatch",
    "python3-jsonschema",
    "python3-netifaces",
    "python3-oauthlib",
    "python3-requests",
    "python3-serial",
    "python3-yaml",
];

/** Where the unpacked package lives (one directory per Debian version). */
export function cloudInitRoot(debVersion: string): string {
    return join(paths().cache, `cloud-init-${debVersion}`);
}

/** The cache's `cloud-init`: the unpacked package's entry point under the system Python, isolated (-I). */
export function cloudInitWrapper(root: string): string {
    const dist = join(root, "usr", "lib", "python3", "dist-packages");
    return `#!/bin/sh
# cloud-init (>= ${PINS.cloudInit}) unpacked from its Debian package into ${root} by \`lab bootstrap\`;
# not installed, so no cloud-init service exists on this machine. For \`cloud-init schema\` and \`--version\`.
exec /usr/bin/python3 -I -c 'import sys; sys.path.insert(0, sys.argv[1]); sys.argv = ["cloud-init"] + sys.argv[2:]
from cloudinit.cmd.main import main
sys.exit(main())' ${JSON.stringify(dist)} "$@"
`;
}
