// A periodic task that never overlaps itself: the next run starts `intervalMs` after the last one
// ended. A timer that fires every N s whatever happened queues reads behind slow ones: `lab attack`'s
// progress read 35 statistics pages over SSH every 5 s through 6 SSH slots; on a loaded machine
// each read took longer than 5 s, the queue grew for the whole attack, and the attack's own
// final reads waited behind it for many minutes after vegeta had ended.

export interface Repeating {
    /** No run starts after this; resolves once the run under way (if any) has ended. */
    stop(): Promise<void>;
}

export function repeatWithoutOverlap(intervalMs: number, task: () => Promise<void>): Repeating {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let current: Promise<void> = Promise.resolve();
    const next = () => {
        timer = setTimeout(() => {
            if (stopped) return;
            current = task()
                .catch(() => undefined)
                .finally(() => {
                    if (!stopped) next();
                });
        }, intervalMs);
    };
    next();
    return {
        stop() {
            stopped = true;
            if (timer) clearTimeout(timer);
            return current;
        },
    };
}
