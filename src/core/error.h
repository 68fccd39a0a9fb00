/*
 * Error reporting for librubrica. Every fallible function returns an rb_status
 * (RB_OK on success) and, on failure, fills a caller-owned rb_error with a
 * readable message, the rule that was broken (when one applies) and whatever
 * OpenSSL left on its error queue.
 */
#ifndef RB_CORE_ERROR_H
#define RB_CORE_ERROR_H

#include <stddef.h>

#define RB_MUST_CHECK   __attribute__((warn_unused_result))
#define RB_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum rb_status {
    RB_OK = 0,
    RB_EINVAL,    /* input is malformed or breaks a rule */
    RB_ENOTFOUND, /* the named object does not exist */
    RB_ECONFLICT, /* the object exists already, or a uniqueness rule is broken */
    RB_ESTATE,    /* the object is in a state that forbids the operation */
    RB_EPERM,     /* the actor may not do this */
    RB_ESTORE,    /* the database failed */
    RB_ECRYPTO,   /* a cryptographic operation failed */
    RB_EIO,       /* a file or socket failed */
    RB_ENOMEM,    /* an allocation failed */
    RB_EINTERNAL, /* a bug: an invariant did not hold */
} rb_status;

typedef struct rb_error {
    rb_status status;
    char rule[160];    /* e.g. "RFC 5280 4.1.2.2: serial number too long"; may be empty */
    char message[512]; /* what went wrong, for a person */
    char crypto[512];  /* the OpenSSL error queue, flattened; may be empty */
} rb_error;

/* Clears err (err may be NULL). */
void rb_error_clear(rb_error *err);

/*
 * Records a failure and returns status, so callers can write
 * `return rb_fail(err, RB_EINVAL, "rule", "fmt", ...)`. rule may be NULL.
 * Only the first failure is kept: later calls on an already-failed err keep the
 * original message (the innermost cause is the useful one).
 */
rb_status rb_fail(rb_error *err, rb_status status, const char *rule, const char *fmt, ...)
    RB_PRINTF(4, 5);

/* Like rb_fail, and also drains the OpenSSL error queue into err->crypto. */
rb_status rb_fail_crypto(rb_error *err, const char *fmt, ...) RB_PRINTF(2, 3);

/* Short English name of a status ("invalid input", "not found", ...). */
const char *rb_status_name(rb_status status);

/* Formats err for a person: "message (rule) [crypto]". Returns buf. */
const char *rb_error_format(const rb_error *err, char *buf, size_t len);

#endif
