/*
 * Error context: keeps the first (innermost) failure of an operation together
 * with the rule it broke and the OpenSSL error queue at that moment.
 */
#include "core/error.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rb_error_clear(rb_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
}

static void record(rb_error *err, rb_status status, const char *rule, const char *fmt, va_list ap)
{
    err->status = status;
    snprintf(err->rule, sizeof(err->rule), "%s", rule ? rule : "");
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

rb_status rb_fail(rb_error *err, rb_status status, const char *rule, const char *fmt, ...)
{
    if (err != NULL && err->status == RB_OK) {
        va_list ap;
        va_start(ap, fmt);
        record(err, status, rule, fmt, ap);
        va_end(ap);
    }
    return status;
}

static void drain_openssl_queue(char *out, size_t len)
{
    unsigned long code;
    size_t used = 0;
    out[0] = '\0';
    while ((code = ERR_get_error()) != 0) {
        char one[256];
        ERR_error_string_n(code, one, sizeof(one));
        int n = snprintf(out + used, len - used, "%s%s", used ? "; " : "", one);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    ERR_clear_error();
}

rb_status rb_fail_crypto(rb_error *err, const char *fmt, ...)
{
    if (err != NULL && err->status == RB_OK) {
        va_list ap;
        va_start(ap, fmt);
        record(err, RB_ECRYPTO, NULL, fmt, ap);
        va_end(ap);
        drain_openssl_queue(err->crypto, sizeof(err->crypto));
    } else {
        ERR_clear_error();
    }
    return RB_ECRYPTO;
}

const char *rb_status_name(rb_status status)
{
    switch (status) {
    case RB_OK:
        return "ok";
    case RB_EINVAL:
        return "invalid input";
    case RB_ENOTFOUND:
        return "not found";
    case RB_ECONFLICT:
        return "conflict";
    case RB_ESTATE:
        return "not allowed in the current state";
    case RB_EPERM:
        return "permission denied";
    case RB_ESTORE:
        return "database error";
    case RB_ECRYPTO:
        return "cryptographic error";
    case RB_EIO:
        return "input/output error";
    case RB_ENOMEM:
        return "out of memory";
    case RB_EINTERNAL:
        return "internal error";
    }
    return "unknown error";
}

const char *rb_error_format(const rb_error *err, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s%s", err->message[0] ? err->message : rb_status_name(err->status),
             err->rule[0] ? " (" : "", err->rule, err->rule[0] ? ")" : "",
             err->crypto[0] ? " [openssl: " : "", err->crypto[0] ? err->crypto : "");
    if (err->crypto[0]) {
        size_t used = strlen(buf);
        if (used + 1 < len)
            snprintf(buf + used, len - used, "]");
    }
    return buf;
}
