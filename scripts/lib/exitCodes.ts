// Exit codes of the lab CLI that callers (CI, scripts) may tell apart.

/** `lab attack`: the run is recorded, but a vegeta process failed or its results were lost. */
export const PARTIAL_EXIT_CODE = 3;
