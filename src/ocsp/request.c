/*
 * Parsing an OCSPRequest from the network: size-bounded, whole-input DER
 * through OpenSSL's OCSP_REQUEST, then reduced to what answering needs (the
 * CertIDs' hashes and serials as text, whether a nonce must be echoed).
 */
#include "ocsp/ocsp.h"

#include <openssl/err.h>
#include <string.h>

void rb_ocsp_request_clear(rb_ocsp_request *req)
{
    if (req == NULL)
        return;
    OCSP_REQUEST_free(req->req);
    memset(req, 0, sizeof(*req));
}

/*
 * The serial as certificates.serial spells it: upper-case hex of the
 * magnitude. Negative, zero or longer than 20 octets (RFC 5280 4.1.2.2)
 * cannot be ours and gives "".
 */
static void serial_text(const ASN1_INTEGER *serial, char out[41])
{
    static const char digits[] = "0123456789ABCDEF";
    out[0] = '\0';
    if (serial == NULL || ASN1_STRING_type(serial) != V_ASN1_INTEGER)
        return;
    int len = ASN1_STRING_length(serial);
    const uint8_t *bytes = ASN1_STRING_get0_data(serial);
    if (len <= 0 || len > 20)
        return;
    for (int i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * len] = '\0';
}

/*
 * RFC 8954 2.1: the nonce extension's value is an OCTET STRING of 1 to 32
 * octets. Returns 1 for such a nonce. Older clients put the raw octets in the
 * extension; their length is measured as is.
 */
static int echoable_nonce(OCSP_REQUEST *req)
{
    int at = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    if (at < 0)
        return 0;
    X509_EXTENSION *ext = OCSP_REQUEST_get_ext(req, at);
    ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
    const uint8_t *p = ASN1_STRING_get0_data(value);
    long len = ASN1_STRING_length(value);
    ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &p, len);
    long nonce_len = len;
    if (inner != NULL && p == ASN1_STRING_get0_data(value) + len)
        nonce_len = ASN1_STRING_length(inner);
    ASN1_OCTET_STRING_free(inner);
    return nonce_len >= 1 && nonce_len <= RB_OCSP_MAX_NONCE;
}

static void describe_certid(OCSP_CERTID *cid, rb_ocsp_certid *out)
{
    ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
    ASN1_OBJECT *alg = NULL;
    ASN1_INTEGER *serial = NULL;
    OCSP_id_get0_info(&name_hash, &alg, &key_hash, &serial, cid);
    out->id = cid;
    out->hash_nid = alg ? OBJ_obj2nid(alg) : NID_undef;
    out->name_hash = ASN1_STRING_get0_data(name_hash);
    out->name_hash_len = (size_t)ASN1_STRING_length(name_hash);
    out->key_hash = ASN1_STRING_get0_data(key_hash);
    out->key_hash_len = (size_t)ASN1_STRING_length(key_hash);
    serial_text(serial, out->serial);
}

rb_status rb_ocsp_request_parse(const uint8_t *der, size_t len, rb_ocsp_request *out, rb_error *err)
{
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1", "the OCSP request is empty");
    if (len > RB_OCSP_MAX_REQUEST_BYTES)
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1",
                       "the OCSP request has %zu bytes, more than the %d accepted", len,
                       RB_OCSP_MAX_REQUEST_BYTES);
    const uint8_t *p = der;
    OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
    if (req == NULL) {
        ERR_clear_error();
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1", "the OCSP request is not DER OCSPRequest");
    }
    if (p != der + len) {
        OCSP_REQUEST_free(req);
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1",
                       "the OCSP request has %zu bytes after its end", (size_t)(der + len - p));
    }
    int count = OCSP_request_onereq_count(req);
    if (count < 1 || count > RB_OCSP_MAX_CERTIDS) {
        OCSP_REQUEST_free(req);
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1",
                       "the OCSP request asks about %d certificates; 1 to %d are answered", count,
                       RB_OCSP_MAX_CERTIDS);
    }
    out->req = req;
    out->count = (size_t)count;
    for (int i = 0; i < count; i++)
        describe_certid(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)), &out->ids[i]);
    out->has_nonce = echoable_nonce(req);
    return RB_OK;
}
