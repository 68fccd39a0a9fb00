/*
 * Bytes as hexadecimal text, the one encoder the store keys (serials, hashes)
 * and the protocol fields (ETags, nonces) share.
 */
#ifndef RB_CORE_HEX_H
#define RB_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2 * len digits and a NUL to out (2 * len + 1 bytes). */
void rb_hex_lower(const uint8_t *data, size_t len, char *out);
void rb_hex_upper(const uint8_t *data, size_t len, char *out);

#endif
