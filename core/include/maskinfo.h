/*
 * maskinfo.h - attention masks in compact form, and the forms derived from them.
 *
 * The core knows nothing of Lua.  Every function returns an int status
 * (MASKINFO_OK == 0) and reports through out-parameters; maskinfo_strerror()
 * turns a status into a message.  Objects are opaque.  There is no global
 * state: settings such as the memory guard travel in the objects.
 *
 * Coordinates are 0-based: b (batch), h (head), q (query row), k (key column).
 * A mask is a logical boolean tensor of shape (B, H, Q, K).  It is stored as an
 * immutable, reference-counted expression whose every row (b, h, q) evaluates
 * to a sorted list of disjoint half-open key intervals [lo, hi).  Structured
 * masks (segments, causal, windows, chunks, lengths) therefore cost O(tokens)
 * memory; only arbitrary masks (dense leaves) hold B*H*Q*K bits.
 */
#ifndef MASKINFO_H
#define MASKINFO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */
#define MASKINFO_VERSION_MAJOR 0
#define MASKINFO_VERSION_MINOR 2
#define MASKINFO_VERSION_PATCH 0
#define MASKINFO_VERSION_STRING "0.2.0"
/* The version of the library linked in (may differ from the header's). */
const char *maskinfo_version(void);

/* ---------------------------------------------------------------- status */
typedef enum {
    MASKINFO_OK = 0,
    MASKINFO_ENOMEM,     /* an allocation failed */
    MASKINFO_EINVAL,     /* an argument is out of its domain */
    MASKINFO_ESHAPE,     /* shapes do not agree */
    MASKINFO_EOVERFLOW,  /* a size computation overflows */
    MASKINFO_ETOOBIG,    /* refused by the memory guard before allocating */
    MASKINFO_EIO,        /* a file could not be written; errno says why */
    MASKINFO_EPNG,       /* libpng reported an error */
    MASKINFO_EDTYPE,     /* the dtype does not fit the operation */
    MASKINFO_EIMAGE      /* an image side is past the renderer's limit */
} maskinfo_status;

const char *maskinfo_strerror(int status);
/* The status' enumerator name without the prefix ("OK", "EIO", ...), or NULL
 * past the last one; bindings export the table from this. */
const char *maskinfo_status_name(int status);

/* ---------------------------------------------------------------- dtypes */
typedef enum {
    MASKINFO_BOOL = 0,
    MASKINFO_INT32,
    MASKINFO_FLOAT32,
    MASKINFO_FLOAT16,
    MASKINFO_BFLOAT16,
    MASKINFO_INT64,      /* exact counts (count per head); not a mask dtype */
    MASKINFO_UINT8       /* block classes (0 empty, 1 partial, 2 full) */
} maskinfo_dtype;

#define MASKINFO_MAX_DIMS 8

const char *maskinfo_dtype_name(maskinfo_dtype dt);
size_t maskinfo_dtype_size(maskinfo_dtype dt);
/* -1 if unknown */
int maskinfo_dtype_from_name(const char *name);
/* Number of dtypes: maskinfo_dtype values are 0 .. count-1 (bindings export
 * the dtype table from this and maskinfo_dtype_name). */
int maskinfo_dtype_count(void);

/* Half-precision conversions (round to nearest even). */
uint16_t maskinfo_f32_to_f16(float f);
float maskinfo_f16_to_f32(uint16_t h);
uint16_t maskinfo_f32_to_bf16(float f);
float maskinfo_bf16_to_f32(uint16_t h);

/* ---------------------------------------------------------------- guard */
/* Largest allocation (bytes) the core will make.  0 means the default of
 * 12 GiB, and so does a NULL limits pointer.  Every function that takes a
 * limit checks each of its allocations against it before making it, its
 * per-row and per-thread work buffers included (per-thread ones one
 * thread's worth at a time, so a refusal does not depend on the thread
 * count): a refusal is MASKINFO_ETOOBIG.  (The Lua binding reads
 * MASKINFO_MAX_BYTES from the environment; the core reads no environment.) */
typedef struct {
    uint64_t max_bytes;
} maskinfo_limits;
/* The limit when max_bytes is 0 or the pointer NULL: 12 GiB. */
#define MASKINFO_DEFAULT_MAX_BYTES (UINT64_C(12) << 30)

/* What the guard charges per row of an array or a mask besides its cells
 * (rows are walked even when they hold no cell: a (2^40, 0) shape is not
 * free).  An array's rows are the product of its extents but the last, a
 * mask's its B * H * Q (each extent at least 1). */
#define MASKINFO_ROW_BYTES 8

/* MASKINFO_OK if n elements of size sz fit under the guard; never allocates. */
int maskinfo_check_alloc(const maskinfo_limits *lim, uint64_t n, uint64_t sz);

/* A byte count as MASKINFO_MAX_BYTES spells it: decimal digits, then
 * nothing, K, M, G or T, or KiB, MiB, GiB or TiB (all powers of 1024:
 * "64M" and "64MiB" are 67108864).  Nothing else is accepted (no sign,
 * space, fraction or exponent): MASKINFO_EINVAL; a value past INT64_MAX is
 * MASKINFO_EOVERFLOW.  *out is set only on MASKINFO_OK.  One parser for
 * every reader of the variable (the binding at load and set_memory_limit). */
int maskinfo_parse_bytes(const char *text, uint64_t *out);

/* ---------------------------------------------------------------- arrays */
/* A dense n-d array (row-major).  bool is one byte per element (0/1);
 * float16 and bfloat16 are stored as their 16-bit patterns. */
