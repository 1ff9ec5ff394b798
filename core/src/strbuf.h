/*
 * strbuf.h - a growable text buffer, for file headers (export.c) and the
 * text view (render_text.c).  Errors are sticky: after a failure every put
 * is a no-op and err holds the status, so callers test once at the end.
 */
#ifndef MASKINFO_STRBUF_H
#define MASKINFO_STRBUF_H

#include "maskinfo.h"

typedef struct {
    char *p;                    /* NUL-terminated once anything was put */
    size_t len, cap;
    int err;                    /* MASKINFO_OK or the first failure */
    const maskinfo_limits *lim; /* growth is checked against it (NULL: default) */
} maskinfo__strbuf;

void maskinfo__sb_put(maskinfo__strbuf *s, const char *p, size_t n);
void maskinfo__sb_puts(maskinfo__strbuf *s, const char *p);
/* n spaces (none if n <= 0) */
void maskinfo__sb_spaces(maskinfo__strbuf *s, int64_t n);
/* v in decimal */
void maskinfo__sb_i64(maskinfo__strbuf *s, int64_t v);

#endif
