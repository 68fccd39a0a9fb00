/*
 * The time-stamping unit: RFC 3161 responses with RFC 5816 ESSCertIDv2,
 * signed by the TSA certificate (EKU timeStamping, critical). One rb_tsa is
 * shared by every thread; it keeps an OpenSSL TS_RESP_CTX per thread, since
 * those are not thread-safe. Every token issued is recorded in tsa_tokens
 * (serial, time, policy, message imprint, nonce, hash of the token), and a
 * token is handed out only once its record is committed.
 */
#ifndef RB_TSA_TSA_H
#define RB_TSA_TSA_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "core/context.h"
#include "core/error.h"
#include "keys/keys.h"

typedef struct rb_tsa rb_tsa;

typedef struct rb_tsa_config {
    /*
     * Where token records go: a SQLite path or postgres:// URL, migrated. The
     * TSA opens its own connection there for its record writer.
     */
    const char *db;
    const char *policy;         /* default policy OID (required) */
    const char *other_policies; /* further OIDs a request may ask for, comma-separated; or NULL */
    int accuracy_ms;            /* accuracy stated in tokens; 0 leaves it out */
} rb_tsa_config;

/* Settings read by rb_tsa_config_from_settings, and what applies when unset. */
#define RB_TSA_SETTING_POLICY      "tsa.policy"
#define RB_TSA_SETTING_OTHERS      "tsa.other_policies"
#define RB_TSA_SETTING_ACCURACY    "tsa.accuracy_ms"
#define RB_TSA_DEFAULT_POLICY      "2.999.1.8"
#define RB_TSA_DEFAULT_ACCURACY_MS 1000

/*
 * Fills cfg's policy, other_policies and accuracy_ms from the settings table
 * (defaults above when unset). The strings are owned by the caller: free them
 * with rb_tsa_config_clear. cfg->db is left alone.
 */
rb_status rb_tsa_config_from_settings(rb_ctx *ctx, rb_tsa_config *cfg, rb_error *err) RB_MUST_CHECK;
void rb_tsa_config_clear(rb_tsa_config *cfg);

/*
 * Creates a TSA signing with key and cert. chain holds the certificates sent
 * besides cert when a request sets certReq (intermediates; may be NULL).
 * rb_tsa takes its own references: the caller keeps and frees its own. key
 * must be safe to sign with from several threads at once (OpenSSL file keys
 * are); when hardware is non-zero, signing is serialised instead. Starts the
 * record writer thread. Owned; free with rb_tsa_free.
 */
rb_status rb_tsa_new(const rb_tsa_config *cfg, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
                     int hardware, rb_tsa **out, rb_error *err) RB_MUST_CHECK;

/*
 * Creates a TSA from the store: the newest authority with role tsa, its key
 * (secret: where its passphrase or PIN comes from; NULL for the environment)
 * and its chain up to, not including, the root.
 */
rb_status rb_tsa_new_from_store(const rb_tsa_config *cfg, rb_ctx *ctx, const rb_key_secret *secret,
                                rb_tsa **out, rb_error *err) RB_MUST_CHECK;

/*
 * Stops the record writer after it has committed everything queued, and frees
 * the TSA. Call only once no thread is inside rb_tsa_respond*. NULL is a no-op.
 */
void rb_tsa_free(rb_tsa *tsa);

/* The TSA certificate (borrowed). */
X509 *rb_tsa_get0_cert(const rb_tsa *tsa);
/* The name of the TSA's authority when it was loaded from the store, else NULL (borrowed). */
const char *rb_tsa_get0_authority_name(const rb_tsa *tsa);

/*
 * Answers the DER time-stamp query req with a DER TimeStampResp in *resp
 * (malloc'd, the caller frees). A query that is refused still gets an answer:
 * status rejection with the failInfo RFC 3161 names (badAlg, badDataFormat,
 * unacceptedPolicy, unacceptedExtension). When a token is granted, returns
 * only after its record is committed. Time comes from ctx's clock. Safe to
 * call from any number of threads at once. Returns an error (and no answer)
 * only when the TSA itself failed, including when the record could not be
 * committed.
 */
rb_status rb_tsa_respond(rb_tsa *tsa, rb_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                         size_t *resp_len, rb_error *err) RB_MUST_CHECK;

/* Called once the token's record is committed (RB_OK) or could not be (otherwise). */
typedef void (*rb_tsa_done_fn)(void *arg, rb_status status);

/*
 * Like rb_tsa_respond, but returns as soon as *resp is built; done(arg, ...)
 * is then called exactly once, from the record writer's thread or, when there
 * is nothing to record (a rejection), from this one before returning. *resp
 * must not be sent before done reports RB_OK. On an error return done is not
 * called and nothing is returned. This lets a server thread serve other
 * connections while records are committed in groups.
 */
rb_status rb_tsa_respond_async(rb_tsa *tsa, rb_ctx *ctx, const uint8_t *req, size_t len,
                               uint8_t **resp, size_t *resp_len, rb_tsa_done_fn done, void *arg,
                               rb_error *err) RB_MUST_CHECK;

#endif