typedef struct maskinfo_array maskinfo_array;

int maskinfo_array_new(maskinfo_array **out, maskinfo_dtype dt, int ndim,
                       const int64_t *shape, const maskinfo_limits *lim);
void maskinfo_array_free(maskinfo_array *a);
int maskinfo_array_ndim(const maskinfo_array *a);
const int64_t *maskinfo_array_shape(const maskinfo_array *a);
maskinfo_dtype maskinfo_array_dtype(const maskinfo_array *a);
int64_t maskinfo_array_size(const maskinfo_array *a);
void *maskinfo_array_data(maskinfo_array *a);
const void *maskinfo_array_cdata(const maskinfo_array *a);
/* Element i (flat index) as a double; bool -> 0/1, halves widened. */
double maskinfo_array_get(const maskinfo_array *a, int64_t i);
/* Store v at flat index i, converting to the array's dtype. */
void maskinfo_array_set(maskinfo_array *a, int64_t i, double v);
/* A new array with the same shape in dtype dt (bool: v != 0). */
int maskinfo_array_astype(const maskinfo_array *a, maskinfo_dtype dt,
                          maskinfo_array **out, const maskinfo_limits *lim);
/* 1 if shape, dtype and values agree. */
int maskinfo_array_equal(const maskinfo_array *a, const maskinfo_array *b);
int maskinfo_array_copy(const maskinfo_array *a, maskinfo_array **out,
                        const maskinfo_limits *lim);
/* Reinterpret the shape (same element count). */
int maskinfo_array_reshape(maskinfo_array *a, int ndim, const int64_t *shape);

/* ---------------------------------------------------------------- masks */
typedef struct maskinfo_mask maskinfo_mask;

/* Reference counting: every constructor returns a mask with one reference. */
maskinfo_mask *maskinfo_mask_ref(maskinfo_mask *m);
void maskinfo_mask_unref(maskinfo_mask *m);
/* Shape (B, H, Q, K). */
void maskinfo_mask_shape(const maskinfo_mask *m, int64_t shape[4]);
/* 1 if the mask holds a dense (bit-packed) leaf anywhere. */
int maskinfo_mask_is_dense(const maskinfo_mask *m);
/* Bytes held by the expression, each distinct node counted once however
 * many paths reach it (for docs, tests and the guard); UINT64_MAX if the
 * walk itself runs out of memory. */
uint64_t maskinfo_mask_bytes(const maskinfo_mask *m);

/* All cells set to value (0 or 1). */
int maskinfo_mask_constant(maskinfo_mask **out, int64_t B, int64_t H, int64_t Q,
                           int64_t K, int value);

/* Segment equality: cell (b,h,q,k) is allowed iff qv[b,hq,q] == kv[b,hk,k]
 * where hq = (Hq == 1 ? 0 : h), likewise hk.  Values equal to
 * MASKINFO_NOMATCH_Q / MASKINFO_NOMATCH_KV never match anything.  The arrays
 * are copied.  qv has shape (B, Hq, Q), kv has shape (B, Hk, K); H of the
 * result is max(Hq, Hk) (the other must be 1). */
#define MASKINFO_NOMATCH_Q INT64_MIN
#define MASKINFO_NOMATCH_KV (INT64_MIN + 1)
int maskinfo_mask_segments(maskinfo_mask **out, int64_t B, int64_t Hq,
                           int64_t Hk, int64_t Q, int64_t K,
                           const int64_t *qv, const int64_t *kv);
/* How maskinfo_mask_segments_i32 reads an int32 id: as a segment (< 0 never
 * matches), as a token type with 0 disabled, or as any value that matches
 * its equal. */
typedef enum {
    MASKINFO_IDS_SEGMENT,
    MASKINFO_IDS_NONZERO,
    MASKINFO_IDS_ALL
} maskinfo_ids_mode;
/* maskinfo_mask_segments from int32 ids read through the modes: the same
 * mask as widening them to int64 with the no-match values first, without
 * the copies (the kv ids are only read). */
int maskinfo_mask_segments_i32(maskinfo_mask **out, int64_t B, int64_t Hq,
                               int64_t Hk, int64_t Q, int64_t K,
                               const int32_t *qv, maskinfo_ids_mode qmode,
                               const int32_t *kv, maskinfo_ids_mode kvmode);

/* Dense leaf from bytes (nonzero = allowed), shape (B, H, Q, K). */
int maskinfo_mask_from_bytes(maskinfo_mask **out, int64_t B, int64_t H,
                             int64_t Q, int64_t K, const uint8_t *cells,
                             const maskinfo_limits *lim);
/* Dense leaf from an array of any dtype (nonzero = allowed), 4-D. */
int maskinfo_mask_from_array(maskinfo_mask **out, const maskinfo_array *a,
                             const maskinfo_limits *lim);
/* Dense random leaf: each cell allowed with probability p; deterministic in
 * seed and independent of the thread count. */
int maskinfo_mask_random(maskinfo_mask **out, int64_t B, int64_t H, int64_t Q,
                         int64_t K, double p, uint64_t seed,
                         const maskinfo_limits *lim);
/* Row-interval leaf: for row r = (b*H + h)*Q + q, intervals
 * iv[2*j], iv[2*j+1] for j in [offsets[r], offsets[r+1]).  Intervals may be
 * unsorted or overlapping and are clipped to [0, K); they are normalised. */
