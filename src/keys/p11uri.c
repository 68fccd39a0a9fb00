/*
 * RFC 7512 PKCS#11 URIs: parsing the attributes the key store understands
 * (token, serial, manufacturer, model, object, id, type in the path;
 * module-path, pin-source, pin-value in the query) with percent-decoding,
 * and writing them back percent-encoded.
 */
#include "keys/p11uri.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define RFC7512 "RFC 7512"

void rb_p11uri_clear(rb_p11uri *uri)
{
    char **strings[] = {&uri->token,       &uri->serial,     &uri->manufacturer,
                        &uri->model,       &uri->object,     &uri->type,
                        &uri->module_path, &uri->pin_source, &uri->pin_value};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (*strings[i] != NULL)
            OPENSSL_cleanse(*strings[i], strlen(*strings[i]));
        free(*strings[i]);
    }
    free(uri->id);
    memset(uri, 0, sizeof(*uri));
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes text[0..len) into a new buffer (NUL-terminated for convenience). */
static rb_status percent_decode(const char *name, const char *text, size_t len, unsigned char **out,
                                size_t *out_len, rb_error *err)
{
    unsigned char *buf = malloc(len + 1);
    size_t n = 0;
    if (buf == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '%') {
            buf[n++] = (unsigned char)text[i];
            continue;
        }
        int hi = i + 2 < len ? hex_value(text[i + 1]) : -1;
        int lo = i + 2 < len ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(buf);
            return rb_fail(err, RB_EINVAL, RFC7512 " section 2.3: bad percent-encoding",
                           "bad percent-encoding in the PKCS#11 URI attribute %s", name);
        }
        buf[n++] = (unsigned char)(hi * 16 + lo);
        i += 2;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return RB_OK;
}

/* Decodes a value that must be text: no NUL byte inside. */
static rb_status decode_string(const char *name, const char *text, size_t len, char **slot,
                               rb_error *err)
{
    unsigned char *value;
    size_t value_len;
    if (*slot != NULL)
        return rb_fail(err, RB_EINVAL, RFC7512 " section 2.3: attribute repeated",
                       "the PKCS#11 URI gives %s twice", name);
    rb_status st = percent_decode(name, text, len, &value, &value_len, err);
    if (st != RB_OK)
        return st;
    if (strlen((char *)value) != value_len || value_len == 0) {
        free(value);
        return rb_fail(err, RB_EINVAL, NULL, "the PKCS#11 URI attribute %s is empty or holds NUL",
                       name);
    }
    *slot = (char *)value;
    return RB_OK;
}

static rb_status set_attribute(rb_p11uri *uri, const char *attr, size_t attr_len, rb_error *err)
{
    const char *eq = memchr(attr, '=', attr_len);
    if (eq == NULL)
        return rb_fail(err, RB_EINVAL, RFC7512 " section 2.3: attribute without value",
                       "PKCS#11 URI attribute '%.*s' has no '='", (int)attr_len, attr);
    size_t name_len = (size_t)(eq - attr);
    const char *value = eq + 1;
    size_t value_len = attr_len - name_len - 1;
    struct {
        const char *name;
        char **slot;
    } strings[] = {
        {"token", &uri->token},
        {"serial", &uri->serial},
        {"manufacturer", &uri->manufacturer},
        {"model", &uri->model},
        {"object", &uri->object},
        {"type", &uri->type},
        {"module-path", &uri->module_path},
        {"pin-source", &uri->pin_source},
        {"pin-value", &uri->pin_value},
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (strlen(strings[i].name) == name_len && strncmp(attr, strings[i].name, name_len) == 0)
            return decode_string(strings[i].name, value, value_len, strings[i].slot, err);
    }
    if (name_len == 2 && strncmp(attr, "id", 2) == 0) {
        if (uri->id != NULL)
            return rb_fail(err, RB_EINVAL, RFC7512 " section 2.3: attribute repeated",
                           "the PKCS#11 URI gives id twice");
        rb_status st = percent_decode("id", value, value_len, &uri->id, &uri->id_len, err);
        if (st == RB_OK && uri->id_len == 0)
            return rb_fail(err, RB_EINVAL, NULL, "the PKCS#11 URI attribute id is empty");
        return st;
    }
    return rb_fail(err, RB_EINVAL, NULL,
                   "unsupported PKCS#11 URI attribute '%.*s' (supported: token, serial, "
                   "manufacturer, model, object, id, type, module-path, pin-source, pin-value)",
                   (int)name_len, attr);
}

