"""A NumPy port of ejkernel's ``types/mask.py`` (the seed); Apache-2.0, see tests/gen/NOTICE.

Written from the seed text, function for function, with JAX replaced by NumPy.  It keeps
the seed's behaviour, including the caches its getters write onto the object: the
generator takes a fresh deep copy of an object before each query, which is how maskinfo
answers (see docs/decisions.md, "Objects are immutable").

Where maskinfo documents a deliberate deviation that changes a *result* (not an error),
the port follows maskinfo and says so in a comment marked DEVIATION.

dtypes are the strings "bool", "int32", "float32", "float16", "bfloat16".  NumPy has no
bfloat16: such arrays are float32 views of class BF16 (the values the generator ever
stores in them, 0, 1 and the dtype's minimum, are exact in bfloat16).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace

import numpy as np

INT32_MAX = np.iinfo(np.int32).max
DTYPES = ("bool", "int32", "float32", "float16", "bfloat16")
FLOAT_MIN = {
    "float32": float(np.finfo(np.float32).min),
    "float16": float(np.finfo(np.float16).min),
    # bfloat16: largest exponent, 7 mantissa bits: -(2 - 2**-7) * 2**127
    "bfloat16": -(2.0 - 2.0 ** -7) * 2.0 ** 127,
}


class BF16(np.ndarray):
    """float32 storage tagged as bfloat16."""


_NP = {"bool": np.bool_, "int32": np.int32, "float32": np.float32, "float16": np.float16}


def dtname(a) -> str:
    if isinstance(a, BF16) and a.dtype == np.float32:
        return "bfloat16"
    a = np.asarray(a)
    for name, t in _NP.items():
        if a.dtype == t:
            return name
    raise TypeError(f"no maskinfo dtype for {a.dtype}")


def astype(a, dtype: str):
    base = np.asarray(a)
    if dtype == "bfloat16":
        return base.astype(np.float32).view(BF16)
    return base.astype(_NP[dtype])


def _i32(x):
    return np.asarray(x).astype(np.int32)


class SeedError(Exception):
    """Where the seed raises (ValueError, IndexError, or an error inside JAX)."""


# ----------------------------------------------------------------------------- helpers
def _compress_ids_from_anchors(anchors, pad_mask):
    n = anchors.shape[0]
    sentinel = n + 1
    vals = np.where(pad_mask, sentinel, anchors)
    idx_sorted = np.argsort(vals, kind="stable")
    vals_sorted = vals[idx_sorted]
    valid_sorted = vals_sorted != sentinel
    head = valid_sorted[:1]
    rest_new = (vals_sorted[1:] != vals_sorted[:-1]) & valid_sorted[1:]
    is_new_sorted = np.concatenate([head, rest_new], axis=0).astype(np.int32)
    gid_sorted = np.cumsum(is_new_sorted) - 1
    gid_sorted = np.where(valid_sorted, gid_sorted, -1)
    gid = np.zeros_like(gid_sorted)
    gid[idx_sorted] = gid_sorted
    return gid.astype(np.int32)


def _anchors(m):
    # index of the first row equal to each row (the seed compares packed rows)
    n = m.shape[0]
    eq = np.all(m[:, None, :] == m[None, :, :], axis=-1)
    idx = np.arange(n, dtype=np.int32)[None, :]
    return np.min(np.where(eq, idx, n), axis=-1)


def _mask_to_segments_single(m):
    m = np.asarray(m).astype(bool)
    q_pad = ~np.any(m, axis=-1)
    kv_pad = ~np.any(m, axis=0)
    q_ids = _compress_ids_from_anchors(_anchors(m), q_pad)
    kv_ids = _compress_ids_from_anchors(_anchors(m.T), kv_pad)
    return q_ids, kv_ids


def _map_single(m, lead):
    """Apply _mask_to_segments_single over the leading `lead` axes (the seed's vmaps)."""
    shp = m.shape[:lead]
    flat = m.reshape((-1,) + m.shape[lead:])
    qs, ks = [], []
    for x in flat:
        q, k = _mask_to_segments_single(x)
        qs.append(q)
        ks.append(k)
    q = np.stack(qs).reshape(shp + (m.shape[-2],)) if qs else np.zeros(shp + (m.shape[-2],), np.int32)
    k = np.stack(ks).reshape(shp + (m.shape[-1],)) if ks else np.zeros(shp + (m.shape[-1],), np.int32)
    return q.astype(np.int32), k.astype(np.int32)


def mask_to_segment_ids(mask, per_head=False):
    m = np.asarray(mask).astype(bool)
    if m.ndim == 2:
        return _mask_to_segments_single(m)
    if m.ndim == 3:
        return _map_single(m, 1)
    if m.ndim == 4:
        if per_head:
            return _map_single(m, 2)
        return _map_single(m[:, 0, :, :], 1)
    raise SeedError(f"ValueError: Invalid mask shape ({m.ndim}D)")


def _positions_1d(ids, pad_value):
    out = np.empty(ids.shape, np.int32)
    prev, cnt = -2, -1
    for i, s in enumerate(ids):
        s = int(s)
        is_pad = s < 0
        is_new = (not is_pad) and s != prev
        cand = 0 if is_new else cnt + 1
        out[i] = pad_value if is_pad else cand
        prev = -2 if is_pad else s
        cnt = -1 if is_pad else cand
    return out


def _positions_from_segments_2d(segment_ids, *, pad_value):
    ids = _i32(segment_ids)
    # DEVIATION (docs/decisions.md, "Positions of per-head (3-D) ids"): the seed scans
    # axis 1, which is the head axis for 3-D ids; maskinfo scans the last axis, per head.
    flat = ids.reshape(-1, ids.shape[-1])
    return np.stack([_positions_1d(r, pad_value) for r in flat]).reshape(ids.shape) if flat.shape[0] else \
        np.zeros(ids.shape, np.int32)


def segment_ids_to_mask(segment_ids, dtype="bool", return_separate_masks=False):
    if isinstance(segment_ids, tuple):
        q_ids, kv_ids = (np.asarray(x) for x in segment_ids)
        q_valid = q_ids > -1
        kv_valid = kv_ids > -1
        q_mask = astype(q_valid, dtype)
        kv_mask = astype(kv_valid, dtype)
        attn = (q_ids[:, :, None] == kv_ids[:, None, :]) & q_valid[:, :, None] & kv_valid[:, None, :]
    else:
        ids = np.asarray(segment_ids)
        q_valid = ids > -1
        q_mask = astype(q_valid, dtype)
        kv_mask = q_mask
        attn = (ids[:, :, None] == ids[:, None, :]) & q_valid[:, :, None] & q_valid[:, None, :]
    attn = astype(attn, dtype)[:, None, :, :]
    if return_separate_masks:
        return q_mask, kv_mask, attn
    return attn


def segment_ids_to_qkv_masks(q_segment_ids, kv_segment_ids=None, dtype="bool"):
    if kv_segment_ids is None:
        kv_segment_ids = q_segment_ids
    return segment_ids_to_mask((q_segment_ids, kv_segment_ids), dtype=dtype, return_separate_masks=True)


def _to_bool_mask(x):
    x = np.asarray(x)
    return x if x.dtype == np.bool_ else (x != 0)


def _attention_mask_to_padding_segment_ids(attention_mask):
    m = _to_bool_mask(attention_mask)
    if m.ndim == 2:
        m = m[None, None]
    elif m.ndim == 3:
        m = m[:, None]
    elif m.ndim != 4:
        raise SeedError("ValueError: attention_mask must be 2D, 3D, or 4D")
    red = np.any(m, axis=1)
    q_valid = np.any(red, axis=-1)
    kv_valid = np.any(red, axis=-2)
    return np.where(q_valid, 0, -1).astype(np.int32), np.where(kv_valid, 0, -1).astype(np.int32)


def _mask_to_start_end(mask):
    mask = np.asarray(mask)
    _b, seq_len = mask.shape
    has_valid = np.any(mask, axis=-1)
    first_valid = np.argmax(mask, axis=-1) if seq_len else np.zeros(_b, np.int64)
    last_from_end = np.argmax(np.flip(mask, axis=-1), axis=-1) if seq_len else np.zeros(_b, np.int64)
    end_pos = seq_len - 1 - last_from_end + 1
    first_valid = np.where(has_valid, first_valid, 0)
    end_pos = np.where(has_valid, end_pos, 0)
    return np.stack([first_valid, end_pos], axis=1).reshape(-1).astype(np.int32)


def qkv_masks_to_cu_seqlens(q_mask, kv_mask=None):
    qb = _to_bool_mask(q_mask)
    kb = qb if kv_mask is None else _to_bool_mask(kv_mask)
    if qb.ndim != 2 or kb.ndim != 2:
        raise SeedError("ValueError: Expected 2D q_mask/kv_mask")
    return _mask_to_start_end(qb), _mask_to_start_end(kb)


def _segment_ids_to_cu_seqlens(segment_ids, max_segments=128):
    flat = np.asarray(segment_ids).reshape(-1)
    counts = np.array([np.sum(flat == s) for s in range(max_segments)], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)


def cu_seqlens_to_mask(cu_seqlens, max_len, dtype="bool"):
    if max_len < 0:
        raise SeedError("ValueError: max_len must be non-negative")
    cu = np.asarray(cu_seqlens)
    if cu.ndim != 1:
        raise SeedError("ValueError: cu_seqlens must be 1D")
    if cu.shape[0] % 2 != 0:
        raise SeedError("ValueError: cu_seqlens must have even length")
    pairs = cu.reshape(-1, 2)
    idx = np.arange(max_len, dtype=np.int32)[None, :]
    mask = (idx >= pairs[:, 0:1]) & (idx < pairs[:, 1:2])
    return astype(mask, dtype)


def qkv_cu_seqlens_to_qkv_masks(cu_seqlens_q, *, max_q_len, cu_seqlens_kv=None, max_kv_len=None, dtype="bool"):
    if max_kv_len is None:
        max_kv_len = max_q_len
    if cu_seqlens_kv is None:
        cu_seqlens_kv = cu_seqlens_q
    q_mask = cu_seqlens_to_mask(cu_seqlens_q, max_q_len)
    kv_mask = cu_seqlens_to_mask(cu_seqlens_kv, max_kv_len)
    return astype(q_mask, dtype), astype(kv_mask, dtype)


def qkv_cu_seqlens_to_attention_mask(cu_seqlens_q, *, max_q_len, cu_seqlens_kv=None, max_kv_len=None,
                                     dtype="bool"):
    q_mask, kv_mask = qkv_cu_seqlens_to_qkv_masks(cu_seqlens_q, max_q_len=max_q_len, cu_seqlens_kv=cu_seqlens_kv,
                                                  max_kv_len=max_kv_len)
    return astype(q_mask[:, None, :, None] & kv_mask[:, None, None, :], dtype)


def attention_mask_to_qkv_cu_seqlens(attention_mask, *, reduce_heads="any"):
    m = _to_bool_mask(attention_mask)
    if m.ndim == 2:
        return qkv_masks_to_cu_seqlens(m)
    if m.ndim == 4:
        if reduce_heads == "first":
            m = m[:, 0]
        elif reduce_heads == "any":
            m = np.any(m, axis=1)
        elif reduce_heads == "all":
            m = np.all(m, axis=1)
        else:
            raise SeedError("ValueError: reduce_heads must be one of ['any','all','first']")
    if m.ndim != 3:
        raise SeedError("ValueError: attention_mask must be 2D, 3D, or 4D")
    return qkv_masks_to_cu_seqlens(np.any(m, axis=-1), np.any(m, axis=-2))


def create_chunked_attention_mask(chunk_size, q_len, kv_len=None, offset=0, dtype="bool"):
    if chunk_size <= 0:
        raise SeedError("ValueError: Invalid chunk_size")
    if kv_len is None:
        kv_len = q_len
    q_idx = np.arange(q_len, dtype=np.int32)
    kv_idx = np.arange(kv_len, dtype=np.int32)
    same = (q_idx[:, None] // chunk_size) == (kv_idx[None, :] // chunk_size)
    causal = kv_idx[None, :] <= (q_idx[:, None] + offset)
    return astype(same & causal, dtype)


def _dyn_start(start, size, dim):
    # jax.lax.dynamic_slice clamps the start so that the slice fits
    if size > dim:
        raise SeedError("TypeError: jax dynamic_slice: slice size larger than the dimension")
    return int(min(max(int(start), 0), dim - size))


def _per_batch(x, b):
    a = np.asarray(x, dtype=np.int64)
    if a.ndim == 0:
        a = np.broadcast_to(a, (b,))
    if a.shape != (b,):
        raise SeedError("broadcast: per-batch parameter has the wrong length")
    return a


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


# ----------------------------------------------------------------------------- MaskInfo
@dataclass
class MaskInfo:
    _attention_mask: object = None
    _q_segment_ids: object = None
    _kv_segment_ids: object = None
    _cu_seqlens_q: object = None
    _cu_seqlens_kv: object = None
    q_positions: object = None
    kv_positions: object = None
    causal_mask_baked_in: bool = False
    sliding_window_baked_in: bool = False
    chunked_mask_baked_in: bool = False
    token_type_ids_baked_in: bool = False
    batch_axis_name: object = field(default=("dp", "fsdp"))
    qheads_axis_name: object = "tp"
    kvheads_axis_name: object = "tp"
    sequence_axis_name: object = "sp"

    def fresh(self):
        return copy.deepcopy(self)

    # ------------------------------------------------------------- properties
    @property
    def attention_mask(self):
        if self._attention_mask is None:
            self._attention_mask = self.get_or_compute_attention_mask()
        return self._attention_mask

    @property
    def q_segment_ids(self):
        if self._q_segment_ids is None:
            self._q_segment_ids, self._kv_segment_ids = self.get_or_compute_segment_ids()
        return self._q_segment_ids

    @property
    def kv_segment_ids(self):
        if self._kv_segment_ids is None:
            self._q_segment_ids, self._kv_segment_ids = self.get_or_compute_segment_ids()
        return self._kv_segment_ids

    @property
    def cu_seqlens_q(self):
        if self._cu_seqlens_q is None or self._cu_seqlens_kv is None:
            self._cu_seqlens_q, self._cu_seqlens_kv = self.get_or_compute_qkv_cu_seqlens()
        return self._cu_seqlens_q

    @property
    def cu_seqlens_kv(self):
        if self._cu_seqlens_q is None or self._cu_seqlens_kv is None:
            self._cu_seqlens_q, self._cu_seqlens_kv = self.get_or_compute_qkv_cu_seqlens()
        return self._cu_seqlens_kv

    @staticmethod
    def _lens(ids):
        if ids is None:
            return None
        ids2 = ids[:, 0, :] if ids.ndim == 3 else ids
        flat = ids2.reshape(-1)
        max_seg = int(np.max(flat))
        if max_seg > 0:
            return np.array([np.sum(flat == s) for s in range(max_seg + 1)], dtype=np.int32)
        return np.sum(ids2 >= 0, axis=-1).astype(np.int32)

    @property
    def q_lens(self):
        return self._lens(self._q_segment_ids)

    @property
    def kv_lens(self):
        return self._lens(self._kv_segment_ids)

    @property
    def is_multi_sequence(self):
        for ids in (self._q_segment_ids, self._kv_segment_ids):
            if ids is not None:
                ids2 = ids[:, 0, :] if ids.ndim == 3 else ids
                return bool(np.max(ids2) > 0)
        return False

    @property
    def baked_in_masks(self):
        return {
            "causal": self.causal_mask_baked_in,
            "sliding_window": self.sliding_window_baked_in,
            "chunked": self.chunked_mask_baked_in,
            "token_type_ids": self.token_type_ids_baked_in,
        }

    @property
    def q_attention_mask(self):
        return np.where(self.q_segment_ids == -1, 0, 1).astype(np.int32)

    @property
    def q_position_ids(self):
        q_seg = self._q_segment_ids
        if q_seg is None:
            q_seg, _ = self.get_or_compute_segment_ids()
        return _positions_from_segments_2d(q_seg, pad_value=-1)

    # ------------------------------------------------------------- materialize
    def materialize_attention_mask(self, dtype="bool"):
        if self._attention_mask is not None:
            if dtname(self._attention_mask) == dtype:
                return self
            return self.replace(attention_mask=astype(self._attention_mask, dtype))
        if self._q_segment_ids is not None and self._kv_segment_ids is not None:
            m = segment_ids_to_mask((self._q_segment_ids, self._kv_segment_ids), dtype=dtype)
            return self.replace(attention_mask=m)
        raise SeedError("ValueError: Cannot materialize attention_mask")

    def materialize_segment_ids(self, per_head=False):
        if self._q_segment_ids is not None and self._kv_segment_ids is not None:
            return self
        if self._attention_mask is None:
            raise SeedError("ValueError: Cannot materialize segment IDs")
        q_ids, kv_ids = mask_to_segment_ids(self._attention_mask, per_head=per_head)
        return self.replace(q_segment_ids=_i32(q_ids), kv_segment_ids=_i32(kv_ids))

    # ------------------------------------------------------------- constructors
    @classmethod
    def from_segments(cls, q_segment_ids, kv_segment_ids=None, q_positions=None, kv_positions=None,
                      is_attn_mask=False, **axes):
        q_segment_ids = _i32(q_segment_ids)
        if kv_segment_ids is not None:
            kv_segment_ids = _i32(kv_segment_ids)
        if kv_segment_ids is None:
            kv_segment_ids = q_segment_ids
        # DEVIATION (docs/decisions.md, "Batch broadcasting"): a batch-1 side is broadcast
        # as upstream does, and the stored ids are repeated to the common batch.
        if q_segment_ids.shape[0] != kv_segment_ids.shape[0]:
            if 1 not in (q_segment_ids.shape[0], kv_segment_ids.shape[0]):
                raise SeedError("ValueError: batch sizes differ")
            b = max(q_segment_ids.shape[0], kv_segment_ids.shape[0])
            q_segment_ids = np.repeat(q_segment_ids, b // q_segment_ids.shape[0], axis=0)
            kv_segment_ids = np.repeat(kv_segment_ids, b // kv_segment_ids.shape[0], axis=0)
        attention_mask = None
        if is_attn_mask:
            pm = q_segment_ids != 0
            kv_pm = kv_segment_ids != 0
            attention_mask = pm[:, None, :, None] & kv_pm[:, None, None, :]
            q_segment_ids = np.where(pm, 0, -1).astype(np.int32)
            kv_segment_ids = np.where(kv_pm, 0, -1).astype(np.int32)
        return cls(_attention_mask=attention_mask, _q_segment_ids=q_segment_ids, _kv_segment_ids=kv_segment_ids,
                   q_positions=q_positions, kv_positions=kv_positions, **axes)

    @classmethod
    def from_attention_mask(cls, attention_mask, q_positions=None, kv_positions=None, *, mask_is_valid=True,
                            **axes):
        m = _to_bool_mask(attention_mask)
        if not mask_is_valid:
            m = ~m
        if m.ndim == 2:
            q_ids = np.where(m, 0, -1).astype(np.int32)
            pairwise = segment_ids_to_mask((q_ids, q_ids), dtype="bool")
            return cls(_attention_mask=pairwise, _q_segment_ids=q_ids, _kv_segment_ids=q_ids,
                       q_positions=q_positions, kv_positions=kv_positions, **axes)
        if m.ndim == 3:
            m = m[:, None, :, :]
        elif m.ndim != 4:
            raise SeedError("ValueError: Invalid attention_mask dimensionality")
        q_ids, kv_ids = _attention_mask_to_padding_segment_ids(m)
        return cls(_attention_mask=m, _q_segment_ids=q_ids, _kv_segment_ids=kv_ids, q_positions=q_positions,
                   kv_positions=kv_positions, **axes)

    @classmethod
    def from_cu_seqlens(cls, cu_seqlens_q, *, max_q_len, cu_seqlens_kv=None, max_kv_len=None, q_positions=None,
                        kv_positions=None, **axes):
        if max_kv_len is None:
            max_kv_len = max_q_len
        if cu_seqlens_kv is None:
            cu_seqlens_kv = cu_seqlens_q
        cu_q = _i32(cu_seqlens_q)
        cu_kv = _i32(cu_seqlens_kv)
        q_mask, kv_mask = qkv_cu_seqlens_to_qkv_masks(cu_q, max_q_len=max_q_len, cu_seqlens_kv=cu_kv,
                                                      max_kv_len=max_kv_len)
        return cls(_attention_mask=None, _q_segment_ids=np.where(q_mask, 0, -1).astype(np.int32),
                   _kv_segment_ids=np.where(kv_mask, 0, -1).astype(np.int32), _cu_seqlens_q=cu_q,
                   _cu_seqlens_kv=cu_kv, q_positions=q_positions, kv_positions=kv_positions, **axes)

    @classmethod
    def from_random(cls, batch_size, q_len, kv_len=None, sparsity=0.5, seed=0, q_positions=None,
                    kv_positions=None, **axes):
        # The seed draws JAX's bits, maskinfo its own (docs/decisions.md): the generator only
        # uses from_random with a replaced mask, so these placeholder bits are never observed.
        if kv_len is None:
            kv_len = q_len
        if not 0.0 <= sparsity <= 1.0:
            raise SeedError("ValueError: Invalid sparsity value")
        rng = np.random.default_rng(seed)
        m = rng.random((batch_size, 1, q_len, kv_len)) < 1.0 - sparsity
        return cls(_attention_mask=m, q_positions=q_positions, kv_positions=kv_positions, **axes)

    @classmethod
    def dynamic_init(cls, *, mask_info=None, input_ids=None, inputs_embeds=None, attention_mask=None):
        if mask_info is not None:
            return mask_info
        if attention_mask is None:
            if input_ids is not None:
                b, s = np.asarray(input_ids).shape
            elif inputs_embeds is not None:
                b, s, _ = np.asarray(inputs_embeds).shape
            else:
                raise SeedError("ValueError: Cannot create MaskInfo: insufficient information provided")
            attention_mask = np.ones((b, s), dtype=bool)
        else:
            attention_mask = np.asarray(attention_mask)
            if attention_mask.dtype != np.bool_:
                attention_mask = attention_mask == 1
        if attention_mask.ndim == 2:
            return MaskInfo.from_segments(attention_mask, is_attn_mask=True)
        return MaskInfo.from_attention_mask(attention_mask)

    # ------------------------------------------------------------- bias
    @property
    def bias(self):
        return self.create_bias()

    def create_bias(self, dtype="float32"):
        mask = self.get_or_compute_attention_mask()
        return astype(np.where(mask, 0.0, FLOAT_MIN[dtype]), dtype)

    # ------------------------------------------------------------- sharding
    def get_shardings(self, sequence_parallel=False, *, mesh):
        batch_axis = self.batch_axis_name
        qheads_axis = self.qheads_axis_name
        seq_axis = self.sequence_axis_name if sequence_parallel else None
        for name_like, label in ((qheads_axis, "qheads_axis_name"), (batch_axis, "batch_axis_name"),
                                 (seq_axis, "sequence_axis_name")):
            if name_like is None:
                continue
            for e in (name_like if isinstance(name_like, tuple) else (name_like,)):
                if e not in mesh:
                    raise SeedError(f"ValueError: Axis '{e}' (from {label}) is not present in the mesh")
        att_seq = seq_axis if sequence_parallel else None
        out = dict.fromkeys(("attention_mask", "q_segment_ids", "kv_segment_ids", "cu_seqlens_q", "cu_seqlens_kv",
                             "q_positions", "kv_positions"))
        if self._attention_mask is not None:
            if self._attention_mask.ndim != 4:
                raise SeedError("ValueError: Attention mask must be a 4D array")
            out["attention_mask"] = corrected_spec(self._attention_mask.shape,
                                                   (batch_axis, qheads_axis, att_seq, None), mesh)
        for key, arr in (("q_segment_ids", self._q_segment_ids), ("kv_segment_ids", self._kv_segment_ids),
                         ("q_positions", self.q_positions), ("kv_positions", self.kv_positions)):
            if arr is not None:
                out[key] = corrected_spec(np.shape(arr), (batch_axis, seq_axis), mesh)
        return out

    # ------------------------------------------------------------- getters
    def get_or_compute_positions(self):
        q_positions, kv_positions = self.q_positions, self.kv_positions
        need_q, need_kv = q_positions is None, kv_positions is None
        if not (need_q or need_kv):
            return q_positions, kv_positions
        if self._q_segment_ids is None or self._kv_segment_ids is None:
            if self._attention_mask is None:
                return q_positions, kv_positions
            self.get_or_compute_segment_ids(per_head=False)
        if need_q and self._q_segment_ids is not None:
            q_positions = _positions_from_segments_2d(self._q_segment_ids, pad_value=-1)
        if need_kv and self._kv_segment_ids is not None:
            kv_positions = _positions_from_segments_2d(self._kv_segment_ids, pad_value=INT32_MAX)
        self.q_positions = q_positions
        self.kv_positions = kv_positions
        return self.q_positions, self.kv_positions

    def get_or_compute_attention_mask(self, dtype="bool"):
        if self._attention_mask is not None:
            return astype(self._attention_mask, dtype)
        if self._q_segment_ids is not None and self._kv_segment_ids is not None:
            self._attention_mask = segment_ids_to_mask((self._q_segment_ids, self._kv_segment_ids), dtype=dtype)
            return self._attention_mask
        raise SeedError("ValueError: Cannot compute attention mask: MaskInfo is empty")

    def get_or_compute_segment_ids(self, per_head=False):
        if self._q_segment_ids is not None and self._kv_segment_ids is not None:
            return self._q_segment_ids, self._kv_segment_ids
        if self._attention_mask is not None:
            q_ids, kv_ids = mask_to_segment_ids(self._attention_mask, per_head=per_head)
            self._q_segment_ids, self._kv_segment_ids = _i32(q_ids), _i32(kv_ids)
            return self._q_segment_ids, self._kv_segment_ids
        raise SeedError("ValueError: Cannot compute segment IDs: MaskInfo is empty")

    def get_qkv_masks(self, dtype="bool"):
        q_ids, kv_ids = self.get_or_compute_segment_ids()
        return segment_ids_to_qkv_masks(q_ids, kv_ids, dtype=dtype)

    def get_or_compute_qkv_cu_seqlens(self, *, max_segments=128):
        cu_q, cu_kv = self._cu_seqlens_q, self._cu_seqlens_kv
        if cu_q is not None and cu_kv is not None:
            return _i32(cu_q), _i32(cu_kv)
        if cu_q is not None or cu_kv is not None:
            one = _i32(cu_q if cu_q is not None else cu_kv)
            self._cu_seqlens_q = self._cu_seqlens_kv = one
            return one, one
        q_ids, kv_ids = self._q_segment_ids, self._kv_segment_ids
        if q_ids is not None and kv_ids is not None:
            q2 = q_ids[:, 0, :] if q_ids.ndim == 3 else q_ids
            k2 = kv_ids[:, 0, :] if kv_ids.ndim == 3 else kv_ids
            cu_q = _segment_ids_to_cu_seqlens(q2, max_segments)
            cu_kv = _segment_ids_to_cu_seqlens(k2, max_segments)
            self._cu_seqlens_q, self._cu_seqlens_kv = cu_q, cu_kv
            return cu_q, cu_kv
        if self._attention_mask is None:
            raise SeedError("ValueError: Cannot compute cu_seqlens: MaskInfo is empty")
        m = self.get_or_compute_attention_mask(dtype="bool")
        cu_q, cu_kv = qkv_masks_to_cu_seqlens(np.any(m, axis=(1, 3)), np.any(m, axis=(1, 2)))
        self._cu_seqlens_q, self._cu_seqlens_kv = cu_q, cu_kv
        return cu_q, cu_kv

    def is_self_attention(self):
        if self._q_segment_ids is not None and self._kv_segment_ids is not None:
            return self._q_segment_ids.shape == self._kv_segment_ids.shape and bool(
                np.array_equal(self._q_segment_ids, self._kv_segment_ids))
        if self._attention_mask is not None:
            s = self._attention_mask.shape
            return s[-2] == s[-1]
        if self._cu_seqlens_q is not None and self._cu_seqlens_kv is not None:
            return bool(np.array_equal(self._cu_seqlens_q, self._cu_seqlens_kv))
        return False

    def to_dtype(self, dtype):
        mask = self.get_or_compute_attention_mask(dtype="bool")
        if dtname(mask) == dtype:
            return self
        return self.replace(attention_mask=astype(mask, dtype))

    @property
    def batch_size(self):
        if self._q_segment_ids is not None:
            return self._q_segment_ids.shape[0]
        if self._attention_mask is not None:
            return self._attention_mask.shape[0]
        if self._cu_seqlens_q is not None:
            return int(self._cu_seqlens_q.shape[0] - 1)
        if self._cu_seqlens_kv is not None:
            return int(self._cu_seqlens_kv.shape[0] - 1)
        return None

    @property
    def q_len(self):
        if self._q_segment_ids is not None:
            return self._q_segment_ids.shape[-1]
        if self._attention_mask is not None:
            return self._attention_mask.shape[-2]
        return None

    @property
    def kv_len(self):
        if self._kv_segment_ids is not None:
            return self._kv_segment_ids.shape[-1]
        if self._attention_mask is not None:
            return self._attention_mask.shape[-1]
        return None

    @property
    def shape(self):
        return (self.batch_size, self.q_len, self.kv_len)

    # ------------------------------------------------------------- ops
    def _kept_positions(self, kv_seg, q_starts, q_size, k_starts, k_size):
        """DEVIATION (docs/decisions.md, "Slices keep positions"): a slice stores the positions
        of the tokens it keeps: the stored ones, or those the stored ids (kv_seg: the key ids
        after any masking) give before the slice.  A side with neither keeps deriving them."""
        ids = self._q_segment_ids is not None and self._kv_segment_ids is not None
        qp, kp = self.q_positions, self.kv_positions
        if ids:
            if qp is None and np.ndim(self._q_segment_ids) == 2:
                qp = _positions_from_segments_2d(self._q_segment_ids, pad_value=-1)
            if kp is None and np.ndim(kv_seg) == 2:
                kp = _positions_from_segments_2d(kv_seg, pad_value=INT32_MAX)
        out = {}

        def cut(arr, starts, size):
            arr = np.asarray(arr)
            return np.stack([arr[b][starts[b]:starts[b] + size] for b in range(arr.shape[0])])

        if q_starts is not None and qp is not None:
            out["q_positions"] = cut(qp, q_starts, q_size)
        if k_starts is not None and kp is not None:
            out["kv_positions"] = cut(kp, k_starts, k_size)
        return out

    def apply_kv_lengths(self, kv_lengths, *, q_len=None, sliding_window=None, end_index=None):
        if q_len is None:
            raise SeedError("ValueError: q_len must be provided.")
        attn = self.get_or_compute_attention_mask(dtype="bool")
        B, _H, Q, K = attn.shape
        kvl = _per_batch(kv_lengths, B)
        # the newest upstream: the query window ends at end_index, and the stored key ids past
        # the lengths become -1; without end_index, the seed's behaviour
        ends = kvl if end_index is None else _per_batch(end_index, B)
        kv_valid = np.arange(K)[None, :] < kvl[:, None]
        attn = attn & kv_valid[:, None, None, :]
        q_seg, kv_seg = self._q_segment_ids, self._kv_segment_ids
        if end_index is not None and kv_seg is not None:
            kv_seg = np.where(kv_valid[:, None, :] if np.ndim(kv_seg) == 3 else kv_valid, kv_seg, -1).astype(np.int32)
        masked_kv = kv_seg
        rows, segs, q_starts, k_starts = [], [], [], None
        for b in range(B):
            start = _dyn_start(np.clip(ends[b] - q_len, 0, max(Q - q_len, 0)), q_len, Q)
            q_starts.append(start)
            rows.append(attn[b][:, start:start + q_len, :])
            if q_seg is not None:
                s0 = _dyn_start(start, q_len, q_seg[b].shape[0])
                segs.append(q_seg[b][s0:s0 + q_len])
        attn = np.stack(rows)
        if q_seg is not None:
            q_seg = np.stack(segs)
        width = K
        if sliding_window is not None:
            width = min(sliding_window, K)
            rows, segs, k_starts = [], [], []
            for b in range(B):
                start = _dyn_start(np.clip(kvl[b] - width, 0, max(K - width, 0)), width, K)
                k_starts.append(start)
                rows.append(attn[b][:, :, start:start + width])
                if kv_seg is not None:
                    s0 = _dyn_start(start, width, kv_seg[b].shape[0])
                    segs.append(kv_seg[b][s0:s0 + width])
            attn = np.stack(rows)
            if kv_seg is not None:
                kv_seg = np.stack(segs)
        pos = self._kept_positions(masked_kv, q_starts, q_len, k_starts, width)
        return self.replace(attention_mask=attn, q_segment_ids=q_seg, kv_segment_ids=kv_seg, **pos)

    def apply_causal(self, offset=0):
        if self.q_len is None or self.kv_len is None:
            raise SeedError("ValueError: Cannot apply causal mask: mask dimensions are unknown.")
        base = self.get_or_compute_attention_mask(dtype="bool")
        B, _H, Q, K = base.shape
        off = _per_batch(offset, B)
        q = np.arange(Q)[None, :, None]
        k = np.arange(K)[None, None, :]
        causal = (k <= q + off[:, None, None])[:, None]
        return self.replace(attention_mask=base & causal, causal_mask_baked_in=True)

    def apply_sliding_window(self, sliding_window, *, offset=0, mode=None, index=None):
        window_is_int = _is_int(sliding_window)
        if window_is_int:
            if sliding_window < 0:
                raise SeedError("ValueError: Invalid sliding_window")
            left = right = int(sliding_window)
        else:
            left, right = sliding_window
            if left < 0 or right < 0:
                raise SeedError("ValueError: Invalid sliding_window")
        if self.q_len is None or self.kv_len is None:
            raise SeedError("ValueError: Cannot apply sliding window: mask dimensions are unknown.")
        if mode == "decode" and index is None:
            raise SeedError("ValueError: index parameter is required when mode='decode'.")
        base = self.get_or_compute_attention_mask(dtype="bool")
        B, H, Q, K = base.shape
        off = _per_batch(offset, B)
        row = off[:, None, None] + np.arange(Q)[None, :, None]
        col = np.arange(K)[None, None, :]
        win = ((col >= row - left) & (col <= row + right))[:, None]
        masked = base & win
        if mode == "decode":
            idx = np.clip(_per_batch(index, B), 0, Q - 1)
            width = min(left + right + 1, K)
            start_k = np.clip(idx - left, 0, max(K - width, 0))
            masked = np.stack([masked[b][:, idx[b]:idx[b] + 1, start_k[b]:start_k[b] + width] for b in range(B)])
            q_seg, kv_seg = self._q_segment_ids, self._kv_segment_ids
            q_pos, kv_pos = self.q_positions, self.kv_positions

            def cut(arr, starts, size):
                arr = np.asarray(arr)
                return np.stack([arr[b][..., starts[b]:starts[b] + size] for b in range(B)])

            if q_seg is not None:
                q_seg = cut(q_seg, idx, 1)
            if kv_seg is not None:
                kv_seg = cut(kv_seg, start_k, width)
            pos = self._kept_positions(self._kv_segment_ids, idx, 1, start_k, width)
            q_pos, kv_pos = pos.get("q_positions"), pos.get("kv_positions")
            return self.replace(attention_mask=masked, q_segment_ids=q_seg, kv_segment_ids=kv_seg, q_positions=q_pos,
                                kv_positions=kv_pos, sliding_window_baked_in=True)
        if mode == "prefill":
            width = min(sliding_window, K) if window_is_int else min(left + right + 1, K)
            start_k = max(K - width, 0)
            masked = masked[:, :, :, start_k:start_k + width]
            kv_seg = self._kv_segment_ids
            kv_pos = self._kept_positions(kv_seg, None, 0, [start_k] * B, width).get("kv_positions")
            if kv_seg is not None:
                kv_seg = kv_seg[..., start_k:start_k + width]
            return self.replace(attention_mask=masked, kv_segment_ids=kv_seg, kv_positions=kv_pos,
                                sliding_window_baked_in=True)
        return self.replace(attention_mask=masked, sliding_window_baked_in=True)

    def apply_chunked(self, chunk_size, offset=0):
        if chunk_size <= 0:
            raise SeedError("ValueError: Invalid chunk_size")
        if self.q_len is None or self.kv_len is None:
            raise SeedError("ValueError: Cannot apply chunked attention: mask dimensions are unknown.")
        base = self.get_or_compute_attention_mask(dtype="bool")
        q_idx = np.arange(self.q_len)
        kv_idx = np.arange(self.kv_len)
        same = (q_idx[:, None] // chunk_size) == (kv_idx[None, :] // chunk_size)
        causal = kv_idx[None, :] <= (q_idx[:, None] + offset)
        attention_mask = base & (same & causal)[None, None]
        q_cur, kv_cur = self.get_or_compute_segment_ids()
        q_pad, kv_pad = q_cur < 0, kv_cur < 0
        b = base.shape[0]
        q_chunk = np.broadcast_to((q_idx // chunk_size + 1)[None, :], (b, self.q_len))
        kv_chunk = np.broadcast_to((kv_idx // chunk_size + 1)[None, :], (b, self.kv_len))
        return self.replace(attention_mask=attention_mask,
                            q_segment_ids=np.where(q_pad, -1, q_chunk).astype(np.int32),
                            kv_segment_ids=np.where(kv_pad, -1, kv_chunk).astype(np.int32),
                            chunked_mask_baked_in=True)

    def apply_token_type_ids(self, token_type_ids, *, combine="union", zero_policy="q", update_segment_ids=None):
        if isinstance(token_type_ids, tuple):
            q_types, kv_types = token_type_ids
        else:
            q_types = kv_types = token_type_ids
        q_types, kv_types = _i32(q_types), _i32(kv_types)
        if q_types.ndim != 2 or kv_types.ndim != 2:
            raise SeedError("ValueError: Invalid token_type_ids shape")
        if q_types.shape[0] != kv_types.shape[0]:
            raise SeedError("ValueError: Batch size mismatch in token_type_ids")
        base = self.get_or_compute_attention_mask(dtype="bool")
        eq = q_types[:, :, None] == kv_types[:, None, :]
        if zero_policy not in ("q", "kv", "both", "none"):
            raise SeedError("ValueError: Invalid zero_policy value")
        if zero_policy in ("q", "both"):
            eq = eq & (q_types != 0)[:, :, None]
        if zero_policy in ("kv", "both"):
            eq = eq & (kv_types != 0)[:, None, :]
        eq4 = eq[:, None]
        if combine == "union":
            new = base | eq4
        elif combine == "intersect":
            new = base & eq4
        elif combine == "replace":
            new = eq4
        else:
            raise SeedError("ValueError: Invalid combine mode")
        if update_segment_ids is None:
            update_segment_ids = combine != "union"
        if update_segment_ids:
            q_seg = np.where(q_types == 0, -1, q_types).astype(np.int32)
            kv_seg = np.where(kv_types == 0, -1, kv_types).astype(np.int32)
        else:
            q_seg, kv_seg = self._q_segment_ids, self._kv_segment_ids
        return self.replace(attention_mask=new, q_segment_ids=q_seg, kv_segment_ids=kv_seg,
                            token_type_ids_baked_in=True)

    # ------------------------------------------------------------- repr, replace
    def __repr__(self):
        def shp(a):
            return str(tuple(int(x) for x in np.shape(a)))
        items = []
        for label, a in (("attention_mask", self._attention_mask), ("q_segment_ids", self._q_segment_ids),
                         ("kv_segment_ids", self._kv_segment_ids), ("cu_seqlens_q", self._cu_seqlens_q),
                         ("cu_seqlens_kv", self._cu_seqlens_kv)):
            if a is not None:
                items.append(f"{label}.shape={shp(a)}")
        items.append(f"self_attn={self.is_self_attention()}")
        baked = [k for k, v in self.baked_in_masks.items() if v]
        if baked:
            items.append(f"baked_in={baked}")
        return f"MaskInfo({', '.join(items)})"

    def replace(self, *, attention_mask=None, q_segment_ids=None, kv_segment_ids=None, cu_seqlens_q=None,
                cu_seqlens_kv=None, **kw):
        rk = {}
        changed = False
        if attention_mask is not None:
            rk["_attention_mask"] = attention_mask
            changed = True
        if q_segment_ids is not None:
            rk["_q_segment_ids"] = q_segment_ids
            changed = True
        if kv_segment_ids is not None:
            rk["_kv_segment_ids"] = kv_segment_ids
            changed = True
        if cu_seqlens_q is not None:
            rk["_cu_seqlens_q"] = cu_seqlens_q
        if cu_seqlens_kv is not None:
            rk["_cu_seqlens_kv"] = cu_seqlens_kv
        if changed and cu_seqlens_q is None and cu_seqlens_kv is None:
            rk["_cu_seqlens_q"] = None
            rk["_cu_seqlens_kv"] = None
        rk.update(kw)
        return dataclass_replace(self, **rk)

    # ------------------------------------------------------------- visualize
    def visualize(self, block_size=32, batch=0, head=0, fit_in_screen=True, max_rows=32, max_cols=64,
                  charset="unicode", show_segments=True):
        """The seed's visualize(return_str=True)."""
        m = self.get_or_compute_attention_mask(dtype="bool")
        if m.ndim == 3:
            m = m[:, None]
        B, H, _q, _k = m.shape
        if not (0 <= batch < B) or not (0 <= head < H):
            raise SeedError("IndexError: index out of range")
        attn = np.asarray(m[batch, head])
        q_block, kv_block = (block_size, block_size) if _is_int(block_size) else block_size
        q_block, kv_block = max(int(q_block), 1), max(int(kv_block), 1)
        cls, ratio = _block_classify(attn, q_block, kv_block)
        block_rows, block_cols = cls.shape
        q_lbl = kv_lbl = None
        if show_segments:
            def side(stored, which):
                if stored is not None:
                    ids_all = np.asarray(stored)
                else:
                    ids_all = np.asarray(mask_to_segment_ids(m, per_head=(H > 1))[which])
                return ids_all[batch, head] if ids_all.ndim == 3 else ids_all[batch]
            q_lbl = _segment_block_labels(side(self._q_segment_ids, 0), q_block)
            kv_lbl = _segment_block_labels(side(self._kv_segment_ids, 1), kv_block)
        if fit_in_screen:
            rows_step = int(max(np.ceil(block_rows / max_rows), 1))
            cols_step = int(max(np.ceil(block_cols / max_cols), 1))
            if rows_step > 1 or cols_step > 1:
                rpad = (-ratio.shape[0]) % rows_step
                cpad = (-ratio.shape[1]) % cols_step
                if rpad or cpad:
                    ratio = np.pad(ratio, ((0, rpad), (0, cpad)), constant_values=0.0)
                nr, nc = ratio.shape[0] // rows_step, ratio.shape[1] // cols_step
                ratio = ratio.reshape(nr, rows_step, nc, cols_step).mean(axis=(1, 3))
                eps = 1e-6
                cls = np.where(ratio >= 1.0 - eps, 2, np.where(ratio <= eps, 0, 1)).astype(np.int32)
                block_rows, block_cols = cls.shape
                if show_segments and q_lbl is not None and kv_lbl is not None:
                    q_lbl = _downsample_labels(q_lbl, rows_step)
                    kv_lbl = _downsample_labels(kv_lbl, cols_step)
        chars = {0: "  ", 1: ".." if charset == "ascii" else "\u2591\u2591",
                 2: "##" if charset == "ascii" else "\u2588\u2588"}
        lines = ["".join(chars[int(v)] for v in cls[r]) for r in range(block_rows)]
        left_width = 6 if show_segments else 0
        width_cells = len(lines[0]) // 2 if lines else 0
        top_bot = "==" * width_cells
        shape_s = str(tuple(int(x) for x in m.shape))
        out = f"Attention mask (batch={batch}, head={head}) block=({q_block}x{kv_block}) mask_shape={shape_s}\n"
        if show_segments and kv_lbl is not None and block_cols > 0:
            out += " " * (left_width + 3) + "".join(_two_char(int(x)) for x in kv_lbl) + "\n"
        out += " " * left_width + "  " + top_bot + "  \n"
        for r, line in enumerate(lines):
            if show_segments and q_lbl is not None:
                out += _left_label(int(q_lbl[r]), left_width) + " "
            else:
                out += " " * left_width
            out += "||" + line + "||\n"
        out += " " * left_width + "  " + top_bot + "  \n"
        out += "Legend mask: full='\u2588\u2588'/##, partial='\u2591\u2591'/.., empty='  '\n"
        if show_segments:
            out += "Legend seg: left=Q block ID, top=KV block ID, PAD=-1, MIX=??\n"
        return out


def corrected_spec(shape, spec, mesh):
    """The seed's get_corrected_named_sharding(...).spec as a list (None for a replicated axis);
    [] stands for PartitionSpec()."""
    entries = list(spec)[:len(shape)] + [None] * max(0, len(shape) - len(spec))
    out = []
    for dim, entry in zip(shape, entries):
        if entry is None:
            out.append(None)
            continue
        names = entry if isinstance(entry, tuple) else (entry,)
        if any(n not in mesh for n in names):
            out.append(None)
            continue
        total = int(np.prod([mesh[n] for n in names]))
        out.append(entry if total > 0 and dim % total == 0 else None)
    # JAX's NamedSharding refuses a spec that names one mesh axis twice (DuplicateSpecError)
    used = [n for e in out if e is not None for n in (e if isinstance(e, tuple) else (e,))]
    if len(used) != len(set(used)):
        raise SeedError("DuplicateSpecError: a mesh axis is used for two dimensions")
    return out if any(e is not None for e in out) else []


def _block_classify(arr, r_b, c_b):
    Q, K = arr.shape
    pad_q, pad_k = (-Q) % r_b, (-K) % c_b
    if pad_q or pad_k:
        arr = np.pad(arr, ((0, pad_q), (0, pad_k)), constant_values=False)
    nrb, ncb = arr.shape[0] // r_b, arr.shape[1] // c_b
    counts = arr.reshape(nrb, r_b, ncb, c_b).sum(axis=(1, 3)).astype(np.float32)
    ratio = counts / float(r_b * c_b)
    eps = 1e-8
    cls = np.where(ratio >= 1.0 - eps, 2, np.where(ratio <= eps, 0, 1)).astype(np.int32)
    return cls, ratio


def _segment_block_labels(ids, block):
    ids = np.asarray(ids)
    pad = (-len(ids)) % block
    if pad:
        ids = np.pad(ids, (0, pad), constant_values=-1)
    blk = ids.reshape(ids.shape[0] // block, block)
    same = np.all(blk == blk[:, :1], axis=1)
    return np.where(same, blk[:, 0], -2)


def _downsample_labels(labels, step):
    if step <= 1:
        return labels
    pad = (-len(labels)) % step
    if pad:
        labels = np.pad(labels, (0, pad), constant_values=-1)
    grp = labels.reshape(labels.shape[0] // step, step)
    same = np.all(grp == grp[:, :1], axis=1)
    return np.where(same, grp[:, 0], -2)


def _two_char(label):
    if label == -1:
        return "  "
    if label == -2:
        return "??"
    return f"{int(label) % 100:02d}"


def _left_label(label, width=6):
    s = "PAD" if label == -1 else "MIX" if label == -2 else str(int(label))
    return f"{s:>{width}}"
