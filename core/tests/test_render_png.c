/*
 * test_render_png.c - PNG heatmaps: sizes and pixel values read back with
 * libpng, failure paths that must leave no file, grids, and a 1M-token mask.
 */
#define _POSIX_C_SOURCE 200809L
#include "maskinfo.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "png_read.h"

/* Colours documented in render_png.c. */
static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t GREY_FULL[3] = {0, 0, 0};
static const uint8_t VIRIDIS_FULL[3] = {68, 1, 84};
static const uint8_t ACCENT[3] = {220, 40, 30};

static char dir[64];

static int same(const uint8_t *a, const uint8_t *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

/* PNG colour type from the IHDR (byte 25): 0 grey, 2 RGB. */
static int colour_type(const char *path)
{
    unsigned char b[26];
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return n == sizeof b ? b[25] : -1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static int entries(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(dp);
    return n;
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static maskinfo_png_opts opts(void)
{
    maskinfo_png_opts o;
    memset(&o, 0, sizeof o);
    o.grid_lines = -1;
    o.cmap = MASKINFO_CMAP_GREY;
    return o;
}

static maskinfo_mask *causal(int64_t n)
{
    maskinfo_mask *m = NULL;
    if (maskinfo_mask_causal(&m, 1, n, n, NULL) != MASKINFO_OK) return NULL;
    return m;
}

/* causal 8x8 at scale 1, plain: one pixel per cell */
static void test_plain_scale1(void)
{
    char p[128];
    maskinfo_mask *m = causal(8);
    CHECK(m != NULL);
    const maskinfo_colormap cms[2] = {MASKINFO_CMAP_GREY, MASKINFO_CMAP_VIRIDIS};
    const uint8_t *full[2] = {GREY_FULL, VIRIDIS_FULL};
    for (int c = 0; c < 2; c++) {
        maskinfo_png_opts o = opts();
        o.scale = 1;
        o.plain = 1;
        o.cmap = cms[c];
        o.title = "ignored when plain";
        int64_t w = -1, h = -1;
        path_in(p, sizeof p, "causal.png");
        CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
        CHECK(w == 8 && h == 8);
        CHECK(colour_type(p) == (c == 0 ? 0 : 2)); /* grey only when achromatic */
        image im = read_png(p);
        CHECK(im.ok && im.w == 8 && im.h == 8);
        if (!im.ok) continue;
        int good = 1;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                if (!same(pix(&im, x, y), x <= y ? full[c] : WHITE)) good = 0;
        CHECK(good);
        free(im.px);
    }
    maskinfo_mask_unref(m);
}

/* scale 3: 24x24, every 3x3 block is its cell's colour */
static void test_scale3(void)
{
    char p[128];
    maskinfo_mask *m = causal(8);
    maskinfo_png_opts o = opts();
    o.scale = 3;
    o.plain = 1;
    o.cmap = MASKINFO_CMAP_VIRIDIS;
    int64_t w = 0, h = 0;
    path_in(p, sizeof p, "s3.png");
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    CHECK(w == 24 && h == 24);
    image im = read_png(p);
    CHECK(im.ok && im.w == 24 && im.h == 24);
    if (im.ok) {
        int good = 1;
        for (int y = 0; y < 24; y++)
            for (int x = 0; x < 24; x++)
                if (!same(pix(&im, x, y), x / 3 <= y / 3 ? VIRIDIS_FULL : WHITE)) good = 0;
        CHECK(good);
        free(im.px);
    }
    /* explicit grid lines in plain mode: the first pixel row/column of a
     * cell differs from its inside; auto grid lines stay off when plain */
    o.scale = 8;
    o.grid_lines = 1;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    im = read_png(p);
    CHECK(im.ok && im.w == 64);
    if (im.ok) {
        CHECK(same(pix(&im, 12, 20), VIRIDIS_FULL)); /* inside cell (2, 1) */
        CHECK(!same(pix(&im, 8, 20), VIRIDIS_FULL)); /* its left line */
        CHECK(!same(pix(&im, 12, 16), VIRIDIS_FULL)); /* its top line */
        CHECK(!same(pix(&im, 40, 20), WHITE));       /* line through an empty cell */
        free(im.px);
    }
    o.grid_lines = -1;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    im = read_png(p);
    if (im.ok) {
        CHECK(same(pix(&im, 8, 20), VIRIDIS_FULL));
        free(im.px);
    }
    maskinfo_mask_unref(m);
}

/* Buckets of 2x2 cells over causal 8x8: the diagonal buckets hold 3 of 4
 * allowed cells, strictly between masked and full. */
static void test_partial(void)
{
    char p[128];
    maskinfo_mask *m = causal(8);
    maskinfo_png_opts o = opts();
    o.scale = 0;
    o.width = 4;
    o.height = 4;
    o.plain = 1;
    int64_t w = 0, h = 0;
    path_in(p, sizeof p, "part.png");
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    CHECK(w == 4 && h == 4);
    image im = read_png(p);
    CHECK(im.ok && im.w == 4 && im.h == 4);
    if (im.ok) {
        const uint8_t *d = pix(&im, 1, 1);
        CHECK(d[0] == d[1] && d[1] == d[2]);
        CHECK(d[0] >= 40 && d[0] <= 215); /* a visible gap from both ends */
        CHECK(same(pix(&im, 0, 0), pix(&im, 3, 3)));
        CHECK(same(pix(&im, 0, 3), GREY_FULL));
        CHECK(same(pix(&im, 3, 0), WHITE));
        free(im.px);
    }
    /* viridis: partial is neither full nor white */
    o.cmap = MASKINFO_CMAP_MAGMA;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    im = read_png(p);
    if (im.ok) {
        CHECK(!same(pix(&im, 1, 1), WHITE));
        CHECK(!same(pix(&im, 1, 1), pix(&im, 0, 1)));
        CHECK(!same(pix(&im, 0, 1), WHITE));
        free(im.px);
    }
    /* width and height together are both honoured: cells of 2-3 x 3-4
     * pixels, each one colour */
    o.cmap = MASKINFO_CMAP_GREY;
    o.width = 20;
    o.height = 30;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    CHECK(w == 20 && h == 30);
    im = read_png(p);
    CHECK(im.ok && im.w == 20 && im.h == 30);
    if (im.ok) {
        int good = 1;
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 20; x++) {
                /* the cell under the pixel: the last with edge floor(c * T / 8) <= it */
                int q = ((y + 1) * 8 - 1) / 30, k = ((x + 1) * 8 - 1) / 20;
                if (!same(pix(&im, x, y), k <= q ? GREY_FULL : WHITE)) good = 0;
            }
        CHECK(good);
        free(im.px);
    }
    /* one target of 0 follows the aspect ratio */
    o.width = 4;
    o.height = 0;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    CHECK(w == 4 && h == 4);
    maskinfo_mask_unref(m);
}

/* Segment boundaries are lines in the accent colour where the id changes. */
static void test_segments(void)
{
    char p[128];
    maskinfo_mask *m = causal(8);
    int32_t ids[8] = {0, 0, 0, 1, 1, 1, 1, 2};
    maskinfo_png_opts o = opts();
    o.scale = 4;
    o.plain = 1;
    o.cmap = MASKINFO_CMAP_VIRIDIS;
    o.show_segments = 1;
    o.q_ids = ids;
    o.kv_ids = ids;
    int64_t w = 0, h = 0;
    path_in(p, sizeof p, "seg.png");
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    CHECK(w == 32 && h == 32);
    CHECK(colour_type(p) == 2);
    image im = read_png(p);
    if (im.ok) {
        /* rows 12 and 28 (before q = 3 and q = 7), columns likewise */
        int lines = 1, other = 0;
        for (int t = 0; t < 32; t++) {
            if (!same(pix(&im, t, 12), ACCENT) || !same(pix(&im, t, 28), ACCENT)) lines = 0;
            if (!same(pix(&im, 12, t), ACCENT) || !same(pix(&im, 28, t), ACCENT)) lines = 0;
            for (int u = 0; u < 32; u++)
                if (u != 12 && u != 28 && t != 12 && t != 28 && same(pix(&im, t, u), ACCENT))
                    other = 1;
        }
        CHECK(lines && !other);
        CHECK(same(pix(&im, 13, 20), VIRIDIS_FULL)); /* cells stay as they were */
        free(im.px);
    }
    maskinfo_mask_unref(m);
}

/* Decorations: the picture is larger than the heatmap, the heatmap appears
 * unchanged inside it, and the title adds ink above it. */
static void test_decorated(void)
{
    char p[128], q[128];
    maskinfo_mask *m = causal(8);
    maskinfo_png_opts o = opts();
    o.scale = 4;
    o.cmap = MASKINFO_CMAP_VIRIDIS;
    int64_t w = 0, h = 0, w2 = 0, h2 = 0;
    path_in(p, sizeof p, "deco.png");
    path_in(q, sizeof q, "deco_t.png");
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    o.title = "Causal mask";
    CHECK(maskinfo_render_png(m, q, &o, &w2, &h2, NULL) == MASKINFO_OK);
    CHECK(w > 32 && h > 32);
    CHECK(h2 >= h + 16);
    image a = read_png(p), b = read_png(q);
    CHECK(a.ok && b.ok && a.w == w && a.h == h && b.w == w2 && b.h == h2);
    if (a.ok && b.ok) {
        /* the first full-colour pixel in row-major order is the heatmap's
         * top-left cell; the whole 32x32 heatmap must follow it */
        int fx = -1, fy = -1;
        for (int y = 0; y < b.h && fy < 0; y++)
            for (int x = 0; x < b.w; x++)
                if (same(pix(&b, x, y), VIRIDIS_FULL)) {
                    fx = x;
                    fy = y;
                    break;
                }
        CHECK(fx > 0 && fy > 0 && fx + 32 <= b.w && fy + 32 <= b.h);
        if (fx > 0 && fy > 0 && fx + 32 <= b.w && fy + 32 <= b.h) {
            int good = 1;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    if (!same(pix(&b, fx + x, fy + y), x / 4 <= y / 4 ? VIRIDIS_FULL : WHITE))
                        good = 0;
            CHECK(good);
            /* the frame is flush: no white between it and the heatmap */
            CHECK(!same(pix(&b, fx - 1, fy), WHITE) && !same(pix(&b, fx, fy - 1), WHITE));
            CHECK(!same(pix(&b, fx + 32, fy + 31), WHITE) && !same(pix(&b, fx + 31, fy + 32), WHITE));
            /* title ink: dark pixels in the band the title adds on top */
            int ink = 0;
            for (int y = 0; y < (int)(h2 - h) + 10; y++)
                for (int x = 0; x < b.w; x++) {
                    const uint8_t *c = pix(&b, x, y);
                    if (c[0] < 100 && c[1] < 100 && c[2] < 100) ink++;
                }
            CHECK(ink > 20);
            /* the untitled picture's top margin is blank */
            int blank = 1;
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < a.w; x++)
                    if (!same(pix(&a, x, y), WHITE)) blank = 0;
            CHECK(blank);
        }
    }
    free(a.px);
    free(b.px);
    maskinfo_mask_unref(m);
}

/* Failure paths: no file appears, no temporary is left, an existing file
 * keeps its bytes. */
/* A named font is checked with the OS's or FreeType's reason. */
static void test_font_check(void)
{
    char why[128] = "";
    CHECK(maskinfo_font_check("/nonexistent/x.ttf", why, sizeof why) == -1);
    CHECK(strstr(why, "No such file") != NULL);
    char p[128];
    path_in(p, sizeof p, "notafont.ttf");
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("not a font\n", f);
        fclose(f);
        CHECK(maskinfo_font_check(p, why, sizeof why) == -1);
        CHECK(strstr(why, "FreeType") != NULL);
        remove(p);
    }
    f = fopen("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "rb");
    if (f) { /* the default font, when installed, loads */
        fclose(f);
        CHECK(maskinfo_font_check("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", why, sizeof why) == 0);
    }
}

static void test_failures(void)
{
    char p[256], sub[256], missing[256];
    maskinfo_mask *m = causal(8);
    maskinfo_png_opts o = opts();
    o.scale = 1;
    o.plain = 1;
    int64_t w = 7, h = 7;

    /* fresh directory with one existing file */
    char d2[128];
    path_in(d2, sizeof d2, "fail");
    CHECK(mkdir(d2, 0755) == 0);
    snprintf(p, sizeof p, "%s/keep.png", d2);
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    size_t n0 = 0, n1 = 0;
    char *before = slurp(p, &n0);
    CHECK(before != NULL && n0 > 8);

    /* bad head / batch / options against the existing file */
    o.head = 1;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    CHECK(w == 0 && h == 0);
    o.head = 0;
    o.batch = -1;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    o.batch = 1;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    o.batch = 0;
    o.cmap = (maskinfo_colormap)7;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    o.cmap = MASKINFO_CMAP_GREY;
    o.grid_lines = 2;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    o.grid_lines = -1;
    o.scale = -1;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    o.scale = 0;
    o.width = 0;
    o.height = 0;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    o.width = -5;
    o.height = 10;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    /* a side past the renderer's limit is EIMAGE, not the memory guard */
    o.width = 5000000;
    o.height = 10;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EIMAGE);
    o.scale = INT64_MAX / 2;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_EIMAGE);
    o.scale = 4000;
    maskinfo_limits small = {1000};
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, &small) == MASKINFO_ETOOBIG);
    o.scale = 1;
    CHECK(maskinfo_render_png(NULL, p, &o, &w, &h, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_render_png(m, NULL, &o, &w, &h, NULL) == MASKINFO_EINVAL);

    /* the target is a directory: rename fails after the PNG was written */
    snprintf(sub, sizeof sub, "%s/adir", d2);
    CHECK(mkdir(sub, 0755) == 0);
    CHECK(maskinfo_render_png(m, sub, &o, &w, &h, NULL) == MASKINFO_EIO);

    /* a grid with one bad panel */
    const maskinfo_mask *ms[2] = {m, m};
    maskinfo_png_opts os[2] = {opts(), opts()};
    os[0].scale = os[1].scale = 2;
    os[1].head = 3;
    CHECK(maskinfo_render_png_grid(ms, os, 2, 0, p, &w, &h, NULL) == MASKINFO_EINVAL);
    CHECK(maskinfo_render_png_grid(ms, os, 0, 0, p, &w, &h, NULL) == MASKINFO_EINVAL);
    os[1].head = 0;
    CHECK(maskinfo_render_png_grid(ms, os, 2, -1, p, &w, &h, NULL) == MASKINFO_EINVAL);

    char *after = slurp(p, &n1);
    CHECK(after && n1 == n0 && memcmp(before, after, n0) == 0);
    CHECK(entries(d2) == 2); /* keep.png and adir: no temporaries */
    CHECK(entries(sub) == 0);
    free(after);

    /* the file system refuses the bytes half way (file size limit): EIO,
     * the old file survives and the temporary is gone */
    {
        struct rlimit old;
        CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
        struct rlimit lo = old;
        lo.rlim_cur = 4096;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        maskinfo_png_opts big = opts();
        big.scale = 0;
        big.width = big.height = 512;
        big.cmap = MASKINFO_CMAP_VIRIDIS;
        maskinfo_mask *r = NULL;
        CHECK(maskinfo_mask_random(&r, 1, 1, 512, 512, 0.5, 7, NULL) == MASKINFO_OK);
        CHECK(setrlimit(RLIMIT_FSIZE, &lo) == 0);
        errno = 0;
        int st = r ? maskinfo_render_png(r, p, &big, &w, &h, NULL) : -1;
        int err = errno; /* the write's reason, through libpng's cleanup */
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
        CHECK(st == MASKINFO_EIO);
        CHECKF(err == EFBIG, "file size limit: errno %d, want EFBIG", err);
        maskinfo_mask_unref(r);
        char *kept = slurp(p, &n1);
        CHECK(kept && n1 == n0 && memcmp(before, kept, n0) == 0);
        free(kept);
        CHECK(entries(d2) == 2);
    }

    /* the directory is missing */
    snprintf(missing, sizeof missing, "%s/nope/x.png", d2);
    errno = 0;
    CHECK(maskinfo_render_png(m, missing, &o, &w, &h, NULL) == MASKINFO_EIO);
    CHECKF(errno == ENOENT, "png into a missing folder: errno %d, want ENOENT", errno);
    CHECK(access(missing, F_OK) != 0);
    CHECK(entries(d2) == 2);
    free(before);

    /* a successful render replaces the file completely */
    o.scale = 2;
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    image im = read_png(p);
    CHECK(im.ok && im.w == 16 && im.h == 16);
    free(im.px);
    CHECK(entries(d2) == 2);
    maskinfo_mask_unref(m);
}

