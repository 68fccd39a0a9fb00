/*
 * RFC 3161 responses. Queries that will be granted, with a P-256 file key,
 * are answered by token.c, which encodes the token itself; the rest (other
 * keys, token keys, every refusal) by OpenSSL's TS_RESP_CTX. A TS_RESP_CTX
 * holds the request being answered, so it cannot be shared: each thread gets
 * its own, made on first use from the shared signer key, certificate and
 * chain (core/perthread.h), with its own signing context for token.c. Serial
 * numbers are 128 random bits (see new_serial), the time comes from the
 * caller's rb_ctx clock, and each granted token is handed to the record
 * writer (records.c) before it may be sent.
 */
#include "tsa/tsa.h"

#include "core/hex.h"
#include "ca/ca.h"
#include "core/metrics.h"
#include "core/perthread.h"
#include "tsa/records.h"
#include "tsa/token.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ts.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rb_tsa {
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) *chain;
    const EVP_MD *signer_md;
    ASN1_OBJECT *policy;
    STACK_OF(ASN1_OBJECT) *others;
    int accuracy_ms;
    int hardware; /* serialise signing (token keys) */
    pthread_mutex_t sign_lock;
    tsa_token_signer *fast; /* NULL: every query goes through OpenSSL */
    rb_perthread *threads;  /* tsa_thread per calling thread */
    tsa_writer *writer;
    rb_authority *authority; /* when loaded from the store: keeps a token key's module open */
};

/* One thread's OpenSSL context and what its callbacks saw for the last request. */
typedef struct tsa_thread {
    TS_RESP_CTX *rctx;
    EVP_PKEY_CTX *sign_ctx; /* for token.c; NULL when the TSA has no fast path */
    const rb_clock *clock;
    int64_t at_ms;
    char serial[2 * TSA_SERIAL_BYTES + 1];
} tsa_thread;

/*
 * Serials: 128 random bits rather than a counter. Uniqueness across threads,
 * processes and machines sharing one PostgreSQL then needs no coordination at
 * all (a reserved block of a shared counter needs a transaction per block and
 * care at restart), the serial reveals nothing about volume, and the primary
 * key on tsa_tokens still refuses a duplicate before its token can leave.
 * RFC 3161 lets serials be up to 160 bits.
 */
static int new_serial(uint8_t bytes[TSA_SERIAL_BYTES])
{
    if (RAND_bytes(bytes, TSA_SERIAL_BYTES) != 1)
        return 0;
    bytes[0] &= 0x7f; /* positive */
    if (bytes[0] == 0)
        bytes[0] = 1; /* always 16 bytes, so the hex form has one spelling */
    return 1;
}

static ASN1_INTEGER *serial_cb(TS_RESP_CTX *rctx, void *data)
{
    tsa_thread *t = data;
    uint8_t bytes[TSA_SERIAL_BYTES];
    if (!new_serial(bytes))
        goto fail;
    BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    BN_free(bn);
    if (serial == NULL)
        goto fail;
    rb_hex_upper(bytes, sizeof(bytes), t->serial);
    return serial;
fail:
    TS_RESP_CTX_set_status_info(rctx, TS_STATUS_REJECTION,
                                "Error during serial number generation.");
    TS_RESP_CTX_add_failure_info(rctx, TS_INFO_ADD_INFO_NOT_AVAILABLE);
    return NULL;
}

static int time_cb(TS_RESP_CTX *rctx, void *data, long *sec, long *usec)
{
    (void)rctx;
    tsa_thread *t = data;
    t->at_ms = rb_clock_now_ms(t->clock);
    *sec = (long)(t->at_ms / 1000);
    *usec = (long)(t->at_ms % 1000) * 1000;
    return 1;
}

