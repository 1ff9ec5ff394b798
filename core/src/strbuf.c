/*
 * strbuf.c - the growable text buffer (strbuf.h).
 */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void maskinfo__sb_put(maskinfo__strbuf *s, const char *p, size_t n)
{
    if (s->err)
        return;
    if (n > SIZE_MAX - 1 - s->len) {
        s->err = MASKINFO_EOVERFLOW;
        return;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap = (cap > SIZE_MAX / 2) ? s->len + n + 1 : cap * 2;
        int st = maskinfo_check_alloc(s->lim, cap, 1);
        if (st) {
            s->err = st;
            return;
        }
        char *nb = realloc(s->p, cap);
        if (nb == NULL) {
            s->err = MASKINFO_ENOMEM;
            return;
        }
        s->p = nb;
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = '\0';
}

void maskinfo__sb_puts(maskinfo__strbuf *s, const char *p)
{
    maskinfo__sb_put(s, p, strlen(p));
}

void maskinfo__sb_spaces(maskinfo__strbuf *s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        maskinfo__sb_put(s, " ", 1);
}

void maskinfo__sb_i64(maskinfo__strbuf *s, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    maskinfo__sb_put(s, b, (size_t)n);
}
