"""The Lua API of maskinfo, spoken to the NumPy port of the seed (seedmask.py).

Case descriptions are plain data in the shape the Lua replay (tests/helpers/conformance.lua)
passes to maskinfo: nested lists for arrays, dicts for option tables, None for a missing
argument (nil) and False for the seed's None where Lua needs a value.  These functions turn
them into the seed's calls, and the results into fixture values.
"""
from __future__ import annotations

import numpy as np

import seedmask as S

AXIS_KEYS = ("batch_axis_name", "qheads_axis_name", "kvheads_axis_name", "sequence_axis_name")


def axis(v):
    if v is False:
        return None
    if isinstance(v, list):
        return tuple(v)
    return v


def arr(v, dtype=None):
    a = np.asarray(v)
    if dtype is not None:
        a = a.astype(dtype)
    return a


def ids(v):
    return None if v is None else arr(v, np.int32)


def mask_in(v):
    """A Lua mask input: booleans stay bool, numbers are kept (non-zero = allowed)."""
    a = np.asarray(v)
    return a if a.dtype == np.bool_ else a.astype(np.int32)


def ctor_opts(o, allowed):
    kw = {}
    for k, v in (o or {}).items():
        if k in AXIS_KEYS:
            kw[k] = axis(v)
        elif k in ("q_positions", "kv_positions"):
            kw[k] = ids(v)
        elif k in allowed:
            kw[k] = v
        else:
            raise KeyError(f"unknown option {k}")
    return kw


def build_ctor_plain(c):
    kind = c["kind"]
    if kind == "from_segments":
        kw = ctor_opts(c.get("opts"), ("is_attn_mask",))
        return S.MaskInfo.from_segments(ids(c["q"]), ids(c.get("kv")), **kw)
    if kind == "from_attention_mask":
        kw = ctor_opts(c.get("opts"), ("mask_is_valid",))
        return S.MaskInfo.from_attention_mask(mask_in(c["mask"]), **kw)
    if kind == "from_cu_seqlens":
        o = dict(c.get("opts") or {})
        kw = ctor_opts({k: v for k, v in o.items() if k not in ("max_q_len", "max_kv_len", "cu_seqlens_kv")}, ())
        return S.MaskInfo.from_cu_seqlens(ids(c["cu_q"]), max_q_len=o["max_q_len"], max_kv_len=o.get("max_kv_len"),
                                          cu_seqlens_kv=ids(o.get("cu_seqlens_kv")), **kw)
    if kind == "dynamic_init":
        o = c.get("opts") or {}
        if "batch_size" in o:
            return S.MaskInfo.dynamic_init(input_ids=np.zeros((o["batch_size"], o["seq_len"]), np.int32))
        return S.MaskInfo.dynamic_init(
            attention_mask=None if o.get("attention_mask") is None else mask_in(o["attention_mask"]),
            input_ids=None if o.get("input_ids") is None else arr(o["input_ids"]),
            inputs_embeds=None if o.get("inputs_embeds") is None else arr(o["inputs_embeds"]))
    if kind == "from_random":
        a = list(c["args"])
        opts = a[5] if len(a) > 5 else None
        return S.MaskInfo.from_random(*a[:5], **ctor_opts(opts, ()))
    raise KeyError(kind)


def lua_replace(mi, o):
    """mi:replace{...}: nested-table masks are bool; false clears positions and cu_seqlens."""
    kw, clear = {}, []
    for k, v in o.items():
        if k == "attention_mask":
            kw[k] = np.asarray(v).astype(bool)
        elif k in ("q_segment_ids", "kv_segment_ids"):
            kw[k] = ids(v)
        elif k in ("cu_seqlens_q", "cu_seqlens_kv", "q_positions", "kv_positions"):
            if v is False:
                clear.append(k)
            else:
                kw[k] = ids(v)
        elif k in AXIS_KEYS:
            kw[k] = axis(v)
        elif k.endswith("_baked_in"):
            kw[k] = bool(v)
        else:
            raise KeyError(f"unknown replace key {k}")
    out = mi.replace(**kw)
    for k in clear:
        setattr(out, "_" + k if k.startswith("cu_") else k, None)
    return out


def build_ctor(c):
    mi = build_ctor_plain(c)
    if c.get("replace") is not None:
        mi = lua_replace(mi, c["replace"])
    return mi


def per_batch(v):
    return v if isinstance(v, int) else arr(v, np.int64)


