"""Which expected fields the replay rebuilds, and how (mirrors M.expand in
tests/helpers/conformance.lua).  compress() replaces a field by `true` only when the rule
rebuilds exactly what the seed answered; otherwise the field stays stored.

Rules (sources are resolved before the fields derived from them):
  1-D tails      cu_seqlens_q/kv, cu_ms.q/kv, q_lens, kv_lens: values shorter than the shape
                 repeat their last value
  cu_seqlens_kv  = cu_seqlens_q
  kv_segment_ids = q_segment_ids
  segment_ids    = {q = q_segment_ids, kv = kv_segment_ids}
  q_attention_mask = 0 where q_segment_ids == -1, else 1 (int32)
  positions.q    = q_position_ids
  cu_ms.q/kv     = cu_seqlens_q/kv, cut to max_segments + 1 entries when they have 129
  gocam          = attention_mask cast to gocam_dtype
  bias           = 0.0 where attention_mask is allowed, else float32's lowest value
  create_bias    = the same in create_bias_dtype
  qkv_masks      = validity (id > -1) of segment_ids and their same-id outer product
"""
from __future__ import annotations

import copy

import luaout
import seedmask as S

TAIL_FIELDS = ("cu_seqlens_q", "cu_seqlens_kv", "q_lens", "kv_lens")


def _same(a, b):
    return luaout._flat(a) == luaout._flat(b)


def _map(values, fn):
    if isinstance(values, list):
        return [_map(v, fn) for v in values]
    return fn(values)


def _one(dtype, allowed):
    if dtype == "bool":
        return bool(allowed)
    if dtype == "int32":
        return 1 if allowed else 0
    return 1.0 if allowed else 0.0


def cast(a, dtype):
    return {"shape": list(a["shape"]), "dtype": dtype, "values": _map(a["values"], lambda v: _one(dtype, v))}


def bias(a, dtype):
    m = S.FLOAT_MIN[dtype]
    return {"shape": list(a["shape"]), "dtype": dtype, "values": _map(a["values"], lambda v: 0.0 if v else m)}


def q_attention_mask(ids):
    return {"shape": list(ids["shape"]), "dtype": "int32", "values": _map(ids["values"], lambda v: 0 if v == -1 else 1)}


def qkv_masks(seg, dtype):
    q, kv = seg["q"], seg["kv"]
    if len(q["shape"]) != 2 or len(kv["shape"]) != 2:
        return None
    qm = cast({"shape": q["shape"], "values": _map(q["values"], lambda v: v > -1)}, dtype)
    km = cast({"shape": kv["shape"], "values": _map(kv["values"], lambda v: v > -1)}, dtype)
    attn = [[[[_one(dtype, a == b and a > -1 and b > -1) for b in kr] for a in qr]] for qr, kr in
            zip(q["values"], kv["values"])]
    return {"q": qm, "kv": km, "attn": {"shape": [q["shape"][0], 1, q["shape"][1], kv["shape"][1]], "dtype": dtype,
                                        "values": attn}}


def cut(cu, ms):
    if cu["shape"] == [129] and ms != 128:
        n = ms + 1
        return {"shape": [n], "dtype": cu["dtype"], "values": cu["values"][:n]}
    return cu


def tail(a):
    """Drop the repeats of the last value of a 1-D array (at least one value stays)."""
    if not isinstance(a, dict) or len(a["shape"]) != 1:
        return a
    v = a["values"]
    n = len(v)
    while n > 1 and v[n - 2] == v[-1]:
        n -= 1
    return a if n == len(v) else {"shape": a["shape"], "dtype": a["dtype"], "values": v[:n]}


def compress(e):
    full = e
    out = copy.deepcopy(e)

    def mark(key, derived):
        if key in full and derived is not None and _same(derived, full[key]):
            out[key] = True

    if "cu_seqlens_q" in full and "cu_seqlens_kv" in full:
        mark("cu_seqlens_kv", full["cu_seqlens_q"])
    if "q_segment_ids" in full:
        mark("kv_segment_ids", full.get("q_segment_ids"))
        mark("q_attention_mask", q_attention_mask(full["q_segment_ids"]) if full["q_segment_ids"] else None)
        if "kv_segment_ids" in full:
            mark("segment_ids", {"q": full["q_segment_ids"], "kv": full["kv_segment_ids"]})
    if "positions" in full and "q_position_ids" in full and _same(full["positions"]["q"], full["q_position_ids"]):
        out["positions"] = {"q": True, "kv": full["positions"]["kv"]}
    if "cu_ms" in full and "cu_seqlens_q" in full and "cu_seqlens_kv" in full:
        ms = full["cu_ms_max_segments"]
        mark("cu_ms", {"q": cut(full["cu_seqlens_q"], ms), "kv": cut(full["cu_seqlens_kv"], ms)})
    am = full.get("attention_mask")
    if am:
        mark("gocam", cast(am, full["gocam_dtype"]))
        mark("bias", bias(am, "float32"))
        mark("create_bias", bias(am, full["create_bias_dtype"]))
    if "segment_ids" in full:
        mark("qkv_masks", qkv_masks(full["segment_ids"], full["qkv_masks_dtype"]))
    for k in TAIL_FIELDS:
        if isinstance(out.get(k), dict):
            out[k] = tail(out[k])
    if isinstance(out.get("cu_ms"), dict):
        out["cu_ms"] = {s: tail(v) for s, v in out["cu_ms"].items()}
    return out
