// listStacks reads the file backend again when its listing met another pulumi's write (three labs'
// pulumis share it in CI): the messages pulumi gave then are matched, and nothing else is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LISTING_RACE } from "../../scripts/lib/pulumiStack.ts";

test("a listing that met another pulumi's write is read again; any other failure is not", () => {
    for (const seen of [
        // A checkpoint written as .tmp and renamed between the listing and its lstat (CI, 8 December 2026).
        "error: list bucket: blob (code=NotFound): lstat /root/.cache/c2m-lab/state/.pulumi/stacks/c2m/rel.json.18ef2dfd44c10c1e.tmp: no such file or directory",
        // Attributes rewritten in place, read half-written.
        "error: could not list stacks: unexpected EOF",
    ])
        assert.match(seen, LISTING_RACE);
    for (const other of [
        "error: no stack named 'x' found",
        "error: list bucket: blob (code=NotFound): lstat /root/.cache/c2m-lab/state/.pulumi/stacks: no such file or directory",
        "error: failed to decrypt: incorrect passphrase",
    ])
        assert.doesNotMatch(other, LISTING_RACE);
});
