// Each EC2 host ends itself at the lab's expiry, whatever happens to Pulumi, the operator's
// machine or the EventBridge schedule: a systemd timer at the expiry powers the instance off,
// and instances are launched with instanceInitiatedShutdownBehavior "terminate", so powering
// off terminates it. cloud-init installs the timer at first boot; every `lab up` renews it over
// SSH (expiryRenewScript) with the new expiry, since user data is not re-applied to a running
// instance. Pure: returns text.

/** The systemd units (c2m-expiry.timer starts c2m-expiry.service). */
export const EXPIRY_UNIT = "c2m-expiry";
const UNIT_DIR = "/etc/systemd/system";

/** systemd calendar time of a UTC instant "2026-11-26T03:00:00Z" → "2026-11-26 03:00:00 UTC". */
export function onCalendar(expiresAt: string): string {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})Z$/.exec(expiresAt);
    if (!m) throw new Error(`expiry "${expiresAt}" is not a UTC instant like 2026-11-26T03:00:00Z`);
    return `${m[1]} ${m[2]} UTC`;
}

export interface UnitFile {
    path: string;
    content: string;
}

/** The timer and the service it starts, for a lab of `stack` expiring at `expiresAt`. */
export function expiryUnits(stack: string, expiresAt: string): UnitFile[] {
    const what = `c2m lab ${stack} expires at ${expiresAt}`;
    return [
        {
            path: `${UNIT_DIR}/${EXPIRY_UNIT}.service`,
            content: [
                "[Unit]",
                `Description=${what}: power off (instanceInitiatedShutdownBehavior terminate ends the instance)`,
                "",
                "[Service]",
                "Type=oneshot",
                "ExecStart=/usr/bin/systemctl --no-block poweroff",
                "",
            ].join("\n"),
        },
        {
            path: `${UNIT_DIR}/${EXPIRY_UNIT}.timer`,
            content: [
                "[Unit]",
                `Description=${what}`,
                "",
                "[Timer]",
                `OnCalendar=${onCalendar(expiresAt)}`,
                "AccuracySec=1s",
                // Also fires at the next boot when the instance was down at the expiry.
                "Persistent=true",
                "",
                "[Install]",
                "WantedBy=timers.target",
                "",
            ].join("\n"),
        },
    ];
}

/** Run once the unit files are written (cloud-init's first command): the timer runs from now on and after each boot. */
export const EXPIRY_ENABLE = `systemctl daemon-reload && systemctl enable --now ${EXPIRY_UNIT}.timer`;

/**
 * Over SSH at each `lab up`: rewrites the units with this up's expiry, restarts the timer, fails
 * unless it is active and due at that time, and prints when it fires.
 */
export function expiryRenewScript(stack: string, expiresAt: string): string {
    const due = onCalendar(expiresAt);
    return [
        "set -eu",
        ...expiryUnits(stack, expiresAt).map((f) => `echo '${Buffer.from(f.content).toString("base64")}' | base64 -d > ${f.path}`),
        "systemctl daemon-reload",
        `systemctl enable ${EXPIRY_UNIT}.timer`,
        `systemctl restart ${EXPIRY_UNIT}.timer`,
        `systemctl is-active --quiet ${EXPIRY_UNIT}.timer || { echo "${EXPIRY_UNIT}.timer is not active" >&2; exit 1; }`,
        `grep -qx 'OnCalendar=${due}' ${UNIT_DIR}/${EXPIRY_UNIT}.timer`,
        `echo "${EXPIRY_UNIT}.timer: this host powers off (and terminates) at ${due}"`,
    ].join("\n");
}