int maskinfo_mask_from_intervals(maskinfo_mask **out, int64_t B, int64_t H,
                                 int64_t Q, int64_t K, const int64_t *offsets,
                                 const int64_t *iv, const maskinfo_limits *lim);

/* ---- rule leaves (leaves.c).  Per-batch parameters are arrays of length B, or
 * NULL for 0.  Per-head parameters are arrays of length H. */
/* k <= q + off[b] */
int maskinfo_mask_causal(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                         const int64_t *off);
/* q+off[b]-left[h] <= k <= q+off[b]+right[h]; left/right have nh entries
 * (1 or H); the result has H = nh. */
int maskinfo_mask_window(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                         int64_t nh, const int64_t *left, const int64_t *right,
                         const int64_t *off);
/* q/chunk == k/chunk (floor division) and k <= q + off[b] */
int maskinfo_mask_chunked(maskinfo_mask **out, int64_t B, int64_t Q, int64_t K,
                          int64_t chunk, const int64_t *off);
/* lo[b] <= k < hi[b] on every row (NULL lo = 0) */
int maskinfo_mask_key_range(maskinfo_mask **out, int64_t B, int64_t Q,
                            int64_t K, const int64_t *lo, const int64_t *hi);

/* ---- algebra (ops.c).  Shapes must agree in Q and K; B and H must agree
 * or one side has 1 there (broadcast).  a & a and a | a give a (one more
 * reference), ~~a gives a: the values are the same.  Expressions of any
 * depth evaluate and free without recursion, and a node reached along
 * several paths is evaluated once per row (eval.c). */
int maskinfo_mask_and(maskinfo_mask **out, maskinfo_mask *a, maskinfo_mask *b);
int maskinfo_mask_or(maskinfo_mask **out, maskinfo_mask *a, maskinfo_mask *b);
int maskinfo_mask_not(maskinfo_mask **out, maskinfo_mask *a);
int maskinfo_mask_andnot(maskinfo_mask **out, maskinfo_mask *a,
                         maskinfo_mask *b);
/* Heads side by side: every part has H == 1 and the same B, Q, K. */
int maskinfo_mask_stack_heads(maskinfo_mask **out, maskinfo_mask **parts,
                              int64_t n);
/* Broadcast a mask with B == 1 or H == 1 to (B, H). */
int maskinfo_mask_broadcast(maskinfo_mask **out, maskinfo_mask *a, int64_t B,
                            int64_t H);
/* A view: new row (b,h,q) is old row (b,h,q + qstart[b]) and new key k is
 * old key k + kstart[b]; the new shape is (B, H, newQ, newK).  NULL starts
 * are 0.  Every window must lie inside the old mask. */
int maskinfo_mask_slice(maskinfo_mask **out, maskinfo_mask *a,
                        const int64_t *qstart, int64_t newQ,
                        const int64_t *kstart, int64_t newK);

/* ---- evaluation (eval.c) */
/* Intervals of one row.  *iv points into the caller-owned scratch and stays
 * valid until the next call with the same scratch, which grows under the
 * default memory guard. */
typedef struct maskinfo_scratch maskinfo_scratch;
maskinfo_scratch *maskinfo_scratch_new(void);
void maskinfo_scratch_free(maskinfo_scratch *s);
int maskinfo_mask_row(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                      maskinfo_scratch *s, const int64_t **iv, int64_t *n);
int maskinfo_mask_get(const maskinfo_mask *m, int64_t b, int64_t h, int64_t q,
                      int64_t k, int *value);

/* ---- reductions (reduce.c) */
/* Allowed-cell count; per_head (B*H entries) may be NULL. Parallel. */
int maskinfo_mask_count(const maskinfo_mask *m, uint64_t *total,
                        uint64_t *per_head, const maskinfo_limits *lim);
/* Rows (b,h,q) with no allowed key: count, and flags (B*H*Q bytes) or NULL. */
int maskinfo_mask_empty_rows(const maskinfo_mask *m, uint64_t *count,
                             uint8_t *flags, const maskinfo_limits *lim);
/* Number of differing cells and the first one (row-major), or -1s. */
int maskinfo_mask_diff(const maskinfo_mask *a, const maskinfo_mask *b,
                       uint64_t *ndiff, int64_t first[4], const maskinfo_limits *lim);

/* Fill a dense array of dtype dt and shape (B,H,Q,K): allowed -> 1, else 0
 * (float dtypes get 1.0/0.0).  The guard is checked before allocating. */
int maskinfo_mask_to_array(const maskinfo_mask *m, maskinfo_dtype dt,
                           maskinfo_array **out, const maskinfo_limits *lim);
/* Additive bias: allowed -> 0, masked -> the dtype's lowest finite value. */
int maskinfo_mask_to_bias(const maskinfo_mask *m, maskinfo_dtype dt,
                          maskinfo_array **out, const maskinfo_limits *lim);

/* Counts of allowed cells in a grid over one (b, h) plane.  Row bucket i
 * covers queries [row_edges[i], row_edges[i+1]), column bucket j covers keys
 * [col_edges[j], col_edges[j+1]); edges are non-decreasing and lie in
 * [0, Q] / [0, K].  counts has nrows*ncols entries.  Cost O(rows * runs *
 * log ncols + nrows * ncols); never expands the mask. */
int maskinfo_mask_grid_counts(const maskinfo_mask *m, int64_t b, int64_t h,
                              const int64_t *row_edges, int64_t nrows,
                              const int64_t *col_edges, int64_t ncols,
                              uint64_t *counts, const maskinfo_limits *lim);