/* Panels: plain 8x8 panels with a 4-pixel gap; decorated panels share one
 * cell size. */
static void test_grid(void)
{
    char p[128];
    maskinfo_mask *a = causal(8), *b = NULL;
    int64_t left = 1, right = 1;
    CHECK(maskinfo_mask_window(&b, 1, 8, 8, 1, &left, &right, NULL) == MASKINFO_OK);
    const maskinfo_mask *ms[3] = {a, b, a};
    maskinfo_png_opts os[3];
    for (int i = 0; i < 3; i++) {
        os[i] = opts();
        os[i].scale = 1;
        os[i].plain = 1;
    }
    int64_t w = 0, h = 0;
    path_in(p, sizeof p, "grid.png");
    CHECK(maskinfo_render_png_grid(ms, os, 3, 2, p, &w, &h, NULL) == MASKINFO_OK);
    CHECK(w == 20 && h == 20);
    image im = read_png(p);
    CHECK(im.ok && im.w == 20 && im.h == 20);
    if (im.ok) {
        int good = 1;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int ca = x <= y, cb = x >= y - 1 && x <= y + 1;
                if (!same(pix(&im, x, y), ca ? GREY_FULL : WHITE)) good = 0;
                if (!same(pix(&im, 12 + x, y), cb ? GREY_FULL : WHITE)) good = 0;
                if (!same(pix(&im, x, 12 + y), ca ? GREY_FULL : WHITE)) good = 0;
                if (!same(pix(&im, 12 + x, 12 + y), WHITE)) good = 0; /* empty slot */
            }
        CHECK(good);
        free(im.px);
    }
    CHECK(maskinfo_render_png_grid(ms, os, 3, 0, p, &w, &h, NULL) == MASKINFO_OK);
    CHECK(w == 32 && h == 8);

    /* decorated: two panels side by side are more than twice one panel's
     * heatmap, at least as wide as a single decorated render and no taller
     * (the legend wraps to the panels' width, so one narrow panel's
     * legend may take more lines) */
    int64_t sw = 0, sh = 0;
    for (int i = 0; i < 3; i++) {
        os[i].plain = 0;
        os[i].scale = 4;
        os[i].title = i == 1 ? "window" : "causal";
    }
    CHECK(maskinfo_render_png(a, p, &os[0], &sw, &sh, NULL) == MASKINFO_OK);
    CHECK(maskinfo_render_png_grid(ms, os, 2, 0, p, &w, &h, NULL) == MASKINFO_OK);
    CHECK(h <= sh);
    CHECK(w > 2 * 32 && w >= sw);
    im = read_png(p);
    CHECK(im.ok && im.w == w && im.h == h);
    free(im.px);
    maskinfo_mask_unref(a);
    maskinfo_mask_unref(b);
}

