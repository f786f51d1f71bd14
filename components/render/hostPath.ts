// The PATH every command of the rig runs with on a host, set explicitly: the host's tool
// directories, then a fresh root's PATH. Never inherited from a login shell's start-up files
// (a fresh EC2 root has none; an operator's ~/.bashrc may run pyenv, nvm, …). Pure.
import { quote } from "zx/core";

/** A fresh root's PATH (sshd's default on Debian and on EC2). */
export const HOST_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The line a command starts with on a host (read by root's shell there, bash: zx's quoting). */
export function remotePathPrefix(binPath?: string): string {
    return `export PATH=${quote(binPath ? `${binPath}:${HOST_BASE_PATH}` : HOST_BASE_PATH)}; `;
}