/* Builds a TS_RESP_CTX from the shared signer; also used once at start-up as a check. */
static TS_RESP_CTX *make_resp_ctx(const rb_tsa *tsa, tsa_thread *t, rb_error *err)
{
    TS_RESP_CTX *c = TS_RESP_CTX_new();
    if (c == NULL) {
        rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    int ok = TS_RESP_CTX_set_signer_cert(c, tsa->cert);
    if (!ok) {
        rb_fail_crypto(err, "RFC 3161 2.3: the TSA certificate must have the extended key usage "
                            "timeStamping, alone and critical");
        TS_RESP_CTX_free(c);
        return NULL;
    }
    ok = TS_RESP_CTX_set_signer_key(c, tsa->key) &&
         TS_RESP_CTX_set_signer_digest(c, tsa->signer_md) &&
         TS_RESP_CTX_set_ess_cert_id_digest(c, EVP_sha256()) && /* RFC 5816 ESSCertIDv2 */
         TS_RESP_CTX_set_def_policy(c, tsa->policy) &&
         TS_RESP_CTX_set_clock_precision_digits(c, 3) && TS_RESP_CTX_add_md(c, EVP_sha256()) &&
         TS_RESP_CTX_add_md(c, EVP_sha384()) && TS_RESP_CTX_add_md(c, EVP_sha512());
    if (ok && tsa->chain != NULL)
        ok = TS_RESP_CTX_set_certs(c, tsa->chain);
    for (int i = 0; ok && i < sk_ASN1_OBJECT_num(tsa->others); i++)
        ok = TS_RESP_CTX_add_policy(c, sk_ASN1_OBJECT_value(tsa->others, i));
    if (ok && tsa->accuracy_ms > 0)
        ok = TS_RESP_CTX_set_accuracy(c, tsa->accuracy_ms / 1000, tsa->accuracy_ms % 1000, 0);
    if (!ok) {
        rb_fail_crypto(err, "could not set up the time-stamp responder");
        TS_RESP_CTX_free(c);
        return NULL;
    }
    TS_RESP_CTX_set_serial_cb(c, serial_cb, t);
    TS_RESP_CTX_set_time_cb(c, time_cb, t);
    return c;
}

static void *thread_make(void *arg, rb_error *err)
{
    tsa_thread *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        rb_fail(err, RB_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    const rb_tsa *tsa = arg;
    t->rctx = make_resp_ctx(tsa, t, err);
    if (t->rctx != NULL && tsa->fast != NULL &&
        (t->sign_ctx = tsa_token_sign_ctx(tsa->fast)) == NULL)
        rb_fail_crypto(err, "could not set up the time-stamp signer");
    if (t->rctx == NULL || (tsa->fast != NULL && t->sign_ctx == NULL)) {
        TS_RESP_CTX_free(t->rctx);
        free(t);
        return NULL;
    }
    return t;
}

static void thread_free(void *value)
{
    tsa_thread *t = value;
    TS_RESP_CTX_free(t->rctx);
    EVP_PKEY_CTX_free(t->sign_ctx);
    free(t);
}

/* Parses "1.2.3, 1.2.4" into objects; numeric OIDs only, so a typo is not taken as a name. */
static rb_status parse_policies(const char *list, STACK_OF(ASN1_OBJECT) **out, rb_error *err)
{
    STACK_OF(ASN1_OBJECT) *objs = sk_ASN1_OBJECT_new_null();
    if (objs == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    const char *p = list ? list : "";
    while (*p != '\0') {
        size_t n = strcspn(p, ", ");
        if (n > 0 && n < TSA_MAX_POLICY) {
            char oid[TSA_MAX_POLICY];
            memcpy(oid, p, n);
            oid[n] = '\0';
            ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
            if (obj == NULL || !sk_ASN1_OBJECT_push(objs, obj)) {
                ASN1_OBJECT_free(obj);
                sk_ASN1_OBJECT_pop_free(objs, ASN1_OBJECT_free);
                return rb_fail(err, RB_EINVAL, NULL, "'%s' is not a policy OID", oid);
            }
        } else if (n > 0) {
            sk_ASN1_OBJECT_pop_free(objs, ASN1_OBJECT_free);
            return rb_fail(err, RB_EINVAL, NULL, "a TSA policy OID is too long");
        }
        p += n;
        p += strspn(p, ", ");
    }
    *out = objs;
    return RB_OK;
}

/* SHA-384 for P-384 (and larger EC) keys, SHA-256 otherwise. */
static const EVP_MD *signer_digest(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384)
        return EVP_PKEY_get_bits(key) > 384 ? EVP_sha512() : EVP_sha384();
    return EVP_sha256();
}

rb_status rb_tsa_new(const rb_tsa_config *cfg, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
                     int hardware, rb_tsa **out, rb_error *err)
{
    if (cfg == NULL || cfg->db == NULL || cfg->policy == NULL || key == NULL || cert == NULL)
        return rb_fail(err, RB_EINVAL, NULL,
                       "the TSA needs a database, a policy, a key and a "
                       "certificate");
    if (!hardware && X509_check_private_key(cert, key) != 1)
        return rb_fail_crypto(err, "the TSA key does not match its certificate");
    rb_tsa *tsa = calloc(1, sizeof(*tsa));
    if (tsa == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&tsa->sign_lock, NULL);
    EVP_PKEY_up_ref(key);
    X509_up_ref(cert);
    tsa->key = key;
    tsa->cert = cert;
    tsa->hardware = hardware;
    tsa->accuracy_ms = cfg->accuracy_ms;
    tsa->signer_md = signer_digest(key);
    rb_status s = RB_OK;
    if (chain != NULL && (tsa->chain = X509_chain_up_ref(chain)) == NULL)
        s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    tsa->policy = OBJ_txt2obj(cfg->policy, 1);
    if (s == RB_OK && tsa->policy == NULL)
        s = rb_fail(err, RB_EINVAL, NULL, "'%s' is not a policy OID", cfg->policy);
    if (s == RB_OK)
        s = parse_policies(cfg->other_policies, &tsa->others, err);
    if (s == RB_OK) {
        /* Fail now, with a clear message, rather than on the first request. */
        tsa_thread probe = {0};
        TS_RESP_CTX *c = make_resp_ctx(tsa, &probe, err);
        s = c ? RB_OK : err->status;
        TS_RESP_CTX_free(c);
    }
    if (s == RB_OK && !hardware) {
        s = tsa_token_signer_new(key, cert, tsa->chain, tsa->policy, tsa->others, tsa->accuracy_ms,
                                 &tsa->fast, err);
        if (s == RB_ENOTFOUND)
            s = RB_OK; /* not a key token.c signs with */
    }
    if (s == RB_OK)
        s = rb_perthread_new(thread_make, thread_free, tsa, &tsa->threads, err);
    if (s == RB_OK)
        s = tsa_writer_start(cfg->db, &tsa->writer, err);
    if (s != RB_OK) {
        rb_tsa_free(tsa);
        return s;
    }
    *out = tsa;
    return RB_OK;
}

void rb_tsa_free(rb_tsa *tsa)
{
    if (tsa == NULL)
        return;
    tsa_writer_stop(tsa->writer);
    rb_perthread_free(tsa->threads);
    tsa_token_signer_free(tsa->fast);
    EVP_PKEY_free(tsa->key);
    X509_free(tsa->cert);
    sk_X509_pop_free(tsa->chain, X509_free);
    ASN1_OBJECT_free(tsa->policy);
    sk_ASN1_OBJECT_pop_free(tsa->others, ASN1_OBJECT_free);
    rb_authority_free(tsa->authority);
    pthread_mutex_destroy(&tsa->sign_lock);
    free(tsa);
}

X509 *rb_tsa_get0_cert(const rb_tsa *tsa)
{
    return tsa->cert;
}

const char *rb_tsa_get0_authority_name(const rb_tsa *tsa)
{
    return tsa->authority ? tsa->authority->name : NULL;
}

rb_status rb_tsa_new_from_store(const rb_tsa_config *cfg, rb_ctx *ctx, const rb_key_secret *secret,
                                rb_tsa **out, rb_error *err)
{
    rb_authority *a = NULL;
    STACK_OF(X509) *chain = NULL;
    rb_status s = rb_authority_load(ctx, NULL, RB_ROLE_TSA, 1, secret, &a, err);
    if (s == RB_OK)
        s = rb_authority_chain(ctx, a, &chain, err);
    if (s == RB_OK) {
        /* The chain starts with the TSA certificate itself and ends with the root. */
        X509_free(sk_X509_shift(chain));
        if (sk_X509_num(chain) > 0)
            X509_free(sk_X509_pop(chain));
        s = rb_tsa_new(cfg, rb_key_get0_pkey(a->key), a->cert, chain, rb_key_is_hardware(a->key),
                       out, err);
    }
    sk_X509_pop_free(chain, X509_free);
    if (s == RB_OK)
        (*out)->authority = a; /* the key handle must outlive the TSA's reference to it */
    else
        rb_authority_free(a);
    return s;
}

rb_status rb_tsa_config_from_settings(rb_ctx *ctx, rb_tsa_config *cfg, rb_error *err)
{
    char *policy = NULL, *others = NULL, *accuracy = NULL;
    rb_status s = rb_setting_get(ctx, RB_TSA_SETTING_POLICY, &policy, err);
    if (s == RB_OK)
        s = rb_setting_get(ctx, RB_TSA_SETTING_OTHERS, &others, err);
    if (s == RB_OK)
        s = rb_setting_get(ctx, RB_TSA_SETTING_ACCURACY, &accuracy, err);
    if (s == RB_OK && policy == NULL && (policy = strdup(RB_TSA_DEFAULT_POLICY)) == NULL)
        s = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    int accuracy_ms = RB_TSA_DEFAULT_ACCURACY_MS;
    if (s == RB_OK && accuracy != NULL) {
        char *end;
        long v = strtol(accuracy, &end, 10);
        if (end == accuracy || *end != '\0' || v < 0 || v > 3600000)
            s = rb_fail(err, RB_EINVAL, NULL,
                        "the setting %s must be a number of milliseconds (0 to 3600000), not '%s'",
                        RB_TSA_SETTING_ACCURACY, accuracy);
        accuracy_ms = (int)v;
    }
    free(accuracy);
    if (s != RB_OK) {
        free(policy);
        free(others);
        return s;
    }
    cfg->policy = policy;
    cfg->other_policies = others;
    cfg->accuracy_ms = accuracy_ms;
    return RB_OK;
}

void rb_tsa_config_clear(rb_tsa_config *cfg)
{
    free((char *)cfg->policy);
    free((char *)cfg->other_policies);
    cfg->policy = NULL;
    cfg->other_policies = NULL;
}

/*
 * The parsed query (owned), or NULL for garbage and for what OpenSSL lets
 * through and we refuse: bytes after the query (it parses one DER object from
 * a stream and ignores the rest) and nonces longer than TSA_MAX_NONCE bytes
 * (RFC 3161 2.4.1 suggests 64 bits). For NULL the caller hands OpenSSL nothing
 * to parse, and it answers badDataFormat as for any garbage.
 */
static TS_REQ *parse_query(const uint8_t *req, size_t len)
{
    if (len == 0 || len > INT32_MAX)
        return NULL;
    const unsigned char *p = req;
    TS_REQ *parsed = d2i_TS_REQ(NULL, &p, (long)len);
    if (parsed == NULL) {
        ERR_clear_error();
        return NULL;
    }
    const ASN1_INTEGER *nonce = TS_REQ_get_nonce(parsed);
    if (p != req + len || (nonce != NULL && ASN1_STRING_length(nonce) > TSA_MAX_NONCE)) {
        TS_REQ_free(parsed);
        return NULL;
    }
    return parsed;
}

/*
 * The timeStampToken inside a DER TimeStampResp (RFC 3161 2.4.2: a SEQUENCE
 * of the PKIStatusInfo and the token), found without encoding it again.
 * der is our own encoding; returns 0 if it is not what we expect.
 */
static int locate_token(const uint8_t *der, size_t der_len, const uint8_t **token, size_t *len)
{
    const unsigned char *p = der;
    long body_len, status_len;
    int tag, cls;
    if (ASN1_get_object(&p, &body_len, &tag, &cls, (long)der_len) & 0x80)
        return 0;
    const unsigned char *end = p + body_len;
    if (ASN1_get_object(&p, &status_len, &tag, &cls, end - p) & 0x80)
        return 0;
    p += status_len;
    if (p >= end)
        return 0;
    *token = p;
    *len = (size_t)(end - p);
    return 1;
}

/* Fills rec from the granted resp, whose DER encoding (already made) is der. */
static void fill_record(const tsa_thread *t, TS_RESP *resp, const uint8_t *der, size_t der_len,
                        tsa_record *rec)
{
    TS_TST_INFO *info = TS_RESP_get_tst_info(resp);
    snprintf(rec->serial, sizeof(rec->serial), "%s", t->serial);
    rec->at_ms = t->at_ms;
    tsa_record_fill(rec, TS_TST_INFO_get_policy_id(info), TS_TST_INFO_get_msg_imprint(info),
                    TS_TST_INFO_get_nonce(info));
    /* The hash of the token as sent, taken from the response's own bytes. */
    const uint8_t *token = NULL;
    size_t token_len = 0;
    uint8_t hash[SHA256_DIGEST_LENGTH];
    if (!locate_token(der, der_len, &token, &token_len))
        token_len = 0;
    SHA256(token, token_len, hash);
    rb_hex_lower(hash, sizeof(hash), rec->token_sha256);
}

/* Runs OpenSSL on req, or on nothing when req is to be refused as malformed (len 0). */
static TS_RESP *create_response(rb_tsa *tsa, tsa_thread *t, const uint8_t *req, size_t len)
{
    BIO *in = BIO_new_mem_buf(req, (int)len);
    if (in == NULL)
        return NULL;
    if (tsa->hardware)
        pthread_mutex_lock(&tsa->sign_lock);
    TS_RESP *resp = TS_RESP_create_response(t->rctx, in);
    if (tsa->hardware)
        pthread_mutex_unlock(&tsa->sign_lock);
    BIO_free(in);
    return resp;
}

static int is_granted(TS_RESP *resp)
{
    long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
    return (status == TS_STATUS_GRANTED || status == TS_STATUS_GRANTED_WITH_MODS) &&
           TS_RESP_get_token(resp) != NULL;
}

/* A query token.c answers: the token, its record queued. */
static rb_status respond_fast(rb_tsa *tsa, tsa_thread *t, rb_ctx *ctx, TS_REQ *query,
                              uint8_t **resp, size_t *resp_len, rb_tsa_done_fn done, void *arg,
                              rb_error *err)
{
    uint8_t serial[TSA_SERIAL_BYTES];
    if (!new_serial(serial))
        return rb_fail_crypto(err, "could not draw a time-stamp serial number");
    tsa_record *rec = calloc(1, sizeof(*rec));
    if (rec == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    rb_status s = tsa_token_build(tsa->fast, t->sign_ctx, query, serial,
                                  rb_clock_now_ms(&ctx->clock), resp, resp_len, rec, err);
    if (s != RB_OK) {
        free(rec);
        return s;
    }
    rec->done = done;
    rec->arg = arg;
    tsa_writer_submit(tsa->writer, rec);
    return RB_OK;
}

rb_status rb_tsa_respond_async(rb_tsa *tsa, rb_ctx *ctx, const uint8_t *req, size_t len,
                               uint8_t **resp, size_t *resp_len, rb_tsa_done_fn done, void *arg,
                               rb_error *err)
{
    tsa_thread *t;
    rb_status s = rb_perthread_get(tsa->threads, (void **)&t, err);
    if (s != RB_OK)
        return s;
    TS_REQ *query = parse_query(req, len);
    if (query != NULL && t->sign_ctx != NULL && tsa_token_takes(tsa->fast, query)) {
        s = respond_fast(tsa, t, ctx, query, resp, resp_len, done, arg, err);
        TS_REQ_free(query);
        return s;
    }
    int acceptable = query != NULL;
    TS_REQ_free(query);
    t->clock = &ctx->clock;
    t->serial[0] = '\0';
    TS_RESP *answer = create_response(tsa, t, req, acceptable ? len : 0);
    if (answer == NULL)
        return rb_fail_crypto(err, "could not build a time-stamp response");
    tsa_record *rec = NULL;
    if (is_granted(answer) && (rec = calloc(1, sizeof(*rec))) == NULL) {
        TS_RESP_free(answer);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    int der_len = i2d_TS_RESP(answer, NULL);
    uint8_t *der = der_len > 0 ? malloc((size_t)der_len) : NULL;
    unsigned char *p = der;
    if (der == NULL || i2d_TS_RESP(answer, &p) != der_len) {
        free(der);
        free(rec);
        TS_RESP_free(answer);
        return rb_fail_crypto(err, "could not encode a time-stamp response");
    }
    if (rec != NULL)
        fill_record(t, answer, der, (size_t)der_len, rec);
    TS_RESP_free(answer);
    *resp = der;
    *resp_len = (size_t)der_len;
    if (rec == NULL) {
        rb_metrics_add(RB_METRIC_TSA_REJECTIONS, 1);
        done(arg, RB_OK);
        return RB_OK;
    }
    rec->done = done;
    rec->arg = arg;
    tsa_writer_submit(tsa->writer, rec);
    return RB_OK;
}

typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int finished;
    rb_status status;
} waiter;

static void wake_waiter(void *arg, rb_status status)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    w->finished = 1;
    w->status = status;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

rb_status rb_tsa_respond(rb_tsa *tsa, rb_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                         size_t *resp_len, rb_error *err)
{
    waiter w = {.finished = 0};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    uint8_t *der = NULL;
    size_t der_len = 0;
    rb_status s = rb_tsa_respond_async(tsa, ctx, req, len, &der, &der_len, wake_waiter, &w, err);
    if (s == RB_OK) {
        pthread_mutex_lock(&w.lock);
        while (!w.finished)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        s = w.status;
        if (s != RB_OK)
            rb_fail(err, s, NULL,
                    "the time-stamp token could not be recorded, so it was not issued");
    }
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    if (s != RB_OK) {
        free(der);
        return s;
    }
    *resp = der;
    *resp_len = der_len;
    return RB_OK;
}