/* Output bytes do not depend on the thread count. */
static void test_threads(void)
{
#ifdef _OPENMP
    char p[128], q[128];
    maskinfo_mask *m = causal(300);
    maskinfo_png_opts o = opts();
    o.scale = 0;
    o.width = 128;
    o.height = 128;
    o.cmap = MASKINFO_CMAP_MAGMA;
    o.title = "threads";
    int64_t w, h;
    path_in(p, sizeof p, "t1.png");
    path_in(q, sizeof q, "t2.png");
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, NULL) == MASKINFO_OK);
    omp_set_num_threads(nt > 1 ? nt : 2);
    CHECK(maskinfo_render_png(m, q, &o, &w, &h, NULL) == MASKINFO_OK);
    omp_set_num_threads(nt);
    size_t n1 = 0, n2 = 0;
    char *a = slurp(p, &n1), *b = slurp(q, &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);
    maskinfo_mask_unref(m);
#endif
}

/* 1,048,576 tokens, causal AND a 4096 window, at 1024 x 1024.  The guard is
 * set to 16 MiB: enough for the canvas and the bucket counts, nowhere near
 * the 128 GiB a dense mask would take. */
static void test_million(void)
{
    char p[128];
    const int64_t N = 1048576, win = 4096, zero = 0;
    maskinfo_mask *c = causal(N), *wm = NULL, *m = NULL;
    CHECK(c != NULL);
    CHECK(maskinfo_mask_window(&wm, 1, N, N, 1, &win, &zero, NULL) == MASKINFO_OK);
    CHECK(maskinfo_mask_and(&m, c, wm) == MASKINFO_OK);
    if (!m) return;
    CHECK(!maskinfo_mask_is_dense(m));
    maskinfo_png_opts o = opts();
    o.scale = 0;
    o.width = 1024;
    o.height = 1024;
    o.plain = 1;
    maskinfo_limits lim = {16u << 20};
    int64_t w = 0, h = 0;
    path_in(p, sizeof p, "million.png");
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, &lim) == MASKINFO_OK);
    CHECK(w == 1024 && h == 1024);
    image im = read_png(p);
    CHECK(im.ok && im.w == 1024 && im.h == 1024);
    if (im.ok) {
        /* each pixel is a 1024 x 1024 block of cells; key distance q - k
         * <= 4096 decides: (i, i) and (i, i-4) hold the same triangle,
         * (i, i-1) is full, (i, i-5) and (i, i+1) are empty */
        const uint8_t *d = pix(&im, 500, 500);
        CHECK(!same(d, WHITE) && !same(d, GREY_FULL));
        CHECK(same(pix(&im, 496, 500), d));
        CHECK(same(pix(&im, 499, 500), GREY_FULL));
        CHECK(same(pix(&im, 495, 500), WHITE));
        CHECK(same(pix(&im, 501, 500), WHITE));
        CHECK(same(pix(&im, 1023, 0), WHITE));
        CHECK(same(pix(&im, 100, 900), WHITE));
        free(im.px);
    }
    /* decorated, with viridis and a title */
    o.plain = 0;
    o.cmap = MASKINFO_CMAP_VIRIDIS;
    o.title = "causal + window 4096, 1M tokens";
    CHECK(maskinfo_render_png(m, p, &o, &w, &h, &lim) == MASKINFO_OK);
    CHECK(w > 1024 && h > 1024);
    maskinfo_mask_unref(m);
    maskinfo_mask_unref(wm);
    maskinfo_mask_unref(c);
}

static void rm_tree(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(dp);
    rmdir(d);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/mi_png_XXXXXX");
    if (!mkdtemp(dir)) {
        check_fail_msg("cannot create a temporary directory");
        return check_summary();
    }
    test_plain_scale1();
    test_scale3();
    test_partial();
    test_segments();
    test_decorated();
    test_font_check();
    test_failures();
    test_grid();
    test_threads();
    test_million();
    rm_tree(dir);
    return check_summary();
}
