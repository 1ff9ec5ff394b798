#!/usr/bin/python3
"""Regenerate every fixture under tests/fixtures/ from the NumPy port of the seed.

    /usr/bin/python3 tests/gen/generate.py [--out tests/fixtures] [--check]

Deterministic: each family draws from numpy's PCG64 with a fixed seed (listed in FAMILIES and
in each file's header), keys are written sorted, numbers with repr().  --check regenerates
in memory and exits 1 if a file on disk differs.

Conformance files (conformance/*.lua) hold one case per entry: a constructor, an op chain,
the query parameters and the seed's answers.  Answers the replay can rebuild from other
fields are written as `true` ("derive") and rebuilt by tests/helpers/conformance.lua
(M.expand); the generator only writes `true` after checking that the rebuild gives the
seed's answer, and otherwise stores the answer itself.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import derive  # noqa: E402
import luaapi as L  # noqa: E402
import luaout  # noqa: E402
import observe as O  # noqa: E402
import seedmask as S  # noqa: E402
import visualize_cases  # noqa: E402

GEN = "tests/gen/generate.py"
FLOATS = ("float32", "float16", "bfloat16")
BATCH_AXES = ["dp", ["dp", "fsdp"], ["dp", "fsdp", "ep"], "data", ["x"], False]
QHEAD_AXES = ["tp", ["tp", "ep"], "model", False]
SEQ_AXES = ["sp", "seq", False]
EXTRA_AXES = ["sp", "ep", "pp", "extra", "seq", "tp", "fsdp"]


class Reject(Exception):
    """A drawn case outside what maskinfo accepts (or where the seed raises): draw again."""


# ------------------------------------------------------------------ random inputs
class Draw:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def int(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def coin(self, p=0.5):
        return bool(self.rng.random() < p)

    def ids(self, b, n, style=None):
        style = style or self.pick(["random", "packed", "padded", "docs"])
        rows = []
        for _ in range(b):
            if style == "random":
                row, cur = [], self.int(-1, 6)
                for _ in range(n):
                    if self.coin(0.45):
                        cur = self.int(-1, 6)
                    row.append(cur)
            elif style == "packed":
                row, seg = [], 0
                for _ in range(n):
                    row.append(seg)
                    if self.coin(0.3):
                        seg += 1
                cut = self.int(0, n // 3)
                row = row[:n - cut] + [-1] * cut
            elif style == "padded":
                lo = self.int(0, n // 3)
                hi = n - self.int(0, n // 3)
                row = [0 if lo <= i < hi else -1 for i in range(n)]
            else:  # docs: ids with gaps and padding between them
                row, cur = [], self.int(0, 4)
                for _ in range(n):
                    if self.coin(0.25):
                        cur = -1 if cur >= 0 and self.coin(0.3) else self.int(0, 6)
                    row.append(cur)
            rows.append(row)
        return rows

    def positions(self, b, n):
        return [[self.int(0, 20) for _ in range(n)] for _ in range(b)]

    def mask(self, shape, p=None, as_int=None):
        p = self.rng.uniform(0.15, 0.85) if p is None else p
        m = self.rng.random(shape) < p
        if as_int if as_int is not None else self.coin(0.3):
            return m.astype(np.int64).tolist()
        return m.tolist()

    def cu(self, b, max_len):
        out = []
        for _ in range(b):
            s = self.int(0, max_len)
            e = self.int(s, max_len)
            out += [s, e]
        return out

    def mask_shape(self, b, q, k, two_d):
        """A 2-D (`two_d`), 3-D (B, Q, K) or 4-D (B, H, Q, K) mask shape."""
        return self.pick([two_d, (b, q, k), (b, self.int(1, 3), q, k), (b, self.int(1, 3), q, k)])

    def per_batch(self, b, lo, hi):
        if self.coin(0.5):
            return self.int(lo, hi)
        return [self.int(lo, hi) for _ in range(b)]

    def axis_opts(self):
        o = {}
        if self.coin(0.25):
            o["batch_axis_name"] = self.pick(BATCH_AXES)
        if self.coin(0.25):
            o["qheads_axis_name"] = self.pick(QHEAD_AXES)
        if self.coin(0.2):
            o["sequence_axis_name"] = self.pick(SEQ_AXES)
        return o

    def mesh(self, mi, sp):
        """A mesh holding every axis get_shardings checks (the error cases are in errors.lua)."""
        names = []
        for a in (mi.batch_axis_name, mi.qheads_axis_name) + ((mi.sequence_axis_name,) if sp else ()):
            if a is not None:
                names += list(a) if isinstance(a, tuple) else [a]
        for _ in range(self.int(0, 2)):
            names.append(self.pick(EXTRA_AXES))
        return {n: self.int(1, 4) for n in sorted(set(names))}

    def params(self, mi):
        max_id = -1
        for x in (mi._q_segment_ids, mi._kv_segment_ids):
            if x is not None and x.size:
                max_id = max(max_id, int(np.max(x)))
        meshes = []
        for _ in range(2):
            sp = self.coin(0.5)
            meshes.append((self.mesh(mi, sp), sp))
        return {
            "gocam_dtype": self.pick(S.DTYPES),
            "qkv_masks_dtype": self.pick(S.DTYPES),
            "create_bias_dtype": self.pick(FLOATS),
            "cu_ms_max_segments": max(max_id + 1, 1) + self.int(0, 4),
            "segment_ids_per_head": self.pick([None, True, False]),
            "meshes": meshes,
        }


# ------------------------------------------------------------------ constructors
def draw_ctor(d: Draw, kind=None, max_len=12, max_b=3):
    kind = kind or d.pick(["from_segments"] * 5 + ["from_attention_mask"] * 3 + ["from_cu_seqlens", "dynamic_init"])
    b = d.int(1, max_b)
    q = d.int(1, max_len)
    k = q if d.coin(0.6) else d.int(1, max_len)
    if kind == "from_segments":
        c = {"kind": kind}
        opts = d.axis_opts()
        if d.coin(0.25):
            opts["is_attn_mask"] = True
            c["q"] = d.mask((b, q), as_int=True)
            if d.coin(0.5):
                c["kv"] = d.mask((b, k), as_int=True)
            else:
                k = q
        else:
            c["q"] = d.ids(b, q)
            if d.coin(0.4):
                c["kv"] = d.ids(b, k)
            else:
                k = q
        return with_positions(d, c, opts, (b, q, k), 0.35, 0.3)
    if kind == "from_attention_mask":
        shape = d.mask_shape(b, q, k, (b, q))
        c = {"kind": kind, "mask": d.mask(shape)}
        opts = d.axis_opts()
        if d.coin(0.4):
            opts["mask_is_valid"] = d.coin(0.5)
        return with_positions(d, c, opts, (b, q, q if len(shape) == 2 else k), 0.2, 0.0)
    if kind == "from_cu_seqlens":
        opts = {"max_q_len": q}
        opts.update(d.axis_opts())
        c = {"kind": kind, "cu_q": d.cu(b, q)}
        if d.coin(0.4):
            opts["cu_seqlens_kv"] = d.cu(b, k)
            opts["max_kv_len"] = k
        elif d.coin(0.2):
            opts["max_kv_len"] = q
        c["opts"] = opts
        return c
    if kind == "dynamic_init":
        src = d.pick(["attention_mask", "attention_mask", "attention_mask", "input_ids", "batch_size"])
        if src == "input_ids":
            return {"kind": kind, "opts": {"input_ids": [[d.int(0, 50) for _ in range(q)] for _ in range(b)]}}
        if src == "batch_size":
            return {"kind": kind, "opts": {"batch_size": b, "seq_len": q}}
        return {"kind": kind, "opts": {"attention_mask": d.mask(d.mask_shape(b, q, k, (b, q)))}}
    raise KeyError(kind)


def with_positions(d: Draw, c, opts, bqk, p_q, p_kv):
    """Adds q/kv positions (with probabilities p_q, p_kv) and the options table, if any."""
    b, q, k = bqk
    if d.coin(p_q):
        opts["q_positions"] = d.positions(b, q)
    if d.coin(p_kv):
        opts["kv_positions"] = d.positions(b, k)
    if opts:
        c["opts"] = opts
    return c


def mask_only_ctor(d: Draw, max_len=12):
    b, h, q = d.int(1, 3), d.int(1, 3), d.int(1, max_len)
    k = q if d.coin(0.5) else d.int(1, max_len)
    return {"kind": "from_random", "args": [d.int(1, 3), d.int(1, 8), d.int(1, 8), 0.5, d.int(0, 99)],
            "replace": {"attention_mask": d.mask((b, h, q, k), as_int=False)}}


# ------------------------------------------------------------------ ops
def dims(mi):
    m = mi.get_or_compute_attention_mask() if mi._attention_mask is not None or mi._q_segment_ids is not None else None
    if m is None:
        raise Reject("no mask")
    return m.shape


def three_d(mi):
    return any(x is not None and np.ndim(x) == 3 for x in (mi._q_segment_ids, mi._kv_segment_ids))


SAFE_AFTER_3D = ("causal", "window", "decode", "tt", "todtype", "mat")


def draw_op(d: Draw, mi, kind):
    B, H, Q, K = dims(mi.fresh())
    if three_d(mi) and kind not in SAFE_AFTER_3D:
        raise Reject("op not defined for 3-D ids")
    if kind == "causal":
        r = d.int(0, 3)
        if r == 0:
            return {"op": "apply_causal", "n": 0, "args": []}
        return {"op": "apply_causal", "n": 1, "args": [d.per_batch(B, -3, 3)]}
    if kind in ("window", "decode", "prefill"):
        w = d.int(0, 4) if d.coin(0.5) else [d.int(0, 4), d.int(0, 4)]
        o = {}
        if d.coin(0.4):
            o["offset"] = d.per_batch(B, -2, 2)
        if kind == "window":
            if d.coin(0.3):
                o["mode"] = "default"
        elif kind == "decode":
            o["mode"] = "decode"
            o["index"] = d.per_batch(B, 0, Q - 1)
        else:
            o["mode"] = "prefill"
        if not o:
            return {"op": "apply_sliding_window", "n": 1, "args": [w]}
        return {"op": "apply_sliding_window", "n": 2, "args": [w, o]}
    if kind == "chunked":
        if d.coin(0.5):
            return {"op": "apply_chunked", "n": 1, "args": [d.int(1, 5)]}
        return {"op": "apply_chunked", "n": 2, "args": [d.int(1, 5), d.int(-2, 2)]}
    if kind == "tt":
        o = {}
        types = [[d.int(0, 3) for _ in range(Q)] for _ in range(B)]
        if Q != K or d.coin(0.3):
            o["kv_token_type_ids"] = [[d.int(0, 3) for _ in range(K)] for _ in range(B)]
        for name, choices in (("combine", ["union", "intersect", "replace"]), ("zero_policy", ["q", "kv", "both", "none"])):
            if d.coin(0.7):
                o[name] = d.pick(choices)
        if d.coin(0.3):
            o["update_segment_ids"] = d.coin(0.5)
        return {"op": "apply_token_type_ids", "n": 2, "args": [types, o]}
    if kind == "kvlen":
        o = {"q_len": d.int(1, Q)}
        if d.coin(0.5):
            o["sliding_window"] = d.int(1, K + 2)
        return {"op": "apply_kv_lengths", "n": 2, "args": [d.per_batch(B, 0, K), o]}
    if kind == "mat":
        if d.coin(0.3):
            return {"op": "materialize_attention_mask", "n": 0, "args": []}
        return {"op": "materialize_attention_mask", "n": 1, "args": [d.pick(S.DTYPES)]}
    if kind == "todtype":
        return {"op": "to_dtype", "n": 1, "args": [d.pick(S.DTYPES)]}
    if kind == "matseg":
        if d.coin(0.3):
            return {"op": "materialize_segment_ids", "n": 0, "args": []}
        return {"op": "materialize_segment_ids", "n": 1, "args": [d.coin(0.5)]}
    if kind == "replace":
        return {"op": "replace", "n": 1, "args": [draw_replace(d, mi, B, H, Q, K)]}
    raise KeyError(kind)


def draw_replace(d: Draw, mi, B, H, Q, K):
    o = {}
    q_len, kv_len = mi.q_len, mi.kv_len
    for _ in range(d.int(1, 3)):
        r = d.pick(["mask", "ids", "q_ids", "kv_ids", "cu", "pos", "pos_false", "flags", "axis", "cu_false"])
        if r == "mask":
            o["attention_mask"] = d.mask((B, d.int(1, 3), Q, K), as_int=False)
        elif r == "ids" and q_len == Q and kv_len == K:
            o["q_segment_ids"] = d.ids(B, Q)
            o["kv_segment_ids"] = d.ids(B, K)
        elif r == "q_ids" and q_len == Q:
            o["q_segment_ids"] = d.ids(B, Q)
        elif r == "kv_ids" and kv_len == K:
            o["kv_segment_ids"] = d.ids(B, K)
        elif r == "cu":
            o["cu_seqlens_q"] = d.cu(B, Q)
            o["cu_seqlens_kv"] = d.cu(B, K)
        elif r == "cu_false":
            o["cu_seqlens_q"] = False
            o["cu_seqlens_kv"] = False
        elif r == "pos":
            o["q_positions" if d.coin(0.5) else "kv_positions"] = None
            if "q_positions" in o:
                o["q_positions"] = d.positions(B, Q)
            if "kv_positions" in o:
                o["kv_positions"] = d.positions(B, K)
        elif r == "pos_false":
            o["q_positions" if d.coin(0.5) else "kv_positions"] = False
        elif r == "flags":
            for f in ("causal_mask_baked_in", "sliding_window_baked_in", "chunked_mask_baked_in",
                      "token_type_ids_baked_in"):
                if d.coin(0.4):
                    o[f] = d.coin(0.5)
        elif r == "axis":
            o.update(d.axis_opts() or {"batch_axis_name": d.pick(BATCH_AXES)})
    if not o:
        o["qheads_axis_name"] = d.pick(QHEAD_AXES)
    return o


# ------------------------------------------------------------------ acceptance
def acceptable(mi):
    """What maskinfo accepts as a built object: ids in [-1, 128) (cu_seqlens uses 128
    segments and maskinfo raises on larger ids), positions shaped like the ids they go with."""
    for x in (mi._q_segment_ids, mi._kv_segment_ids):
        if x is not None and x.size and (int(np.min(x)) < -1 or int(np.max(x)) >= 128):
            raise Reject("ids out of range")
    for x in (mi._attention_mask, mi._q_segment_ids, mi._kv_segment_ids):
        if x is not None and 0 in np.shape(x):
            raise Reject("empty dimension")
    return mi


def replay(case):
    try:
        mi = L.build_ctor(case["ctor"])
        acceptable(mi)
        for op in case["ops"]:
            mi = acceptable(L.apply_op(mi, op))
        return mi
    except (S.SeedError, ValueError, IndexError, TypeError) as e:
        raise Reject(str(e)) from e


def object_case(d: Draw, name, ctor_fn, op_kinds_fn, tries=200):
    for _ in range(tries):
        try:
            ctor = ctor_fn(d)
            mi = replay({"ctor": ctor, "ops": []})
            ops = []
            for kind in op_kinds_fn(d):
                op = draw_op(d, mi, kind)
                mi = replay({"ctor": ctor, "ops": ops + [op]})
                ops.append(op)
            expect = O.object_expect(mi, d.params(mi))
            return {"name": name, "ctor": ctor, "ops": ops, "expect": derive.compress(expect)}
        except Reject:
            continue
    raise RuntimeError(f"could not draw an acceptable case for {name}")


OP_KINDS = ["causal", "window", "decode", "prefill", "chunked", "tt", "kvlen", "mat", "todtype", "matseg"]
CHAIN_KINDS = ["causal", "window", "window", "decode", "prefill", "chunked", "tt", "tt", "kvlen", "mat", "todtype",
               "matseg"]


def fam_constructors(d):
    cases = [object_case(d, "ctor%03d" % i, draw_ctor, lambda _d: []) for i in range(108)]

    def none_axes(dd):
        c = draw_ctor(dd, "from_segments")
        c.setdefault("opts", {})
        c["opts"].pop("is_attn_mask", None)
        c["q"] = dd.ids(len(c["q"]), len(c["q"][0]))
        for a in ("batch_axis_name", "qheads_axis_name", "sequence_axis_name"):
            if dd.coin(0.6):
                c["opts"][a] = False
        return c

    for i in range(12):
        cases.append(object_case(d, "ctor_none_axes%03d" % i, none_axes,
                                 lambda dd: [dd.pick(["causal", "todtype", "kvlen"])] if dd.coin(0.5) else []))
    return cases


def fam_ops(d):
    cases = []
    for i in range(150):
        kind = OP_KINDS[i % len(OP_KINDS)]
        cases.append(object_case(d, "op%03d_%s" % (i, kind), draw_ctor, lambda _d, k=kind: [k]))
    return cases


def fam_chains(d):
    cases = [object_case(d, "chain%03d" % i, draw_ctor,
                         lambda dd: [dd.pick(CHAIN_KINDS) for _ in range(dd.int(2, 4))]) for i in range(100)]
    cases += [object_case(d, "dtypes%03d" % i, draw_ctor,
                          lambda dd: [dd.pick(["todtype", "mat", "todtype", "causal", "tt"]) for _ in range(dd.int(2, 3))])
              for i in range(20)]
    return cases


def fam_replace(d):
    cases = [object_case(d, "replace%03d" % i, draw_ctor,
                         lambda dd: [dd.pick(["replace", "replace"] + CHAIN_KINDS) for _ in range(dd.int(1, 3))])
             for i in range(40)]
    cases += [object_case(d, "maskonly%03d" % i, mask_only_ctor,
                          lambda dd: [dd.pick(CHAIN_KINDS + ["replace"]) for _ in range(dd.int(0, 2))]) for i in range(20)]

    def ids3d(dd):
        b, h, q = dd.int(1, 3), dd.int(1, 3), dd.int(1, 12)
        k = q if dd.coin(0.5) else dd.int(1, 12)
        per_head = dd.coin(0.5)
        hh = h if per_head else 1
        return {"kind": "from_attention_mask", "mask": dd.mask((b, h, q, k), as_int=False),
                "replace": {"q_segment_ids": [dd.ids(hh, q) for _ in range(b)],
                            "kv_segment_ids": [dd.ids(hh, k) for _ in range(b)]}}

    cases += [object_case(d, "ids3d%03d" % i, ids3d,
                          lambda dd: [dd.pick(SAFE_AFTER_3D)] if dd.coin(0.6) else []) for i in range(20)]

    def half_ctor(dd):
        c = mask_only_ctor(dd)
        m = np.asarray(c["replace"]["attention_mask"])
        side = "q_segment_ids" if dd.coin(0.6) else "kv_segment_ids"
        n = m.shape[2] if side == "q_segment_ids" else m.shape[3]
        return c, {side: dd.ids(m.shape[0], n)}

    def half_ops(dd):
        return [dd.pick(["causal", "window", "chunked", "mat", "todtype"])] if dd.coin(0.6) else []

    cases += [_half_case(d, "halfids%03d" % i, half_ctor, half_ops) for i in range(16)]
    return cases


def _half_case(d, name, ctor_plain, half_ops, tries=200):
    for _ in range(tries):
        try:
            ctor, half = ctor_plain(d)
            ops = [{"op": "replace", "n": 1, "args": [half]}]
            mi = replay({"ctor": ctor, "ops": ops})
            for kind in half_ops(d):
                op = draw_op(d, mi, kind)
                mi = replay({"ctor": ctor, "ops": ops + [op]})
                ops.append(op)
            return {"name": name, "ctor": ctor, "ops": ops, "expect": derive.compress(O.object_expect(mi, d.params(mi)))}
        except Reject:
            continue
    raise RuntimeError(name)


def fam_edge(d):
    cases = []
    for i in range(24):
        for _ in range(200):
            try:
                ctor = draw_ctor(d)
                mi = replay({"ctor": ctor, "ops": []})
                B, _H, Q, _K = dims(mi.fresh())
                o = {"mode": "decode"}
                # the index leaves [0, Q-1] on at least one row: the seed clips it
                if d.coin(0.5):
                    o["index"] = d.pick([d.int(-3, -1), d.int(Q, Q + 3)])
                else:
                    o["index"] = [d.int(-3, Q + 3) for _ in range(B)]
                    o["index"][d.int(0, B - 1)] = d.pick([-1, Q, Q + 2])
                if d.coin(0.5):
                    o["offset"] = d.per_batch(B, -2, 3)
                w = d.int(0, 5) if d.coin(0.5) else [d.int(0, 4), d.int(0, 4)]
                op = {"op": "apply_sliding_window", "n": 2, "args": [w, o]}
                mi = replay({"ctor": ctor, "ops": [op]})
                cases.append({"name": "edge%03d_decode_index_clipped" % i, "ctor": ctor, "ops": [op],
                              "expect": derive.compress(O.object_expect(mi, d.params(mi)))})
                break
            except Reject:
                continue
    return cases


def fam_long(d):
    cases = []
    for i in range(6):
        kinds = [["matseg"], ["tt"], ["chunked", "chunked", "chunked"], ["kvlen"], ["causal", "window"],
                 ["decode"]][i]
        cases.append(object_case(d, "long%03d" % i, lambda dd: draw_ctor(dd, max_len=80, max_b=2),
                                 lambda _d, k=kinds: list(k)))
    return cases


# ------------------------------------------------------------------ module functions
def draw_fn(d: Draw, fn):
    b, q = d.int(1, 3), d.int(1, 12)
    k = q if d.coin(0.5) else d.int(1, 12)
    if fn == "mask_to_segment_ids":
        m = d.mask(d.mask_shape(b, q, k, (q, k)))
        if d.coin(0.5):
            return [m], 1
        return [m, d.coin(0.5)], 2
    if fn == "segment_ids_to_mask":
        qi = d.ids(b, q)
        r = d.int(0, 3)
        if r == 0:
            return [qi], 1
        kv = d.ids(b, k) if d.coin(0.5) else None
        if r == 1 and kv is not None:
            return [qi, kv], 2
        o = {}
        if d.coin(0.6):
            o["dtype"] = d.pick(S.DTYPES)
        if d.coin(0.5):
            o["return_separate_masks"] = d.coin(0.5)
        return [qi, kv, o], 3
    if fn == "segment_ids_to_qkv_masks":
        kv = d.ids(b, k) if d.coin(0.5) else None
        return [d.ids(b, q), kv, d.pick(S.DTYPES)], 3
    if fn == "qkv_masks_to_cu_seqlens":
        if d.coin(0.5):
            return [d.mask((b, q))], 1
        return [d.mask((b, q)), d.mask((b, k))], 2
    if fn == "cu_seqlens_to_mask":
        if d.coin(0.4):
            return [d.cu(b, q), q], 2
        return [d.cu(b, q), q, d.pick(S.DTYPES)], 3
    if fn in ("qkv_cu_seqlens_to_qkv_masks", "qkv_cu_seqlens_to_attention_mask"):
        o = {"max_q_len": q}
        if d.coin(0.5):
            o["cu_seqlens_kv"] = d.cu(b, k)
            o["max_kv_len"] = k
        elif d.coin(0.3):
            o["max_kv_len"] = q
        if d.coin(0.5):
            o["dtype"] = d.pick(S.DTYPES)
        return [d.cu(b, q), o], 2
    if fn == "attention_mask_to_qkv_cu_seqlens":
        shape = d.mask_shape(b, q, k, (b, q))
        if d.coin(0.4):
            return [d.mask(shape)], 1
        return [d.mask(shape), {"reduce_heads": d.pick(["any", "all", "first"])}], 2
    if fn == "create_chunked_attention_mask":
        n = d.int(2, 5)
        args = [d.int(1, 6), q, k, d.int(-2, 3), d.pick(S.DTYPES)][:n]
        return args, n
    raise KeyError(fn)


FNS = ["mask_to_segment_ids", "segment_ids_to_mask", "segment_ids_to_qkv_masks", "qkv_masks_to_cu_seqlens",
       "cu_seqlens_to_mask", "qkv_cu_seqlens_to_qkv_masks", "qkv_cu_seqlens_to_attention_mask",
       "attention_mask_to_qkv_cu_seqlens", "create_chunked_attention_mask"]


def fam_module_functions(d):
    cases = []
    order = FNS + ["mask_to_segment_ids"]  # mask_to_segment_ids twice: the richest function
    for i in range(300):
        fn = order[i % len(order)]
        for _ in range(100):
            args, n = draw_fn(d, fn)
            try:
                expect = O.function_expect(fn, args, n)
            except (S.SeedError, ValueError, IndexError, TypeError):
                continue
            cases.append({"name": "fn%03d" % i, "fn": fn, "args": args, "n": n, "expect": expect})
            break
    return cases


# ------------------------------------------------------------------ errors (fixed list)
def fam_errors(_d):
    base = {"kind": "from_segments", "q": [[0, 0, 1, 1, -1]]}

    def obj(name, ops, why="ValueError", query=None):
        c = {"name": name, "kind": "obj", "ctor": base, "ops": ops, "why": why}
        if query:
            c["query"] = query
        return c

    def op(name, *args):
        return {"op": name, "n": len(args), "args": list(args)}

    def fn(name, f, args, why="ValueError"):
        return {"name": name, "kind": "fn", "fn": f, "args": args, "n": len(args), "why": why}

    def ctor(name, c, why="ValueError"):
        return {"name": name, "kind": "ctor", "ctor": c, "why": why}

    tt = [[1, 1, 2, 2, 0]]
    cases = [
        obj("negative window", [op("apply_sliding_window", -1)]),
        obj("negative left window", [op("apply_sliding_window", [-1, 2])]),
        obj("negative right window", [op("apply_sliding_window", [2, -3])]),
        obj("decode without index", [op("apply_sliding_window", 2, {"mode": "decode"})]),
        obj("chunk_size 0", [op("apply_chunked", 0)]),
        obj("chunk_size negative", [op("apply_chunked", -2)]),
        obj("kv_lengths without q_len", [op("apply_kv_lengths", [5], {})]),
        obj("kv_lengths q_len > Q", [op("apply_kv_lengths", [5], {"q_len": 6})],
            "jax dynamic_slice: slice size larger than the dimension (TypeError)"),
        obj("token types: bad combine", [op("apply_token_type_ids", tt, {"combine": "xor"})]),
        obj("token types: bad zero_policy", [op("apply_token_type_ids", tt, {"zero_policy": "never"})]),
        obj("token types: batch mismatch q/kv",
            [op("apply_token_type_ids", tt, {"kv_token_type_ids": [[1, 1, 2, 2, 0], [1, 1, 1, 1, 1]]})]),
        obj("sharding: sequence_parallel without sp axis", [],
            "ValueError: Axis 'sp' (from sequence_axis_name) is not present in the mesh",
            {"name": "get_shardings", "args": [{"mesh": {"dp": 1, "fsdp": 1, "tp": 1}, "sequence_parallel": True}]}),
        obj("sharding: configured batch axis fsdp missing from mesh", [],
            "ValueError from the seed's _check (runs before get_corrected_named_sharding)",
            {"name": "get_shardings", "args": [{"mesh": {"dp": 2, "tp": 1}}]}),
        obj("sharding: configured qheads axis tp missing from mesh", [], "ValueError",
            {"name": "get_shardings", "args": [{"mesh": {"dp": 2, "fsdp": 1}}]}),
        dict(obj("sharding: one mesh axis for the batch and the sequence", [],
                 "DuplicateSpecError in JAX's NamedSharding",
                 {"name": "get_shardings", "args": [{"mesh": {"dp": 1, "fsdp": 1, "tp": 1}, "sequence_parallel": True}]}),
             ctor=dict(base, opts={"sequence_axis_name": "dp"})),
        fn("cu_seqlens_to_mask odd length", "cu_seqlens_to_mask", [[0, 2, 3], 4]),
        fn("cu_seqlens_to_mask negative max_len", "cu_seqlens_to_mask", [[0, 2], -1]),
        fn("create_chunked_attention_mask chunk 0", "create_chunked_attention_mask", [0, 4]),
        fn("attention_mask_to_qkv_cu_seqlens bad reduce_heads (4-D)", "attention_mask_to_qkv_cu_seqlens",
           [[[[[True, False], [False, True]]]], {"reduce_heads": "max"}]),
        fn("mask_to_segment_ids 1-D mask", "mask_to_segment_ids", [[True, False]]),
        fn("mask_to_segment_ids 5-D mask", "mask_to_segment_ids", [[[[[[True]]]]]]),
        fn("qkv_masks_to_cu_seqlens 3-D mask", "qkv_masks_to_cu_seqlens", [[[[True]]]]),
        ctor("from_attention_mask 1-D", {"kind": "from_attention_mask", "mask": [True, False]}),
        ctor("from_attention_mask 5-D", {"kind": "from_attention_mask", "mask": [[[[[True]]]]]}),
        ctor("dynamic_init with nothing", {"kind": "dynamic_init", "opts": {}}),
        ctor("from_random sparsity > 1", {"kind": "from_random", "args": [1, 4, 4, 1.5]}),
        ctor("from_random sparsity < 0", {"kind": "from_random", "args": [1, 4, 4, -0.5]}),
    ]
    # Every case must raise in the port too.
    for c in cases:
        try:
            if c["kind"] == "fn":
                L.call_fn(c["fn"], c["args"], c["n"])
            elif c["kind"] == "ctor":
                L.build_ctor(c["ctor"])
            else:
                mi = L.build_case(c)
                if "query" in c:
                    a = c["query"]["args"][0]
                    mi.get_shardings(bool(a.get("sequence_parallel")), mesh=a["mesh"])
        except (S.SeedError, ValueError, IndexError, TypeError, KeyError):
            continue
        raise RuntimeError("error case does not raise in the seed port: " + c["name"])
    return cases


# ------------------------------------------------------------------ files
FAMILIES = [
    # file, seed, builder, what
    ("constructors", 1001, fam_constructors, "constructors (every observable of the built MaskInfo)"),
    ("module_functions", 1002, fam_module_functions, "module functions"),
    ("ops", 1003, fam_ops, "one apply_* / materialize / to_dtype op after a constructor"),
    ("chains", 1004, fam_chains, "chains of 2-4 ops; dtype round trips"),
    ("replace", 1005, fam_replace, "replace{...}, mask-only objects, 3-D ids, one side's ids"),
    ("edge", 1006, fam_edge, "decode with an index outside [0, Q-1] (the seed clips it)"),
    ("long", 1007, fam_long, "masks up to 80 tokens"),
    ("errors", 1008, fam_errors, "inputs the seed raises on (fixed list)"),
]


def conformance_file(name, seed, builder, what):
    d = Draw(seed)
    cases = builder(d)
    header = [
        f"GENERATED by {GEN} (family {name!r}, numpy PCG64 seed {seed}) from tests/gen/seedmask.py,",
        "a NumPy port of ejkernel's types/mask.py (the seed). Do not edit: regenerate with",
        f"  /usr/bin/python3 {GEN}",
        f"{len(cases)} cases: {what}.",
        "Arrays are {shape=, dtype=, values=}; false stands for None. An expected field written",
        "`true` is derived from other fields by tests/helpers/conformance.lua (M.expand); a 1-D",
        "array with fewer values than its shape repeats its last value (cu_seqlens tails).",
    ]
    body = "local T, F = true, false\nreturn " + luaout.value(cases) + "\n"
    return luaout.document(header, body), len(cases)


def all_files():
    files = {}
    counts = {}
    for name, seed, builder, what in FAMILIES:
        text, n = conformance_file(name, seed, builder, what)
        files[f"conformance/{name}.lua"] = text
        counts[name] = n
    for path, text in visualize_cases.files(GEN).items():
        files["visualize/" + path] = text
    counts["visualize"] = len(visualize_cases.SCENARIOS)
    return files, counts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures"))
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    a = ap.parse_args(argv)
    t0 = time.time()
    files, counts = all_files()
    differ = []
    for rel, text in sorted(files.items()):
        path = os.path.join(a.out, rel)
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:
            differ.append(rel)
            if not a.check:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8", newline="\n") as f:
                    f.write(text)
    total = sum(len(t.encode("utf-8")) for t in files.values())
    print(f"{len(files)} files, {total} bytes, {time.time() - t0:.1f} s; cases: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if differ:
        print(("differ: " if a.check else "written: ") + ", ".join(differ))
    return 1 if (a.check and differ) else 0


if __name__ == "__main__":
    sys.exit(main())