/* ---------------------------------------------------------------- conversions */
/* (conversions.c) */
/* Rows (per (b, h)) with identical key patterns share an id numbered by first
 * appearance; empty rows get -1.  Columns likewise.  If per_head, q_ids is
 * (B, H, Q) and kv_ids is (B, H, K); else only head 0 is used and they are
 * (B, Q) / (B, K).  Rows are hashed (128 bits), never compared pairwise. */
int maskinfo_mask_segment_ids(const maskinfo_mask *m, int per_head,
                              int32_t *q_ids, int32_t *kv_ids, const maskinfo_limits *lim);
/* How validity reduces the heads of a multi-head mask. */
typedef enum {
    MASKINFO_HEADS_ANY = 0,
    MASKINFO_HEADS_ALL,
    MASKINFO_HEADS_FIRST
} maskinfo_head_mode;
/* Validity: q_valid[b*Q+q] = any key over all heads; kv_valid[b*K+k] = any
 * query over all heads (bytes). head_mode reduces the heads first (the
 * pairwise rule is then applied to the reduced (B, Q, K) mask). */
int maskinfo_mask_validity(const maskinfo_mask *m, maskinfo_head_mode head_mode,
                           uint8_t *q_valid, uint8_t *kv_valid, const maskinfo_limits *lim);
/* Dense input (leaf_dense.c): a dense leaf of shape (B, H, Q, K) = shape read
 * in place from the cells of a, which may have any rank and dtype but must
 * hold B*H*Q*K elements (else MASKINFO_ESHAPE); non-zero is allowed, or
 * disallowed when invert is set (the complement costs nothing extra).  The
 * bit-packed leaf is the only copy made. */
int maskinfo_mask_from_array_as(maskinfo_mask **out, const maskinfo_array *a,
                                const int64_t shape[4], int invert,
                                const maskinfo_limits *lim);
/* Spans of valid tokens: out[2r], out[2r+1] are the first and one past the
 * last non-zero byte of row r of a rows x len byte array (len fits int32);
 * 0, 0 for a row with none. */
void maskinfo_valid_spans(const uint8_t *valid, int64_t rows, int64_t len, int32_t *out);
/* The padding mask of spans: row r of the rows x len bytes is 1 in
 * [pairs[2r], pairs[2r+1]) clipped to [0, len), else 0. */
void maskinfo_spans_to_valid(const int64_t *pairs, int64_t rows, int64_t len, uint8_t *out);
/* Positions restarting at each segment; padding (id < 0) gets pad. */
void maskinfo_positions_from_segments(const int32_t *ids, int64_t rows,
                                      int64_t len, int32_t pad, int32_t *out);

/* ---------------------------------------------------------------- renderers */
/* The seed's visualize(return_str=True) text (render_text.c). */
typedef struct {
    int64_t block_q, block_kv; /* >= 1 */
    int64_t batch, head;
    int fit_in_screen;
    int64_t max_rows, max_cols; /* >= 1 */
    int ascii;                  /* 0 unicode, 1 ascii */
    int show_segments;
} maskinfo_text_opts;
/* q_ids (Q entries) and kv_ids (K entries) are the segment ids of the plane
 * shown; they may be NULL when show_segments is 0.  shape_str is what the
 * header prints after mask_shape=, e.g. "(1, 1, 8, 8)".  *out is malloc'd. */
int maskinfo_render_text(const maskinfo_mask *m, const maskinfo_text_opts *o,
                         const int32_t *q_ids, const int32_t *kv_ids,
                         const char *shape_str, char **out, size_t *len, const maskinfo_limits *lim);

/* Figures: PNG and SVG heatmaps (layout.c and annotate.c lay a figure out;
 * render_png.c and render_svg.c draw it; text_ft.c sets the type).  No
 * image side may pass this (libpng's default user limit); past it the
 * renderers return MASKINFO_EIMAGE. */
#define MASKINFO_MAX_IMAGE_SIDE 1000000

typedef enum { MASKINFO_CMAP_GREY = 0, MASKINFO_CMAP_VIRIDIS, MASKINFO_CMAP_MAGMA } maskinfo_colormap;
typedef enum {
    MASKINFO_GRID_AUTO = -1,  /* lines where blocks stay wide enough */
    MASKINFO_GRID_OFF = 0,
    MASKINFO_GRID_ON = 1
} maskinfo_grid_lines;
/* How a pixel covering several cells is coloured: by the exact fraction of
 * allowed cells, drawn full if any cell is allowed, or only if all are. */
