"""The seed's algorithms in NumPy, timed for bench/targets.lua (run by `make bench`).

Uses tests/gen/seedmask.py, the NumPy port of ejkernel's MaskInfo that generates the
conformance fixtures, so the anchor is the seed's own algorithm.  Prints one line per job:
"<job> <median ms>", each the median of REPS calls whose results are dropped before the next.
"""
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gen"))
import seedmask  # noqa: E402  (path set above)

REPS = int(os.environ.get("REPS", "5"))


def median_ms(fn):
    times = []
    for _ in range(REPS):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
        del out
    times.sort()
    return times[len(times) // 2]


def main():
    n = 8192
    ids = np.zeros((1, n), np.int32)
    # bool mask: from_segments + apply_causal + attention_mask (the seed builds it dense)
    print("bool", median_ms(lambda: seedmask.MaskInfo.from_segments(ids).apply_causal().attention_mask))
    m = seedmask.MaskInfo.from_segments(ids).apply_causal()
    m.attention_mask  # computed once: the biases below start from the stored mask
    for dt in ("float32", "bfloat16", "float16"):
        print(dt, median_ms(lambda: m.create_bias(dt)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
