// Plain data shared by platforms and roles. A platform turns config into Host[];
// roles only ever see Host[] and reach them over SSH, whatever the platform.
import type * as pulumi from "@pulumi/pulumi";

export type Role = "haproxy" | "backend" | "client" | "metrics";

export interface SshAccess {
    host: pulumi.Input<string>;
    port: number;
    user: string;
    privateKey: pulumi.Input<string>;
    /** The host's SSH host key (OpenSSH public key line) when the platform made it; SSH then checks it. */
    hostKey?: pulumi.Input<string>;
}

export interface Host {
    /** Unique within the stack, e.g. "backend-1". */
    name: string;
    role: Role;
    /** The address lab traffic uses (inside 198.18.0.0/15 locally). */
    address: string;
    /** Extra source addresses a client binds its load generators to (-laddr). */
    sourceAddresses: string[];
    ssh: SshAccess;
    /** Directory the host keeps its files in (the filesystem is shared locally). */
    workDir: string;
    /** Prepended to PATH for every remote command (where node, vegeta, haproxy live). */
    binPath: string;
    /** Resources that must exist before the host can be reached (e.g. its sshd). */
    ready: pulumi.Input<pulumi.Resource>[];
    /**
     * The resource that is the host (local: its namespace; EC2: its instance): deleting it ends
     * everything on the host, so the host's remote commands go with it (`deletedWith`) and a destroy
     * never runs their delete steps on a host that is going, or already gone (ended at its expiry).
     */
    resource: pulumi.Resource;
}
