"""The ranges of the numbers that tune a run, shared by the experiment file's ``[run]`` table and the flags of
``ftplug run`` (imports nothing: the command line reads it at start-up)."""

from __future__ import annotations

CONCURRENCY = (1, 1024)  # requests in flight at once (each a coroutine and a pooled connection)
MAX_ATTEMPTS = (1, 100)  # attempts per request, the first included
RPM = (0.01, 10_000_000)  # requests per minute: one every 100 minutes, to more than any API tier allows
TPM = (1, 10_000_000_000)  # tokens per minute
BACKOFF = (0, 3600)  # seconds before the first retry
VOLUME = (0, 10**15)  # predictions a break-even is computed for
MAX_COST = (0, 10**9)  # USD a run may spend on answers or training
SEED = (-(2**63), 2**63 - 1)  # the API's seed: a 64-bit integer, as TOML's are
TRAIN_ROWS = 10**12  # a variant's train_size as a count of rows
