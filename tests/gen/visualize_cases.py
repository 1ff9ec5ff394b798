"""The visualize fixtures: 35 scenarios rendered by the port of the seed's
visualize(return_str=True) (seedmask.MaskInfo.visualize), character for character."""
from __future__ import annotations

import numpy as np

import luaout
import seedmask as S

SEED = 1009


def causal(q, k=None, offset=0):
    k = q if k is None else k
    return np.arange(k)[None, :] <= np.arange(q)[:, None] + offset


def window(q, k, left, right):
    d = np.arange(k)[None, :] - np.arange(q)[:, None]
    return (d >= -left) & (d <= right)


def docs(ids):
    ids = np.asarray(ids)
    return (ids[:, None] == ids[None, :]) & (ids[:, None] >= 0) & causal(len(ids))


def chunked(n, c):
    i = np.arange(n)
    return ((i[:, None] // c) == (i[None, :] // c)) & causal(n)


def four(m):
    m = np.asarray(m, dtype=bool)
    return m[None, None] if m.ndim == 2 else m


def scenarios():
    rng = np.random.default_rng(SEED)

    def rand(shape, p):
        return rng.random(shape) < p

    d12 = [1, 1, 1, 2, 2, 2, 2, 3, 3, -1, -1, -1]
    d14 = [100, 100, 100, 100, 101, 101, 205, 205, 205, 205, 205, -1, -1, -1]
    b2 = [[0, 0, 0, 0, 1, 1, 1, 1, 1, 1], [5, 5, 5, 7, 7, 7, 7, 7, -1, -1]]
    d36 = [3] * 5 + [4] * 9 + [5] * 3 + [6] * 12 + [-1] * 7
    mid = [7, 7, -1, -1, 3, 3, 3, 99, 99]
    wide = [1234567] * 4 + [42] * 4
    h3 = [[1] * 6 + [2] * 6, [9] * 10 + [-1] * 2]
    padded = causal(12)
    padded[9:, :] = False
    padded[:, 9:] = False
    prefix = causal(14)
    prefix[:, :5] = True
    near_full = np.ones((64, 64), bool)
    near_full[37, 11] = False
    near_empty = np.zeros((64, 64), bool)
    near_empty[20, 50] = True
    one = np.ones((1, 1), bool)
    return [
        ("01_causal8_b2_unicode", "causal 8x8, block 2, unicode, derived padding ids", four(causal(8)), None,
         {"block_size": 2, "fit_in_screen": False}),
        ("02_causal8_b2_ascii_noseg", "causal 8x8, block 2, ascii, no segments", four(causal(8)), None,
         {"block_size": 2, "charset": "ascii", "show_segments": False}),
        ("03_docs12_pad_b3", "three documents + padding, block 3, explicit ids", four(docs(d12)), ([d12], [d12]),
         {"block_size": 3}),
        ("04_docs14_ids_ge_100", "documents with ids >= 100 (two_char uses % 100), block 2", four(docs(d14)),
         ([d14], [d14]), {"block_size": 2, "charset": "ascii"}),
        ("05_window16_b4", "sliding window left=3 right=0 on 16x16, block 4", four(window(16, 16, 3, 0)), None,
         {"block_size": 4}),
        ("06_window16_b1_noseg", "sliding window left=2 right=2 on 16x16, block 1, no segments",
         four(window(16, 16, 2, 2)), None, {"block_size": 1, "fit_in_screen": False, "show_segments": False}),
        ("07_random20_b3", "random dense 20x20 p=0.5, block 3 (tail blocks)", four(rand((20, 20), 0.5)), None,
         {"block_size": 3, "fit_in_screen": False}),
        ("08_random20_b3_ascii", "random dense 20x20 p=0.3, block 3, ascii", four(rand((20, 20), 0.3)), None,
         {"block_size": 3, "charset": "ascii"}),
        ("09_rect10x24_b2x5", "rectangular causal Q=10 K=24 offset 14, block {2, 5}", four(causal(10, 24, 14)),
         None, {"block_size": [2, 5]}),
        ("10_rect24x10_b5x2_noseg", "rectangular random Q=24 K=10, block {5, 2}, no segments",
         four(rand((24, 10), 0.5)), None, {"block_size": [5, 2], "show_segments": False}),
        ("11_multihead_head1", "3 heads of windows, head=1 shown",
         np.stack([window(12, 12, w, 0) for w in (1, 3, 6)])[None], None, {"block_size": 2, "head": 1}),
        ("12_batch2_batch1_docs", "batch of 2 document masks, batch=1 shown",
         np.stack([docs(r) for r in b2])[:, None], (b2, b2), {"block_size": 2, "batch": 1}),
        ("13_causal32_fit_3x4", "causal 32x32, block 2, fit_in_screen max_rows=3 max_cols=4", four(causal(32)),
         None, {"block_size": 2, "fit_in_screen": True, "max_rows": 3, "max_cols": 4}),
        ("14_random48x40_fit", "random 48x40 p=0.4, block {3, 4}, fit max_rows=5 max_cols=3",
         four(rand((48, 40), 0.4)), None, {"block_size": [3, 4], "max_rows": 5, "max_cols": 3}),
        ("15_window40_fit_rows_only", "window 40x40, block 2, downsample rows only (max_rows=6)",
         four(window(40, 40, 4, 1)), None, {"block_size": 2, "max_rows": 6, "max_cols": 64, "charset": "ascii"}),
        ("16_window40_fit_cols_only", "window 40x40, block 2, downsample cols only (max_cols=7)",
         four(window(40, 40, 2, 5)), None, {"block_size": 2, "max_rows": 32, "max_cols": 7}),
        ("17_docs36_fit_mix_labels", "documents 36x36, block 2, downsampled labels (MIX/PAD), fit 4x5",
         four(docs(d36)), ([d36], [d36]), {"block_size": 2, "max_rows": 4, "max_cols": 5}),
        ("18_random40_nofit_b1", "random 40x40 p=0.5, block 1, fit_in_screen false shows all",
         four(rand((40, 40), 0.5)), None, {"block_size": 1, "fit_in_screen": False, "max_rows": 4, "max_cols": 4}),
        ("19_block_gt_len", "block 16 on a 10x12 causal mask (one tail block, MIX labels)", four(causal(10, 12)),
         ([[0] * 5 + [1] * 5], [[0] * 12]), {"block_size": 16}),
        ("20_pad_in_middle_b1", "padding between documents, block 1, derived blocks PAD/07/03/99",
         four(docs(mid) | causal(9, 9, -5)), ([mid], [mid]), {"block_size": 1, "fit_in_screen": False}),
        ("21_chunked24_b4", "chunked causal, chunk 6, on 24x24, block 4", four(chunked(24, 6)), None,
         {"block_size": 4}),
        ("22_all_empty", "all-masked 8x8: derived ids are all PAD", four(np.zeros((8, 8), bool)), None,
         {"block_size": 2}),
        ("23_all_full_tail", "all-allowed 10x10 with block 4: tail blocks are partial",
         four(np.ones((10, 10), bool)), None, {"block_size": 4, "charset": "ascii"}),
        ("24_padded_rows", "causal with 3 padded query rows and keys (derived ids)", four(padded), None,
         {"block_size": 2}),
        ("25_block_1x4", "random 16x32 p=0.2, block {1, 4}", four(rand((16, 32), 0.2)), None,
         {"block_size": [1, 4]}),
        ("26_defaults_causal64", "causal 64x64 with default options", four(causal(64)), None, {}),
        ("27_tiny_1x1", "a single allowed cell, block 4", four(one), None, {"block_size": 4}),
        ("28_long_left_label", "id 1234567 is wider than the 6-char left label", four(docs(wide)),
         ([wide], [wide]), {"block_size": 4}),
        ("29_prefix_lm_b3_noseg", "prefix-LM (prefix 5) 14x14, block 3, unicode, no segments", four(prefix), None,
         {"block_size": 3, "show_segments": False}),
        ("30_sparse_fit_ascii", "random sparse 64x64 p=0.03, block 2, ascii, fit 7x9", four(rand((64, 64), 0.03)),
         None, {"block_size": 2, "max_rows": 7, "max_cols": 9, "charset": "ascii"}),
        ("31_multihead_batch1_head2", "B=2 H=3 random heads, batch=1 head=2, explicit ids",
         rand((2, 3, 12, 12), 0.5), (h3, h3), {"block_size": [2, 3], "batch": 1, "head": 2}),
        ("32_window50_fit_tails", "window 50x46, block {3, 4}, fit 4x3 with row/col padding",
         four(window(50, 46, 5, 2)), None, {"block_size": [3, 4], "max_rows": 4, "max_cols": 3}),
        ("33_rect_b5x3_unicode_noseg", "random Q=17 K=13 p=0.5, block {5, 3}, no segments",
         four(rand((17, 13), 0.5)), None, {"block_size": [5, 3], "fit_in_screen": False, "show_segments": False}),
        ("34_near_full_fit", "one masked cell in 64x64, block 8, fit 2x2 (mean just below 1)", four(near_full),
         None, {"block_size": 8, "max_rows": 2, "max_cols": 2}),
        ("35_near_empty_fit", "one allowed cell in 64x64, block 8, fit 2x2 (mean just above 0)",
         four(near_empty), None, {"block_size": 8, "max_rows": 2, "max_cols": 2, "charset": "ascii"}),
    ]


SCENARIOS = [s[0] for s in scenarios()]


def render(mask, ids, opts):
    mi = S.MaskInfo.from_attention_mask(mask)
    if ids is not None:
        mi = mi.replace(q_segment_ids=np.asarray(ids[0], np.int32), kv_segment_ids=np.asarray(ids[1], np.int32))
    kw = dict(opts)
    if isinstance(kw.get("block_size"), list):
        kw["block_size"] = tuple(kw["block_size"])
    return mi.visualize(**kw)


def _long_string(text):
    level = 0
    while ("]" + "=" * level + "]") in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[\n{text}]{eq}]"


def fixture(name, what, mask, ids, opts, gen):
    lines = ["local T, F = true, false", "return {", f"  name = {luaout.string(name)},", "  mask = {"]
    for b, batch in enumerate(mask):
        lines.append(f"    {{ -- batch {b}")
        for h, head in enumerate(batch):
            lines.append(f"      {{ -- head {h}")
            for row in head:
                lines.append("        {" + ",".join("1" if x else "0" for x in row) + "},")
            lines.append("      },")
        lines.append("    },")
    lines.append("  },")
    if ids is not None:
        lines.append(f"  q_ids = {luaout.value(ids[0], 8, 100000)},")
        lines.append(f"  kv_ids = {luaout.value(ids[1], 8, 100000)},")
    lines.append(f"  opts = {luaout.value(opts, 8, 100000)},")
    lines.append(f"  expected = {_long_string(render(mask, ids, opts))},")
    lines.append("}")
    header = [what,
              f"GENERATED by {gen} (visualize, numpy PCG64 seed {SEED}) with tests/gen/seedmask.py's",
              "port of the seed's visualize(return_str=True). Do not edit: regenerate."]
    return luaout.document(header, "\n".join(lines) + "\n")


def files(gen):
    out = {}
    names = []
    for name, what, mask, ids, opts in scenarios():
        out[name + ".lua"] = fixture(name, what, np.asarray(mask, bool), ids, opts, gen)
        names.append(name)
    index = "return {\n" + "".join(f"  {luaout.string(n)},\n" for n in names) + "}\n"
    out["index.lua"] = luaout.document(["Fixture names in this folder, in order.",
                                        f"GENERATED by {gen} (visualize). Do not edit: regenerate."], index)
    return out
