/*
 * libFuzzer target for the OCSP request parsers (src/ocsp/request.c): any
 * bytes must give either a parsed request whose CertIDs are all readable or
 * a refusal, never a crash, a leak or a read out of bounds; and whatever the
 * allocation-free reader of the RFC 5019 form accepts, OpenSSL's parser must
 * accept and read the same way.
 *
 * Build and run all targets: fuzz/run (FUZZ_SECONDS per target); build only:
 *   make FUZZ=1 BUILD=build-fuzz fuzz
 * The seed corpus holds requests made with `openssl ocsp -reqout` (one
 * CertID with and without a nonce, SHA-256 CertIDs, two CertIDs).
 */
#include "ocsp/ocsp.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rb_ocsp_request req;
    rb_error err = {0};
    rb_ocsp_certid simple;
    int is_simple = rb_ocsp_request_parse_simple(data, size, &simple);
    rb_status parsed = rb_ocsp_request_parse(data, size, &req, &err);
    if (is_simple) {
        const rb_ocsp_certid *full = &req.ids[0];
        if (parsed != RB_OK || req.count != 1 || req.has_nonce || full->hash_nid != NID_sha1 ||
            strcmp(simple.serial, full->serial) != 0 ||
            simple.name_hash_len != full->name_hash_len ||
            simple.key_hash_len != full->key_hash_len ||
            memcmp(simple.name_hash, full->name_hash, simple.name_hash_len) != 0 ||
            memcmp(simple.key_hash, full->key_hash, simple.key_hash_len) != 0)
            __builtin_trap();
    }
    if (parsed == RB_OK) {
        size_t sum = 0;
        for (size_t i = 0; i < req.count; i++) {
            const rb_ocsp_certid *id = &req.ids[i];
            /* touch every borrowed byte so ASan sees any bad pointer */
            for (size_t j = 0; j < id->name_hash_len; j++)
                sum += id->name_hash[j];
            for (size_t j = 0; j < id->key_hash_len; j++)
                sum += id->key_hash[j];
            sum += strlen(id->serial);
        }
        if (req.count == 0 || req.count > RB_OCSP_MAX_CERTIDS || sum == (size_t)-1)
            __builtin_trap();
    }
    rb_ocsp_request_clear(&req);
    return 0;
}
