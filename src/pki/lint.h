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
 * Checks cert (complete but for its signature) as a subscriber certificate of
 * profile, to be signed by issuer. Returns RB_OK, or RB_EINVAL with the rule.
 * The public key is checked beforehand with rb_check_public_key.
 */
rb_status rb_lint_leaf(X509 *cert, const rb_profile *profile, X509 *issuer,
                       rb_error *err) RB_MUST_CHECK;

#endif
