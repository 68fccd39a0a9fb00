/*
 * Hexadecimal text of bytes (see hex.h).
 */
#include "core/hex.h"

static void encode(const uint8_t *data, size_t len, const char digits[16], char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

void rb_hex_lower(const uint8_t *data, size_t len, char *out)
{
    encode(data, len, "0123456789abcdef", out);
}

void rb_hex_upper(const uint8_t *data, size_t len, char *out)
{
    encode(data, len, "0123456789ABCDEF", out);
}