static rb_status parse_part(rb_p11uri *uri, const char *part, size_t len, char separator,
                            rb_error *err)
{
    size_t start = 0;
    while (start < len) {
        const char *next = memchr(part + start, separator, len - start);
        size_t end = next ? (size_t)(next - part) : len;
        if (end > start) {
            rb_status st = set_attribute(uri, part + start, end - start, err);
            if (st != RB_OK)
                return st;
        }
        start = end + 1;
    }
    return RB_OK;
}

rb_status rb_p11uri_parse(const char *text, rb_p11uri *uri, rb_error *err)
{
    memset(uri, 0, sizeof(*uri));
    if (strncasecmp(text, "pkcs11:", 7) != 0)
        return rb_fail(err, RB_EINVAL, NULL, "'%s' is not a pkcs11: URI", text);
    const char *path = text + 7;
    const char *query = strchr(path, '?');
    size_t path_len = query ? (size_t)(query - path) : strlen(path);
    /* module-path and the PIN attributes belong in the query; the path also takes them. */
    rb_status st = parse_part(uri, path, path_len, ';', err);
    if (st == RB_OK && query != NULL)
        st = parse_part(uri, query + 1, strlen(query + 1), '&', err);
    if (st != RB_OK)
        rb_p11uri_clear(uri);
    return st;
}

/* Appends value percent-encoded; keep lists the characters left as they are besides unreserved
 * ones. */
static void append_encoded(char *out, size_t *used, size_t cap, const unsigned char *value,
                           size_t len, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len && *used + 4 < cap; i++) {
        unsigned char c = value[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c) != NULL || (c != '\0' && strchr(keep, c) != NULL)) {
            out[(*used)++] = (char)c;
        } else {
            out[(*used)++] = '%';
            out[(*used)++] = hex[c >> 4];
            out[(*used)++] = hex[c & 15];
        }
    }
    out[*used] = '\0';
}

static void append_attr(char *out, size_t *used, size_t cap, const char *sep, const char *name,
                        const char *value, const char *keep)
{
    size_t n = strlen(sep) + strlen(name) + 1;
    if (*used + n >= cap)
        return;
    snprintf(out + *used, cap - *used, "%s%s=", sep, name);
    *used += n;
    append_encoded(out, used, cap, (const unsigned char *)value, strlen(value), keep);
}

char *rb_p11uri_reference(const char *token, const char *serial, const char *object,
                          const char *module_path, const char *pin_source)
{
    size_t cap =
        3 * (strlen(token) + strlen(object) + (serial ? strlen(serial) : 0) +
             (module_path ? strlen(module_path) : 0) + (pin_source ? strlen(pin_source) : 0)) +
        128;
    char *out = malloc(cap);
    size_t used = 0;
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    append_attr(out, &used, cap, "pkcs11:", "token", token, "");
    if (serial != NULL)
        append_attr(out, &used, cap, ";", "serial", serial, "");
    append_attr(out, &used, cap, ";", "object", object, "");
    append_attr(out, &used, cap, ";", "type", "private", "");
    const char *sep = "?";
    if (module_path != NULL) {
        append_attr(out, &used, cap, sep, "module-path", module_path, "/:");
        sep = "&";
    }
    if (pin_source != NULL)
        append_attr(out, &used, cap, sep, "pin-source", pin_source, "/:");
    return out;
}
