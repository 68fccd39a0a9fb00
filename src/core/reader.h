/*
 * Bounded reading of outside bytes. Every parser of input that came from a
 * file, a socket or a user goes through these helpers, which refuse to read
 * past the end and refuse inputs larger than the caller's stated limit.
 */
#ifndef RB_CORE_READER_H
#define RB_CORE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct rb_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
} rb_reader;

void rb_reader_init(rb_reader *r, const void *data, size_t len);
size_t rb_reader_remaining(const rb_reader *r);

/* Each returns RB_EINVAL (and leaves r unchanged) if fewer bytes remain than asked. */
rb_status rb_reader_u8(rb_reader *r, uint8_t *out) RB_MUST_CHECK;
rb_status rb_reader_u16be(rb_reader *r, uint16_t *out) RB_MUST_CHECK;
rb_status rb_reader_u32be(rb_reader *r, uint32_t *out) RB_MUST_CHECK;
/* Borrows n bytes: *out points into the reader's buffer. */
rb_status rb_reader_bytes(rb_reader *r, size_t n, const uint8_t **out) RB_MUST_CHECK;

/*
 * Reads a whole file (or stdin when path is "-") of at most max bytes into a
 * new NUL-terminated buffer the caller frees. A larger file is refused with a
 * message naming the limit; nothing is returned on failure.
 */
rb_status rb_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len,
                       rb_error *err) RB_MUST_CHECK;

/*
 * Checks that text is valid UTF-8 without control characters (C0, DEL, C1)
 * and at most max_bytes long. field names the input in the message.
 */
rb_status rb_text_check(const char *field, const char *text, size_t max_bytes,
                        rb_error *err) RB_MUST_CHECK;

#endif