typedef enum { MASKINFO_AGG_MEAN = 0, MASKINFO_AGG_ANY, MASKINFO_AGG_ALL } maskinfo_aggregate;
typedef enum { MASKINFO_FORMAT_PNG = 0, MASKINFO_FORMAT_SVG } maskinfo_image_format;
/* One panel.  Zero-initialised fields mean "off" / "all" / "none". */
typedef struct {
    int64_t batch, head;
    int64_t scale;            /* pixels per cell; 0 = use width/height */
    int64_t width, height;    /* heatmap size when scale == 0, both honoured;
                                 one of them 0 follows the aspect ratio */
    int plain;                /* heatmap only */
    maskinfo_colormap cmap;
    const char *title;        /* may be NULL; UTF-8, wraps, honours \n */
    int show_segments;        /* draw segment boundaries and ids */
    const int32_t *q_ids;     /* Q entries or NULL; id < 0 is padding (hatched) */
    const int32_t *kv_ids;    /* K entries or NULL */
    maskinfo_grid_lines grid_lines;
    maskinfo_aggregate aggregate;
    int64_t q_range[2], kv_range[2]; /* cells [lo, hi) shown; {0, 0} = all */
    int64_t q_offset, kv_offset;     /* added to the axis labels */
    const int32_t *q_bands, *kv_bands; /* category per token (Q / K) or NULL */
    const char *const *q_labels;     /* per token (Q entries) or NULL */
    const char *const *kv_labels;    /* per token (K entries) or NULL */
    int64_t block_q, block_kv;       /* kernel-block overlay; 0 = none */
    const maskinfo_mask *diff;       /* a diff panel: the second mask, or NULL */
} maskinfo_png_opts;
/* The whole figure. */
typedef struct {
    maskinfo_image_format format;
    const char *title;        /* over all panels, or NULL */
    double dpi;               /* text is sized in points at this many pixels
                                 per inch; 0 = the largest heatmap's long
                                 side spans 2.7 inches (at least 96 dpi) */
    double font_scale;        /* multiplies every text size; 0 = 1 */
    const char *font;         /* TrueType file; NULL = $MASKINFO_FONT, else
                                 DejaVu Sans; the bitmap font if it fails */
    int legend;               /* one legend or colour bar for the figure */
    int png_level;            /* zlib level 1-9 of a PNG (and of an SVG's
                                 embedded heatmap); 0 = 1 with no row filters
                                 (fast); 6 and up also use row filters
                                 (about half the bytes, for repositories) */
} maskinfo_figure_opts;
/* Panels in rows of `columns` (0: one row), atomically written to path in
 * fig->format.  Out-of-domain options are MASKINFO_EINVAL.  A side past
 * MASKINFO_MAX_IMAGE_SIDE pixels (margins included) is MASKINFO_EIMAGE;
 * MASKINFO_ETOOBIG is the memory guard alone, checked first.  MASKINFO_EIO
 * with errno set when the file cannot be written. */
int maskinfo_render_figure(const maskinfo_mask *const *ms, const maskinfo_png_opts *opts,
                           int64_t n, int64_t columns, const maskinfo_figure_opts *fig,
                           const char *path, int64_t *width, int64_t *height,
                           const maskinfo_limits *lim);
/* 0 when FreeType loads path as a scalable font (what the font option
 * needs); else -1 with the reason, the OS's or FreeType's, in why[n].  The
 * renderers themselves fall back to the bitmap font; callers that name a
 * font check it with this first. */
int maskinfo_font_check(const char *path, char *why, size_t n);
/* PNG figures with a legend and the default type. */
int maskinfo_render_png(const maskinfo_mask *m, const char *path,
                        const maskinfo_png_opts *o, int64_t *width,
                        int64_t *height, const maskinfo_limits *lim);
int maskinfo_render_png_grid(const maskinfo_mask *const *ms,
                             const maskinfo_png_opts *opts, int64_t n,
                             int64_t columns, const char *path,
                             int64_t *width, int64_t *height,
                             const maskinfo_limits *lim);

/* ---------------------------------------------------------------- exports */
/* (export.c)  Files are written atomically: a temporary file in the same
 * folder, fsync, rename; a failure leaves no file behind and an existing
 * file untouched (MASKINFO_EIO).  On MASKINFO_EIO errno holds the reason of
 * the system call that failed (ENOENT for a missing folder, EISDIR for a
 * folder as target, ...), kept across the cleanup, for strerror(errno). */

/* NumPy .npy (format 1.0, C order, little-endian): bool |b1, int32 <i4,
 * int64 <i8, uint8 |u1, float32 <f4, float16 <f2.  bfloat16 has no NumPy
 * dtype: MASKINFO_EDTYPE (use safetensors). */
int maskinfo_write_npy(const maskinfo_array *a, const char *path);

/* safetensors: n arrays under unique, non-empty UTF-8 names (BOOL, I32,
 * I64, U8, F32, F16, BF16), header keys in the given order after
 * "__metadata__" (so that name is reserved); the data buffer starts on an
 * 8-byte boundary and the tensors follow each other without gaps. */
int maskinfo_write_safetensors(const char *const *names,
                               const maskinfo_array *const *arrays, int64_t n,
                               const char *path);

/* len bytes of data as they are (the CLI's JSON export), atomically. */
int maskinfo_write_bytes(const void *data, size_t len, const char *path);

/* ---- block forms (blocks.c) */
/* Block classes (the values of maskinfo_mask_block_classes' array). */
typedef enum {
    MASKINFO_BLOCK_EMPTY = 0,
    MASKINFO_BLOCK_PARTIAL = 1,
    MASKINFO_BLOCK_FULL = 2
} maskinfo_block_class;

/* Block classes of every (b, h) plane for blocks of bq x bk cells: a uint8
 * array (B, H, ceil(Q/bq), ceil(K/bk)) with 0 = no allowed cell, 2 = every
 * cell of the block allowed (a tail block counts only its cells inside the
 * mask), 1 = partial.  Never expands the mask: a block row whose rows
 * have closed forms (rule leaves and packed documents under `and`) costs
 * O(its pieces + its non-empty blocks), any other O(rows * runs); only
 * non-empty blocks are written, so a banded output's untouched pages are
 * never mapped. */
int maskinfo_mask_block_classes(const maskinfo_mask *m, int64_t bq, int64_t bk,
                                maskinfo_array **out, const maskinfo_limits *lim);

