/*
 * Bounded reader over a byte buffer, a size-capped file loader, and the text
 * check applied to every user-supplied string before it is stored or signed.
 */
#include "core/reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rb_reader_init(rb_reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
}

size_t rb_reader_remaining(const rb_reader *r)
{
    return r->len - r->pos;
}

rb_status rb_reader_bytes(rb_reader *r, size_t n, const uint8_t **out)
{
    if (rb_reader_remaining(r) < n)
        return RB_EINVAL;
    *out = r->data + r->pos;
    r->pos += n;
    return RB_OK;
}

rb_status rb_reader_u8(rb_reader *r, uint8_t *out)
{
    const uint8_t *p;
    if (rb_reader_bytes(r, 1, &p) != RB_OK)
        return RB_EINVAL;
    *out = p[0];
    return RB_OK;
}

rb_status rb_reader_u16be(rb_reader *r, uint16_t *out)
{
    const uint8_t *p;
    if (rb_reader_bytes(r, 2, &p) != RB_OK)
        return RB_EINVAL;
    *out = (uint16_t)(p[0] << 8 | p[1]);
    return RB_OK;
}

rb_status rb_reader_u32be(rb_reader *r, uint32_t *out)
{
    const uint8_t *p;
    if (rb_reader_bytes(r, 4, &p) != RB_OK)
        return RB_EINVAL;
    *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return RB_OK;
}

rb_status rb_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len, rb_error *err)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (f == NULL)
        return rb_fail(err, RB_EIO, NULL, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap + 1);
    rb_status status = RB_OK;
    if (buf == NULL) {
        status = rb_fail(err, RB_ENOMEM, NULL, "out of memory reading %s", path);
        goto done;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                status = rb_fail(err, RB_EINVAL, NULL, "%s is larger than the limit of %zu bytes",
                                 path, max);
                goto done;
            }
            uint8_t *bigger = realloc(buf, cap * 2 + 1);
            if (bigger == NULL) {
                status = rb_fail(err, RB_ENOMEM, NULL, "out of memory reading %s", path);
                goto done;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        status = rb_fail(err, RB_EIO, NULL, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    if (len > max) {
        status =
            rb_fail(err, RB_EINVAL, NULL, "%s is larger than the limit of %zu bytes", path, max);
        goto done;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
done:
    free(buf);
    if (!from_stdin)
        fclose(f);
    return status;
}

/* Length of the UTF-8 sequence starting at s, or 0 if it is not well formed. */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail, unsigned *codepoint)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp, min;
    if (c < 0x80) {
        *codepoint = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    *codepoint = cp;
    return n;
}

rb_status rb_text_check(const char *field, const char *text, size_t max_bytes, rb_error *err)
{
    size_t len = strlen(text);
    if (len > max_bytes)
        return rb_fail(err, RB_EINVAL, NULL, "%s is longer than %zu bytes", field, max_bytes);
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_sequence_length(s + i, len - i, &cp);
        if (n == 0)
            return rb_fail(err, RB_EINVAL, NULL, "%s is not valid UTF-8 (byte %zu)", field, i + 1);
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            return rb_fail(err, RB_EINVAL, NULL, "%s contains a control character (byte %zu)",
                           field, i + 1);
        i += n;
    }
    return RB_OK;
}
