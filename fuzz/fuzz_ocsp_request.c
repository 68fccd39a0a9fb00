/*
 * libFuzzer target for the OCSP request parser (src/ocsp/request.c): any
 * bytes must give either a parsed request whose CertIDs are all readable or
 * a refusal, never a crash, a leak or a read out of bounds.
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
    if (rb_ocsp_request_parse(data, size, &req, &err) == RB_OK) {
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