/* FlexAttention BlockMask tables from block classes (B, H, R, C):
 * num (B, H, R) int32 = number of blocks of the wanted class in each row;
 * idx (B, H, R, C) int32 = per row, the column indices of those blocks in
 * ascending order, then every other column in ascending order (a stable
 * descending argsort, as torch's _dense_to_ordered).  want_class is 1
 * (partial: kv_num_blocks / kv_indices) or 2 (full: full_kv_*).  With
 * transpose, rows and columns swap: (B, H, C) and (B, H, C, R), the q-side
 * tables (q_num_blocks / q_indices). */
int maskinfo_block_table(const maskinfo_array *classes,
                         maskinfo_block_class want_class,
                         int transpose, maskinfo_array **num,
                         maskinfo_array **idx, const maskinfo_limits *lim);

/* Block classes with a choice of tail rule.  MASKINFO_TAIL_EXACT is
 * maskinfo_mask_block_classes' rule; MASKINFO_TAIL_PADDED is torch's
 * _convert_mask_to_block_mask, which pads the mask with masked cells to
 * whole blocks, so a ragged tail block (last row or column of blocks when
 * the block does not divide the length) is never full. */
typedef enum { MASKINFO_TAIL_EXACT = 0, MASKINFO_TAIL_PADDED = 1 } maskinfo_tail_rule;
int maskinfo_mask_block_classes_tail(const maskinfo_mask *m, int64_t bq, int64_t bk,
                                     maskinfo_tail_rule tail, maskinfo_array **out,
                                     const maskinfo_limits *lim);

/* Runs in CSR form: for row r, the half-open runs [lo[j], hi[j]) for j in
 * [ptr[r], ptr[r+1]).  ptr is int64 (rows + 1), lo and hi are int32. */
typedef struct {
    maskinfo_array *ptr, *lo, *hi;
} maskinfo_runs;
void maskinfo_runs_free(maskinfo_runs *r);

/* ---- block runs (block_runs.c): block forms without the block grid */
/* Per block row (b, h, i) of bq x bk blocks (B*H*ceil(Q/bq) rows), the
 * block columns whose class is partial and those whose class is full, as
 * runs of block columns.  Cost O(rows * runs * log runs), O(pieces) per
 * block row of rule leaves over packed documents; memory O(output):
 * a counting pass sizes the output, which the guard checks as a whole
 * before it is allocated.  Either output may be NULL. */
int maskinfo_mask_block_runs(const maskinfo_mask *m, int64_t bq, int64_t bk,
                             maskinfo_tail_rule tail, maskinfo_runs *partial,
                             maskinfo_runs *full, char *why, size_t whylen,
                             const maskinfo_limits *lim);
/* FlashInfer's block-sparse (BSR) layout of plane (b, h): indptr (R + 1)
 * and indices (nnz) int32, the block columns holding any allowed cell in
 * each row of br x bc blocks, ascending.  br must divide Q and bc K
 * (MASKINFO_EINVAL otherwise). */
int maskinfo_mask_bsr(const maskinfo_mask *m, int64_t b, int64_t h, int64_t br,
                      int64_t bc, maskinfo_array **indptr, maskinfo_array **indices,
                      char *why, size_t whylen, const maskinfo_limits *lim);
/* The cells of the blocks maskinfo_mask_bsr listed (the mask argument of
 * FlashInfer's BlockSparseAttentionWrapper.plan, which computes listed
 * blocks as full without it): bool (nnz, br, bc) in the order of indices,
 * or *mask NULL when every listed block is full.  A counting pass decides
 * that; the guard then sees nnz * br * bc bytes (the size in why). */
int maskinfo_mask_bsr_mask(const maskinfo_mask *m, int64_t b, int64_t h, int64_t br,
                           int64_t bc, const maskinfo_array *indptr,
                           const maskinfo_array *indices, maskinfo_array **mask,
                           char *why, size_t whylen, const maskinfo_limits *lim);

/* ---- kernel formats (kernels.c, flashmask.c, splash.c)
 * The functions here and in block runs size their whole output (counting
 * first where it depends on the mask) and check it against the guard
 * before allocating any of it; a refusal (MASKINFO_ETOOBIG) puts the size
 * in why. */
/* Every allowed-key interval of every row (b, h, q) (row r = (b*H + h)*Q
 * + q): the mask's own compact form.  K must fit int32 (EOVERFLOW). */
int maskinfo_mask_row_runs(const maskinfo_mask *m, maskinfo_runs *out, char *why,
                           size_t whylen, const maskinfo_limits *lim);

/* FlashMask's startend_row_indices, int32 (B, H, K, n): per key column the
 * masked query rows (Paddle's flashmask_to_densemask).  causal: rows < k
 * are masked anyway and n is 1 [LTS] or 2 [LTS, LTE]; not causal: n is 2
 * [LTS, UTE] or 4 [LTS, LTE, UTS, UTE].  The smallest n that expresses the
 * mask exactly is chosen.  A mask FlashMask cannot express is
 * MASKINFO_EINVAL with the first such column and the reason in why;
 * causal with Q != K is MASKINFO_ESHAPE.  O(tokens + column runs). */
int maskinfo_mask_flashmask(const maskinfo_mask *m, int causal, maskinfo_array **out,
                            char *why, size_t whylen, const maskinfo_limits *lim);

