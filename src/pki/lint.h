/*
 * Pre-issuance checks: before the CA signs, the to-be-signed certificate is
 * checked against RFC 5280 and its profile (as Boulder lints every
 * certificate before issuance). A failure stops issuance and names the rule.
 */
#ifndef RB_PKI_LINT_H
#define RB_PKI_LINT_H

#include <openssl/x509.h>

#include "core/error.h"
#include "pki/profile.h"

/*
 * What the linter remembers between certificates of one issuer: the
 * encoding of the extensions a profile makes the same for every certificate
 * (basic constraints, key usages, authority key identifier, AIA, CRL
 * distribution points, policies, ocsp-nocheck) that last passed, with the
 * profile and issuer it passed for. Decoding and checking them again gives
 * the same answer for the same bytes, so an identical encoding is not
 * decoded again; any difference in any byte, the profile or the issuer
 * checks them in full. Not shared between threads.
 */
typedef struct rb_lint_memo rb_lint_memo;

/* A new, empty memo (NULL when out of memory); free with rb_lint_memo_free (NULL is fine). */
rb_lint_memo *rb_lint_memo_new(void);
void rb_lint_memo_free(rb_lint_memo *memo);

/*
 * Checks cert (complete but for its signature) as a subscriber certificate of
 * profile, to be signed by issuer. Returns RB_OK, or RB_EINVAL with the rule.
 * The public key is checked beforehand with rb_check_public_key. memo may be
 * NULL (every check in full); profile and issuer must outlive the memo or not
 * be used with it again: they are remembered by address.
 */
rb_status rb_lint_leaf_memo(X509 *cert, const rb_profile *profile, X509 *issuer, rb_lint_memo *memo,
                            rb_error *err) RB_MUST_CHECK;

#endif