def apply_op(mi, op):
    name, a = op["op"], list(op["args"]) + [None] * (op["n"] - len(op["args"]))
    if name == "apply_causal":
        return mi.apply_causal(per_batch(a[0]) if a and a[0] is not None else 0)
    if name == "apply_sliding_window":
        w = a[0]
        w = tuple(w) if isinstance(w, list) else w
        o = (a[1] if len(a) > 1 else None) or {}
        mode = o.get("mode")
        return mi.apply_sliding_window(w, offset=per_batch(o.get("offset", 0)),
                                       mode=None if mode == "default" else mode,
                                       index=None if o.get("index") is None else per_batch(o["index"]))
    if name == "apply_chunked":
        return mi.apply_chunked(a[0], a[1] if len(a) > 1 and a[1] is not None else 0)
    if name == "apply_token_type_ids":
        o = (a[1] if len(a) > 1 else None) or {}
        types = ids(a[0])
        if o.get("kv_token_type_ids") is not None:
            types = (types, ids(o["kv_token_type_ids"]))
        kw = {k: o[k] for k in ("combine", "zero_policy", "update_segment_ids") if k in o}
        return mi.apply_token_type_ids(types, **kw)
    if name == "apply_kv_lengths":
        o = (a[1] if len(a) > 1 else None) or {}
        return mi.apply_kv_lengths(per_batch(a[0]), q_len=o.get("q_len"), sliding_window=o.get("sliding_window"),
                                   end_index=None if o.get("end_index") is None else per_batch(o["end_index"]))
    if name == "materialize_attention_mask":
        return mi.materialize_attention_mask(a[0] if a and a[0] is not None else "bool")
    if name == "materialize_segment_ids":
        return mi.materialize_segment_ids(bool(a[0]) if a and a[0] is not None else False)
    if name == "to_dtype":
        return mi.to_dtype(a[0])
    if name == "replace":
        return lua_replace(mi, a[0])
    raise KeyError(name)


def build_case(case):
    mi = build_ctor(case["ctor"])
    for op in case.get("ops") or []:
        mi = apply_op(mi, op)
    return mi


# ------------------------------------------------------------------ module functions
def call_fn(fn, args, n):
    a = list(args) + [None] * (n - len(args))

    def opt(i):
        return (a[i] if len(a) > i else None) or {}

    if fn == "mask_to_segment_ids":
        return S.mask_to_segment_ids(mask_in(a[0]), per_head=bool(a[1]) if len(a) > 1 and a[1] is not None else False)
    if fn == "segment_ids_to_mask":
        if len(a) > 1 and isinstance(a[1], dict):
            kv, o = None, a[1]
        else:
            kv, o = (a[1] if len(a) > 1 else None), opt(2)
        seg = ids(a[0]) if kv is None else (ids(a[0]), ids(kv))
        r = S.segment_ids_to_mask(seg, dtype=o.get("dtype", "bool"),
                                  return_separate_masks=bool(o.get("return_separate_masks", False)))
        return r if isinstance(r, tuple) else (r,)
    if fn == "segment_ids_to_qkv_masks":
        kv = a[1] if len(a) > 1 else None
        return S.segment_ids_to_qkv_masks(ids(a[0]), ids(kv), dtype=(a[2] if len(a) > 2 and a[2] else "bool"))
    if fn == "qkv_masks_to_cu_seqlens":
        return S.qkv_masks_to_cu_seqlens(mask_in(a[0]), None if len(a) < 2 or a[1] is None else mask_in(a[1]))
    if fn == "cu_seqlens_to_mask":
        return (S.cu_seqlens_to_mask(ids(a[0]), a[1], dtype=(a[2] if len(a) > 2 and a[2] else "bool")),)
    if fn in ("qkv_cu_seqlens_to_qkv_masks", "qkv_cu_seqlens_to_attention_mask"):
        o = opt(1)
        f = getattr(S, fn)
        r = f(ids(a[0]), max_q_len=o["max_q_len"], cu_seqlens_kv=ids(o.get("cu_seqlens_kv")),
              max_kv_len=o.get("max_kv_len"), dtype=o.get("dtype", "bool"))
        return r if isinstance(r, tuple) else (r,)
    if fn == "attention_mask_to_qkv_cu_seqlens":
        return S.attention_mask_to_qkv_cu_seqlens(mask_in(a[0]), reduce_heads=opt(1).get("reduce_heads", "any"))
    if fn == "create_chunked_attention_mask":
        return (S.create_chunked_attention_mask(a[0], a[1], a[2] if len(a) > 2 else None,
                                                a[3] if len(a) > 3 and a[3] is not None else 0,
                                                dtype=(a[4] if len(a) > 4 and a[4] else "bool")),)
    raise KeyError(fn)


# ------------------------------------------------------------------ results as fixture values
def fx_array(a):
    """An Array result as {shape=, dtype=, values=} (values nested like a:totable())."""
    if a is None:
        return False
    dt = S.dtname(a)
    base = np.asarray(a)
    if dt == "bool":
        vals = base.tolist()
    elif dt == "int32":
        vals = base.astype(np.int64).tolist()
    else:
        vals = base.astype(np.float64).tolist()
    return {"shape": list(base.shape), "dtype": dt, "values": vals}


def fx_spec(s):
    if s is None:
        return False
    return [False if e is None else (list(e) if isinstance(e, tuple) else e) for e in s]


def fx_sharding(d):
    return {k: fx_spec(v) for k, v in d.items()}