/* FlashInfer's packed custom mask over a ragged batch: request b has the
 * query rows q with q_valid[b*Q + q] and the key columns k with
 * kv_valid[b*K + k] (NULL: every one); its q_len x kv_len cells of head h
 * are flattened row-major and packed little-endian (NumPy's
 * packbits(bitorder="little")), each request from a byte boundary.
 * Outputs (int32 except packed, uint8): packed, mask_indptr (B + 1, in
 * bytes), qo_indptr and kv_indptr (B + 1, tokens); indices_q and
 * indices_k (int64, flat b*Q + q and b*K + k of the kept tokens: the
 * gather that packs q, k and v into FlashInfer's ragged layout). */
typedef struct {
    maskinfo_array *packed, *mask_indptr, *qo_indptr, *kv_indptr, *indices_q, *indices_k;
} maskinfo_packed_mask;
int maskinfo_mask_packbits(const maskinfo_mask *m, int64_t h, const uint8_t *q_valid,
                           const uint8_t *kv_valid, maskinfo_packed_mask *out,
                           char *why, size_t whylen, const maskinfo_limits *lim);
void maskinfo_packed_mask_free(maskinfo_packed_mask *p);

/* MagiAttention's slices of head h over the flattened batch (row b*Q + q,
 * key b*K + k): q_ranges and k_ranges int32 (n, 2), attn_type_map int32
 * (n): 0 FULL, 1 CAUSAL (bottom-right), 2 INVCAUSAL, 3 BICAUSAL, with
 * Magi's from_ranges rules.  Consecutive rows whose intervals continue one
 * of these shapes share a slice; each run of a row is in one slice, and no
 * slice's rectangle holds another slice's cells (from_ranges asserts it). */
int maskinfo_mask_attn_slices(const maskinfo_mask *m, int64_t h, maskinfo_array **q_ranges,
                              maskinfo_array **k_ranges, maskinfo_array **types,
                              char *why, size_t whylen, const maskinfo_limits *lim);

/* splash attention's forward MaskInfo of batch row b (_process_mask with
 * is_dkv False, one head and one q shard, no grid shrinking, int32 tables):
 * block_mask, data_next and mask_next int32 (Hm, Q/bq, K/bk) where Hm is 1
 * when every head has the same mask and H otherwise; partial_mask_blocks
 * bool (P, bq, bk), the distinct partial blocks by first appearance
 * (mask_next and partial_mask_blocks are NULL when no block is partial).
 * bq must divide Q and bk K (MASKINFO_EINVAL). */
typedef struct {
    maskinfo_array *block_mask, *data_next, *mask_next, *partial_mask_blocks;
} maskinfo_splash_info;
int maskinfo_mask_splash(const maskinfo_mask *m, int64_t b, int64_t bq, int64_t bk,
                         maskinfo_splash_info *out, char *why, size_t whylen,
                         const maskinfo_limits *lim);
void maskinfo_splash_info_free(maskinfo_splash_info *s);

/* Varlen (flash-attn's flash_attn_varlen_func, xFormers' from_seqlens):
 * the documents of the flattened batch from segment ids (B, Q) and (B, K)
 * (id < 0 is padding, dropped): a document is a run of equal ids among a
 * row's tokens.  cu_seqlens_q/k int32 (n + 1), seqlens_q/k int32 (n),
 * indices_q/k int64 (flat b*Q + q of the kept tokens, as unpad_input).
 * The i-th query and key documents must carry the same id, and an id may
 * not come back after another in a row (MASKINFO_EINVAL, reason in why). */
typedef struct {
    maskinfo_array *cu_q, *cu_k, *seqlens_q, *seqlens_k, *indices_q, *indices_k;
    int64_t max_q, max_k;
} maskinfo_varlen_info;
int maskinfo_varlen(const int32_t *q_ids, const int32_t *kv_ids, int64_t B, int64_t Q,
                    int64_t K, maskinfo_varlen_info *out, char *why, size_t whylen,
                    const maskinfo_limits *lim);
void maskinfo_varlen_info_free(maskinfo_varlen_info *v);
/* Whether m is the mask flash_attn_varlen_func computes from v (made by
 * maskinfo_varlen from the same q_ids, kv_ids of m's B, Q, K): query i of a
 * document of lq queries and lk keys allows the document's keys j (local)
 * with i + lk - lq - left <= j <= i + lk - lq + right (bottom-right; -1 is
 * unbounded), on every head.  The window is read from the rows, then the
 * whole mask is compared (maskinfo_mask_diff).  OK with *left, *right
 * (causal is right == 0), or MASKINFO_EINVAL with the first differing cell
 * in why. */
int maskinfo_mask_varlen_match(const maskinfo_mask *m, const int32_t *q_ids, const int32_t *kv_ids,
                               const maskinfo_varlen_info *v, int64_t *left, int64_t *right, char *why,
                               size_t whylen, const maskinfo_limits *lim);

/* ---- reading (npy_read.c) */
/* A NumPy .npy file as an array: format 1.0, 2.0 or 3.0, C order, dtypes
 * bool, uint8, int32, int64, float16, float32 and float64, either byte
 * order; float64 is stored as float32 (there is no float64 dtype; values
 * round to the nearest float32).  A malformed file is MASKINFO_EINVAL, an
 * unsupported dtype MASKINFO_EDTYPE, a data size that disagrees with the
 * shape MASKINFO_ESHAPE, each with the reason in why; a system call that
 * fails is MASKINFO_EIO with errno set.  The file size is checked against
 * the shape, and the array against the guard, before it is allocated. */
int maskinfo_read_npy(const char *path, maskinfo_array **out, char *why, size_t whylen,
                      const maskinfo_limits *lim);
