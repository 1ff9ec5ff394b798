"""Every observable the conformance replay checks, computed on the seed port.

Each query runs on a fresh deep copy of the built object: the seed's getters cache onto
the object, maskinfo's objects never change (docs/decisions.md), so a fresh seed object is
the reference.  A query the seed raises on is left out (the replay skips unrecorded ones).
"""
from __future__ import annotations

import numpy as np

import luaapi as L
import seedmask as S


def _q(mi, fn):
    try:
        return True, fn(mi.fresh())
    except (S.SeedError, ValueError, IndexError, TypeError) as e:
        return False, e


def object_expect(mi, p):
    """p: gocam_dtype, qkv_masks_dtype, create_bias_dtype, cu_ms_max_segments,
    segment_ids_per_head (None for the default call), meshes [(mesh, sequence_parallel)]."""
    e = {}

    def put(key, fn, conv):
        ok, r = _q(mi, fn)
        if ok:
            e[key] = conv(r)

    A = L.fx_array
    put("tostring", repr, str)
    put("shape", lambda m: m.shape, lambda s: [False if x is None else int(x) for x in s])
    put("baked_in_masks", lambda m: m.baked_in_masks, dict)
    put("is_self_attention", lambda m: m.is_self_attention(), bool)
    put("is_multi_sequence", lambda m: m.is_multi_sequence, bool)
    put("attention_mask", lambda m: m.attention_mask, A)
    e["gocam_dtype"] = p["gocam_dtype"]
    put("gocam", lambda m: m.get_or_compute_attention_mask(p["gocam_dtype"]), A)
    put("q_segment_ids", lambda m: m.q_segment_ids, A)
    put("kv_segment_ids", lambda m: m.kv_segment_ids, A)
    ph = p.get("segment_ids_per_head")
    if ph is not None:
        e["segment_ids_per_head"] = ph
    put("segment_ids", lambda m: m.get_or_compute_segment_ids(bool(ph)), lambda r: {"q": A(r[0]), "kv": A(r[1])})
    put("q_lens", lambda m: m.q_lens, A)
    put("kv_lens", lambda m: m.kv_lens, A)
    put("q_attention_mask", lambda m: m.q_attention_mask, A)
    put("q_position_ids", lambda m: m.q_position_ids, A)
    put("positions", lambda m: m.get_or_compute_positions(), lambda r: {"q": A(r[0]), "kv": A(r[1])})
    put("cu_seqlens_q", lambda m: m.cu_seqlens_q, A)
    put("cu_seqlens_kv", lambda m: m.cu_seqlens_kv, A)
    ms = p["cu_ms_max_segments"]
    e["cu_ms_max_segments"] = ms
    put("cu_ms", lambda m: m.get_or_compute_qkv_cu_seqlens(max_segments=ms), lambda r: {"q": A(r[0]), "kv": A(r[1])})
    e["qkv_masks_dtype"] = p["qkv_masks_dtype"]
    put("qkv_masks", lambda m: m.get_qkv_masks(p["qkv_masks_dtype"]),
        lambda r: {"q": A(r[0]), "kv": A(r[1]), "attn": A(r[2])})
    put("bias", lambda m: m.bias, A)
    e["create_bias_dtype"] = p["create_bias_dtype"]
    put("create_bias", lambda m: m.create_bias(p["create_bias_dtype"]), A)
    shardings = []
    for mesh, sp in p["meshes"]:
        ok, r = _q(mi, lambda m, mesh=mesh, sp=sp: m.get_shardings(sp, mesh=mesh))
        sh = {"mesh": dict(mesh), "sequence_parallel": sp}
        if ok:
            sh["result"] = L.fx_sharding(r)
        else:
            sh["error"] = str(r)
        shardings.append(sh)
    e["shardings"] = shardings
    _drop_ill_defined(mi, e)
    return e


def _drop_ill_defined(mi, e):
    """Queries the seed answers only by accident of broadcasting are not recorded."""
    q_ids = mi._q_segment_ids
    kv_ids = mi._kv_segment_ids
    three_d = any(x is not None and np.ndim(x) == 3 for x in (q_ids, kv_ids))
    if three_d:
        # segment_ids_to_mask on (B, H, L) ids compares across the head axis
        e.pop("qkv_masks", None)


def function_expect(fn, args, n):
    r = L.call_fn(fn, args, n)
    return [L.fx_array(x) for x in r]
