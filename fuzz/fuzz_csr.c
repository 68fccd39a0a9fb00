/*
 * libFuzzer target for the CSR path of issuance (src/ca/csr.c): any bytes
 * must give either a request whose signature verified, or a refusal — never
 * a crash, a leak or a read out of bounds. The bytes go through
 * rb_csr_parse and through rb_csr_read with one reader kept across inputs,
 * as an issuer keeps it. Whatever our reader accepts, OpenSSL's own decoder
 * must accept too, with the same public key and a verifying signature.
 *
 * Build and run all targets: fuzz/run (FUZZ_SECONDS per target); build only:
 *   make FUZZ=1 BUILD=build-fuzz fuzz
 * The seed corpus holds DER requests made with `openssl req -outform DER`:
 * P-256, P-384, P-521, RSA-2048, one with extensions requested, one on
 * secp256k1 and one Ed25519 (parsed, then refused by the key policy).
 */
#include "ca/csr.h"
#include "pki/x509util.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rb_csr_reader *shared_reader(void)
{
    static rb_csr_reader *reader;
    rb_error err = {0};
    if (reader == NULL && rb_csr_reader_new(&reader, &err) != RB_OK)
        __builtin_trap();
    return reader;
}

/* What rb_csr_read accepted must read the same way through OpenSSL's decoder. */
static void check_against_openssl(const uint8_t *data, size_t size, const rb_csr *csr)
{
    rb_error err = {0};
    X509_REQ *req = NULL;
    if (rb_csr_parse(data, size, &req, &err) != RB_OK)
        __builtin_trap();
    EVP_PKEY *ours = rb_csr_get1_pkey(csr);
    EVP_PKEY *theirs = X509_REQ_get0_pubkey(req);
    if (ours == NULL || theirs == NULL || EVP_PKEY_eq(ours, theirs) != 1 ||
        X509_REQ_verify(req, theirs) != 1)
        __builtin_trap();
    /* The facts the key policy used come from the key OpenSSL decodes. */
    rb_key_facts facts;
    rb_key_facts_of(ours, &facts);
    const rb_key_facts *noted = rb_csr_get0_key_facts(csr);
    if (facts.type != noted->type || facts.bits != noted->bits ||
        facts.explicit_curve != noted->explicit_curve || strcmp(facts.curve, noted->curve) != 0)
        __builtin_trap();
    char spki[65];
    if (rb_spki_sha256_hex(rb_csr_get0_spki(csr), spki, &err) != RB_OK)
        __builtin_trap();
    /* The key policy only has to decide, not to crash. */
    rb_error policy = {0};
    (void)rb_check_key_facts(noted, &policy);
    EVP_PKEY_free(ours);
    X509_REQ_free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rb_error err = {0};
    rb_csr *csr = NULL;
    if (rb_csr_read(shared_reader(), data, size, &csr, &err) == RB_OK) {
        check_against_openssl(data, size, csr);
        rb_csr_free(csr);
    } else {
        /* A refusal must say why. */
        if (err.status == RB_OK || err.message[0] == '\0')
            __builtin_trap();
        X509_REQ *req = NULL;
        rb_error again = {0};
        if (rb_csr_parse(data, size, &req, &again) == RB_OK)
            __builtin_trap(); /* one path accepts what the other refused */
    }
    ERR_clear_error();
    return 0;
}