/* The same from the len bytes of a whole file in memory. */
int maskinfo_parse_npy(const uint8_t *buf, size_t len, maskinfo_array **out, char *why,
                       size_t whylen, const maskinfo_limits *lim);
/* ---------------------------------------------------------------- builders */
/* (builders.c)  What constructors from ML inputs need, so that bindings
 * never build N-element tables.  On MASKINFO_EINVAL, *bad (when not NULL)
 * is the index of the first offending input value, else -1. */

/* Segment ids of documents packed in one row of len tokens: document d
 * (0-based) has lengths[d] tokens; the tokens after the last document are
 * padding (-1).  EINVAL: a negative length, or lengths adding up to more
 * than len (*bad is the length that overflows). */
int maskinfo_ids_from_lengths(const int64_t *lengths, int64_t n, int64_t len,
                              int32_t *ids, int64_t *bad);
/* Segment ids from flash-attn's varlen offsets (n entries: n - 1 documents
 * in one row): token t belongs to document d iff cu[d] <= t < cu[d+1].
 * EINVAL unless cu[0] == 0, cu is non-decreasing and cu[n-1] == len.
 * With ids NULL it only checks cu (before anything is allocated). */
int maskinfo_ids_from_cu_seqlens(const int64_t *cu, int64_t n, int64_t len,
                                 int32_t *ids, int64_t *bad);
/* out[r*len + j] = start + j for rows rows; EOVERFLOW past int32. */
int maskinfo_positions_arange(int64_t rows, int64_t len, int64_t start,
                              int32_t *out);
/* Numbered runs of token types (rows x len, row-major): text (0) stays 0;
 * each maximal run of equal non-zero types gets the next number of its
 * row (1, 2, ...), so HF's 0/1 token_type_ids become one id per image.
 * EINVAL on a negative type. */
int maskinfo_image_runs(const int32_t *types, int64_t rows, int64_t len,
                        int32_t *out, int64_t *bad);
/* Tree attention, shape (1, 1, n, prefix + n): node i attends to the prefix
 * keys [0, prefix), to itself and to its ancestors (key prefix + j for node
 * j).  parents[i] is -1 for a root, else an earlier node (< i).  depth[i]
 * receives the node's depth (roots 0), root[i] the number of its tree (the
 * roots numbered 0, 1, ... in order).  Work and memory: the total number of
 * key runs over all rows (at most n + the total depth). */
int maskinfo_mask_tree(maskinfo_mask **out, const int64_t *parents, int64_t n,
                       int64_t prefix, int32_t *depth, int32_t *root,
                       int64_t *bad, const maskinfo_limits *lim);

/* ---------------------------------------------------------------- ids */
/* O(n) passes over segment ids (int32, -1 or any negative is padding) and
 * elementwise tests of Arrays, so the Lua layer never loops over elements. */

/* max(-1, largest id); -1 when n == 0. */
int32_t maskinfo_ids_max(const int32_t *ids, int64_t n);
/* The smallest id; INT32_MAX when n == 0. */
int32_t maskinfo_ids_min(const int32_t *ids, int64_t n);
/* out[i] = ids[i] == from ? to : ids[i] (out may be ids). */
void maskinfo_ids_replace(const int32_t *ids, int64_t n, int32_t from, int32_t to,
                          int32_t *out);
/* Ids of shape (B, inner, len) with the columns at or past len_of[b] of
 * every row of batch b set to -1 (out may be ids). */
void maskinfo_ids_cut(const int32_t *ids, int64_t B, int64_t inner, int64_t len,
                      const int64_t *len_of, int32_t *out);
/* counts[v] = number of ids equal to v, for 0 <= v < nbins; negative ids
 * are skipped.  EINVAL with *bad = the first id >= nbins (flat order). */
int maskinfo_ids_bincount(const int32_t *ids, int64_t n, int64_t nbins,
                          int32_t *counts, int64_t *bad);
/* FlashAttention-style cumulative lengths over all ids: cu[0] = 0,
 * cu[v + 1] = cu[v] + count(id == v) for v < max_segments (max_segments + 1
 * entries).  EINVAL with *bad like maskinfo_ids_bincount; EOVERFLOW when
 * n does not fit int32. */
int maskinfo_ids_cu_seqlens(const int32_t *ids, int64_t n, int64_t max_segments,
                            int32_t *cu, int64_t *bad);
/* out[r] = number of ids >= 0 in row r of a rows x len array. */
void maskinfo_ids_valid_per_row(const int32_t *ids, int64_t rows, int64_t len,
                                int32_t *out);
/* Chunk ids of a rows x len array: -1 where ids < 0, else
 * (column / chunk) + 1.  EINVAL unless chunk >= 1. */
int maskinfo_ids_chunk(const int32_t *ids, int64_t rows, int64_t len,
                       int64_t chunk, int32_t *out);

typedef enum {
    MASKINFO_TEST_NONZERO = 0, /* x != 0 */
    MASKINFO_TEST_EQ,          /* x == c (NaN: false) */
    MASKINFO_TEST_ABS_GE       /* x >= c or x <= -c (NaN: false) */
} maskinfo_test;
/* A new array of a's shape in dtype dt: test(a[i], c) ? yes : no (bool
 * inputs read as 0/1; yes and no are stored as maskinfo_array_set does). */
int maskinfo_array_where(const maskinfo_array *a, maskinfo_test test, double c,
                         double yes, double no, maskinfo_dtype dt,
                         maskinfo_array **out, const maskinfo_limits *lim);

#ifdef __cplusplus
}
#endif
#endif
