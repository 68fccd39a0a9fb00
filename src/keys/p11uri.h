/*
 * RFC 7512 PKCS#11 URIs as the key store uses them (internal to src/keys):
 * the attributes that select a token and a key, where the module is, and
 * where the PIN comes from.
 */
#ifndef RB_KEYS_P11URI_H
#define RB_KEYS_P11URI_H

#include <stddef.h>

#include "core/error.h"

/* Decoded attributes; NULL when absent. All owned; free with rb_p11uri_clear. */
typedef struct rb_p11uri {
    char *token;        /* token label */
    char *serial;       /* token serial number */
    char *manufacturer; /* token manufacturer */
    char *model;        /* token model */
    char *object;       /* CKA_LABEL */
    unsigned char *id;  /* CKA_ID bytes */
    size_t id_len;
    char *type;        /* "private", "public", "cert", ... */
    char *module_path; /* PKCS#11 module file */
    char *pin_source;  /* file holding the PIN ("file:" prefix allowed) */
    char *pin_value;   /* the PIN itself (cleared on rb_p11uri_clear) */
} rb_p11uri;

/*
 * Parses text ("pkcs11:" path ["?" query]). Unknown or repeated attributes and
 * bad percent-encoding are RB_EINVAL. On failure *uri holds nothing to free.
 */
rb_status rb_p11uri_parse(const char *text, rb_p11uri *uri, rb_error *err) RB_MUST_CHECK;

/* Frees what uri holds (clearing the PIN) and zeroes it. */
void rb_p11uri_clear(rb_p11uri *uri);

/*
 * A reference to a private key: "pkcs11:token=T[;serial=S];object=O;type=private"
 * with "?module-path=...&pin-source=..." when those are given. Owned (free());
 * NULL when out of memory.
 */
char *rb_p11uri_reference(const char *token, const char *serial, const char *object,
                          const char *module_path, const char *pin_source);

#endif
