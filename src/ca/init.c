/*
 * Initialising a certification provider: the root CA (self-signed), an
 * issuing CA certified by it, and the OCSP responder and TSA certificates
 * issued by the issuing CA, with their keys in files or on a PKCS#11 token.
 * The store changes commit in one transaction; on failure the key files
 * written so far are removed, so a failed init leaves nothing behind.
 */
#include "ca/init.h"

#include "audit/audit.h"
#include "ca/issuer.h"
#include "core/reader.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT_DAYS    7305 /* 20 years */
#define ISSUING_DAYS 3652 /* 10 years */

typedef struct made_key {
    char *ref;
    char path[4200]; /* the file to remove on failure, if any */
} made_key;

static rb_status make_key(const rb_init_params *p, const char *key_store, const char *label,
                          rb_key **key, made_key *made, rb_error *err)
{
    rb_status s = rb_key_generate(key_store, label, p->key_type, &p->secret, key, &made->ref, err);
    if (s == RB_OK && strncmp(made->ref, "file:", 5) == 0)
        snprintf(made->path, sizeof(made->path), "%s", made->ref + 5);
    return s;
}

static rb_status add_common_ca_exts(X509 *cert, X509 *issuer, EVP_PKEY *key, int path_len,
                                    rb_error *err)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    X509_PUBKEY *spki = NULL;
    ASN1_OCTET_STRING *ski = X509_PUBKEY_set(&spki, key) == 1 ? rb_ext_ski(spki) : NULL;
    X509_PUBKEY_free(spki);
    rb_status s = bc && ku && ski ? RB_OK : rb_fail_crypto(err, "cannot build CA extensions");
    if (s == RB_OK) {
        bc->ca = 1;
        if (path_len >= 0) {
            bc->pathlen = ASN1_INTEGER_new();
            ASN1_INTEGER_set(bc->pathlen, path_len);
        }
        ASN1_BIT_STRING_set_bit(ku, 0, 1); /* digitalSignature: signs OCSP for itself */
        ASN1_BIT_STRING_set_bit(ku, 5, 1); /* keyCertSign */
        ASN1_BIT_STRING_set_bit(ku, 6, 1); /* cRLSign */
        s = rb_x509_add_ext(cert, NID_basic_constraints, 1, bc, err);
    }
    if (s == RB_OK)
        s = rb_x509_add_ext(cert, NID_key_usage, 1, ku, err);
    if (s == RB_OK)
        s = rb_x509_add_ext(cert, NID_subject_key_identifier, 0, ski, err);
    if (s == RB_OK && issuer != cert) {
        AUTHORITY_KEYID *akid = rb_ext_akid(issuer);
        s = akid ? rb_x509_add_ext(cert, NID_authority_key_identifier, 0, akid, err)
                 : rb_fail_crypto(err, "the issuer has no key identifier");
        AUTHORITY_KEYID_free(akid);
    }
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(ku);
    ASN1_OCTET_STRING_free(ski);
    return s;
}

static X509_NAME *ca_name(const rb_init_params *p, const char *role_label)
{
    char cn[160];
    snprintf(cn, sizeof(cn), "%s %s", p->org, role_label);
    X509_NAME *name = X509_NAME_new();
    if (name == NULL ||
        !X509_NAME_add_entry_by_NID(name, NID_countryName, V_ASN1_PRINTABLESTRING,
                                    (const unsigned char *)p->jurisdiction, -1, -1, 0) ||
        !X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
                                    (const unsigned char *)p->org, -1, -1, 0) ||
        !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn,
                                    -1, -1, 0)) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

/* Builds and signs a CA certificate; issuer_cert NULL makes it self-signed. */
static rb_status make_ca_cert(const rb_init_params *p, const char *label, EVP_PKEY *key,
                              X509 *issuer_cert, EVP_PKEY *issuer_key, const char *issuer_name,
                              int64_t now, int days, X509 **out, char serial[RB_SERIAL_HEX_LEN],
                              rb_error *err)
{
    X509 *cert = X509_new();
    X509_NAME *name = ca_name(p, label);
    ASN1_INTEGER *sn = NULL;
    rb_status s = cert && name ? RB_OK : rb_fail_crypto(err, "cannot build the %s name", label);
    if (s == RB_OK)
        s = rb_serial_random(&sn, serial, err);
    if (s == RB_OK &&
        (!X509_set_version(cert, X509_VERSION_3) || !X509_set_serialNumber(cert, sn) ||
         !X509_set_subject_name(cert, name) ||
         !X509_set_issuer_name(cert, issuer_cert ? X509_get_subject_name(issuer_cert) : name) ||
         !X509_set_pubkey(cert, key)))
        s = rb_fail_crypto(err, "cannot fill in the %s certificate", label);
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(X509_getm_notBefore(cert), now, err);
    if (s == RB_OK)
        s = rb_asn1_time_set_ms(X509_getm_notAfter(cert), now + (int64_t)days * 86400000, err);
    if (s == RB_OK)
        s = add_common_ca_exts(cert, issuer_cert ? issuer_cert : cert, key, issuer_cert ? 0 : -1,
                               err);
    if (s == RB_OK && issuer_cert != NULL) {
        AUTHORITY_INFO_ACCESS *aia = rb_ext_aia(p->base_url, issuer_name, 0);
        STACK_OF(DIST_POINT) *crldp = rb_ext_crldp(p->base_url, issuer_name);
        s = rb_x509_add_ext(cert, NID_info_access, 0, aia, err);
        if (s == RB_OK)
            s = rb_x509_add_ext(cert, NID_crl_distribution_points, 0, crldp, err);
        AUTHORITY_INFO_ACCESS_free(aia);
        sk_DIST_POINT_pop_free(crldp, DIST_POINT_free);
    }
    if (s == RB_OK && X509_sign(cert, issuer_key, rb_signing_digest(issuer_key)) <= 0)
        s = rb_fail_crypto(err, "cannot sign the %s certificate", label);
    X509_NAME_free(name);
    ASN1_INTEGER_free(sn);
    if (s != RB_OK) {
        X509_free(cert);
        return s;
    }
    *out = cert;
    return RB_OK;
}

static rb_status insert_authority(rb_ctx *ctx, const char *name, const char *role,
                                  const char *issuer, const char *key_ref, X509 *cert,
                                  const char *serial, rb_error *err)
{
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);
    char subject[512];
    rb_name_text(X509_get_subject_name(cert), subject, sizeof(subject));
    rb_stmt *stmt;
    rb_status s = der_len > 0 ? RB_OK : rb_fail_crypto(err, "cannot encode %s", name);
    if (s == RB_OK)
        s = rb_store_prepare(
            ctx->store,
            "INSERT INTO authorities (name, role, issuer, key_ref, subject, serial,"
            " not_before_ms, not_after_ms, created_ms, cert_der)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, name);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, role);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, issuer);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 4, key_ref);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 5, subject);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 6, serial);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 7, rb_asn1_time_ms(X509_get0_notBefore(cert)));
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 8, rb_asn1_time_ms(X509_get0_notAfter(cert)));
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 9, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 10, der, (size_t)der_len);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    OPENSSL_free(der);
    json_t *detail = json_pack("{s:s,s:s,s:s,s:s}", "role", role, "subject", subject, "serial",
                               serial, "key", key_ref);
    if (s == RB_OK)
        s = rb_audit_append(ctx, "ca.create", name, detail, NULL, err);
    json_decref(detail);
    return s;
}

/* A key reference relative to the data directory when the key lies inside it. */
static const char *portable_ref(const rb_ctx *ctx, const char *ref, char *buf, size_t len)
{
    size_t n = strlen(ctx->data_dir);
    if (strncmp(ref, "file:", 5) != 0 || strncmp(ref + 5, ctx->data_dir, n) != 0 ||
        ref[5 + n] != '/')
        return ref;
    snprintf(buf, len, "file:%s", ref + 5 + n + 1);
    return buf;
}

static rb_status check_not_initialised(rb_ctx *ctx, rb_error *err)
{
    char *existing = NULL;
    rb_status s = rb_setting_get(ctx, "jurisdiction", &existing, err);
    if (s == RB_OK && existing != NULL)
        s = rb_fail(err, RB_ESTATE, NULL,
                    "this data directory already holds an initialised CA (%s); nothing was changed",
                    existing);
    free(existing);
    return s;
}

static rb_status copy_profiles(const rb_ctx *ctx, const rb_init_params *p, char *dest,
                               size_t dest_len, rb_error *err)
{
    char source[4200], dir[4000];
    if (p->profiles_file)
        snprintf(source, sizeof(source), "%s", p->profiles_file);
    else
        snprintf(source, sizeof(source), "%s/profiles/%s.json", RB_SHARE_DIR, p->jurisdiction);
    rb_jurisdiction *j = NULL;
    rb_status s = rb_jurisdiction_load(source, &j, err);
    if (s == RB_OK && strcmp(j->code, p->jurisdiction) != 0)
        s = rb_fail(err, RB_EINVAL, NULL, "%s describes jurisdiction %s, not %s", source, j->code,
                    p->jurisdiction);
    rb_jurisdiction_free(j);
    if (s != RB_OK)
        return s;
    snprintf(dir, sizeof(dir), "%s/profiles", ctx->data_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return rb_fail(err, RB_EIO, NULL, "cannot create %s: %s", dir, strerror(errno));
    snprintf(dest, dest_len, "%s/%s.json", dir, p->jurisdiction);
    uint8_t *data = NULL;
    size_t len = 0;
    s = rb_read_file(source, 1 << 20, &data, &len, err);
    FILE *f = s == RB_OK ? fopen(dest, "wx") : NULL;
    if (s == RB_OK && f == NULL)
        s = rb_fail(err, RB_EIO, NULL, "cannot create %s: %s", dest, strerror(errno));
    if (f != NULL && (fwrite(data, 1, len, f) != len || fclose(f) != 0))
        s = rb_fail(err, RB_EIO, NULL, "cannot write %s", dest);
    free(data);
    return s;
}

typedef struct init_state {
    made_key keys[4];
    rb_key *root_key, *issuing_key, *ocsp_key, *tsa_key;
    X509 *root, *issuing;
    char root_serial[RB_SERIAL_HEX_LEN], issuing_serial[RB_SERIAL_HEX_LEN];
    char profiles_path[4200];
    rb_issued ocsp, tsa;
} init_state;

static rb_status make_keys(rb_ctx *ctx, const rb_init_params *p, init_state *st, rb_error *err)
{
    char key_store[4200];
    if (p->hsm_uri) {
        snprintf(key_store, sizeof(key_store), "%s", p->hsm_uri);
    } else {
        snprintf(key_store, sizeof(key_store), "%s/keys", ctx->data_dir);
        if (mkdir(key_store, 0700) != 0 && errno != EEXIST)
            return rb_fail(err, RB_EIO, NULL, "cannot create %s: %s", key_store, strerror(errno));
        memmove(key_store + 5, key_store, strlen(key_store) + 1);
        memcpy(key_store, "file:", 5);
    }
    rb_status s = make_key(p, key_store, p->root_name, &st->root_key, &st->keys[0], err);
    if (s == RB_OK)
        s = make_key(p, key_store, p->issuing_name, &st->issuing_key, &st->keys[1], err);
    if (s == RB_OK)
        s = make_key(p, key_store, "ocsp", &st->ocsp_key, &st->keys[2], err);
    if (s == RB_OK)
        s = make_key(p, key_store, "tsa", &st->tsa_key, &st->keys[3], err);
    return s;
}

static rb_status make_service_cert(rb_ctx *ctx, rb_issuer *issuer, const rb_init_params *p,
                                   const char *profile, const char *label, rb_key *key,
                                   const char *key_ref, rb_issued *out, rb_error *err)
{
    char cn[160];
    snprintf(cn, sizeof(cn), "%s %s", p->org, label);
    json_t *fields = json_pack("{s:s,s:s}", "common_name", cn, "organization", p->org);
    EVP_PKEY *pub = rb_key_get0_pkey(key);
    rb_status s = rb_ca_issue_own(ctx, issuer, profile, fields, pub, out, err);
    json_decref(fields);
    char ref[4200];
    if (s == RB_OK)
        s = insert_authority(ctx, profile, profile, p->issuing_name,
                             portable_ref(ctx, key_ref, ref, sizeof(ref)), out->cert, out->serial,
                             err);
    return s;
}

static rb_status record_hierarchy(rb_ctx *ctx, const rb_init_params *p, init_state *st,
                                  rb_error *err)
{
    char ref[4200];
    rb_status s = rb_setting_set(ctx, "jurisdiction", p->jurisdiction, err);
    if (s == RB_OK)
        s = rb_setting_set(ctx, "organization", p->org, err);
    if (s == RB_OK)
        s = rb_setting_set(ctx, "base_url", p->base_url, err);
    if (s == RB_OK)
        s = rb_setting_set(ctx, "key_type", rb_key_type_name(p->key_type), err);
    if (s == RB_OK)
        s = insert_authority(ctx, p->root_name, "root", p->root_name,
                             portable_ref(ctx, st->keys[0].ref, ref, sizeof(ref)), st->root,
                             st->root_serial, err);
    if (s == RB_OK)
        s = insert_authority(ctx, p->issuing_name, "issuing", p->root_name,
                             portable_ref(ctx, st->keys[1].ref, ref, sizeof(ref)), st->issuing,
                             st->issuing_serial, err);
    rb_issuer *issuer = NULL;
    if (s == RB_OK)
        s = rb_issuer_open(ctx, p->issuing_name, &p->secret, &issuer, err);
    if (s == RB_OK)
        s = make_service_cert(ctx, issuer, p, "ocsp", "OCSP Responder", st->ocsp_key,
                              st->keys[2].ref, &st->ocsp, err);
    if (s == RB_OK)
        s = make_service_cert(ctx, issuer, p, "tsa", "Time-Stamping Unit", st->tsa_key,
                              st->keys[3].ref, &st->tsa, err);
    rb_issuer_free(issuer);
    return s;
}

static void init_state_clear(init_state *st, int failed)
{
    for (int i = 0; i < 4; i++) {
        if (failed && st->keys[i].path[0])
            unlink(st->keys[i].path);
        free(st->keys[i].ref);
    }
    if (failed && st->profiles_path[0])
        unlink(st->profiles_path);
    /* Certificates first: the CA certificates hold the keys' public halves, which on a
     * token are libp11 objects that must go before the last key releases the module. */
    X509_free(st->root);
    X509_free(st->issuing);
    X509_free(st->ocsp.cert);
    X509_free(st->tsa.cert);
    rb_key_free(st->root_key);
    rb_key_free(st->issuing_key);
    rb_key_free(st->ocsp_key);
    rb_key_free(st->tsa_key);
}

static rb_status check_params(const rb_init_params *p, rb_error *err)
{
    static const char *const known[] = {"PE", "PA", "PY", "SV"};
    int ok = 0;
    for (size_t i = 0; i < 4; i++)
        ok |= strcmp(known[i], p->jurisdiction) == 0;
    if (!ok)
        return rb_fail(err, RB_EINVAL, NULL, "unknown jurisdiction '%s': use PE, PA, PY or SV",
                       p->jurisdiction);
    rb_status s = rb_text_check("organization", p->org, 64, err);
    if (s == RB_OK && p->org[0] == '\0')
        s = rb_fail(err, RB_EINVAL, NULL, "the organisation name is empty");
    if (s == RB_OK && strncmp(p->base_url, "http://", 7) != 0 &&
        strncmp(p->base_url, "https://", 8) != 0)
        s = rb_fail(err, RB_EINVAL, NULL, "the base URL must start with http:// or https://");
    if (s == RB_OK)
        s = rb_text_check("base URL", p->base_url, 200, err);
    if (s == RB_OK && p->base_url[strlen(p->base_url) - 1] == '/')
        s = rb_fail(err, RB_EINVAL, NULL, "the base URL must not end with '/'");
    for (const char *n = p->root_name; s == RB_OK && *n; n++)
        if (!(*n >= 'a' && *n <= 'z') && !(*n >= '0' && *n <= '9') && *n != '-')
            s = rb_fail(err, RB_EINVAL, NULL, "CA names use a-z, 0-9 and '-'");
    for (const char *n = p->issuing_name; s == RB_OK && *n; n++)
        if (!(*n >= 'a' && *n <= 'z') && !(*n >= '0' && *n <= '9') && *n != '-')
            s = rb_fail(err, RB_EINVAL, NULL, "CA names use a-z, 0-9 and '-'");
    if (s == RB_OK &&
        (strcmp(p->root_name, p->issuing_name) == 0 || !p->root_name[0] || !p->issuing_name[0] ||
         strlen(p->root_name) > 32 || strlen(p->issuing_name) > 32))
        s = rb_fail(err, RB_EINVAL, NULL,
                    "the root and issuing CAs need two different short names");
    return s;
}

rb_status rb_ca_init(rb_ctx *ctx, const rb_init_params *p, rb_error *err)
{
    init_state st;
    memset(&st, 0, sizeof(st));
    rb_status s = check_params(p, err);
    if (s == RB_OK)
        s = check_not_initialised(ctx, err);
    if (s == RB_OK)
        s = copy_profiles(ctx, p, st.profiles_path, sizeof(st.profiles_path), err);
    if (s != RB_OK) {
        /* copy_profiles refuses an existing file; never remove one we did not write. */
        if (s != RB_OK && access(st.profiles_path, F_OK) == 0 && err->status == RB_EIO)
            st.profiles_path[0] = '\0';
        st.profiles_path[0] = '\0';
        init_state_clear(&st, 1);
        return s;
    }
    int64_t now = rb_ctx_now_ms(ctx) / 1000 * 1000;
    s = make_keys(ctx, p, &st, err);
    if (s == RB_OK)
        s = make_ca_cert(p, "Root CA", rb_key_get0_pkey(st.root_key), NULL,
                         rb_key_get0_pkey(st.root_key), p->root_name, now, ROOT_DAYS, &st.root,
                         st.root_serial, err);
    if (s == RB_OK)
        s = make_ca_cert(p, "Issuing CA", rb_key_get0_pkey(st.issuing_key), st.root,
                         rb_key_get0_pkey(st.root_key), p->root_name, now, ISSUING_DAYS,
                         &st.issuing, st.issuing_serial, err);
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    if (s == RB_OK) {
        s = record_hierarchy(ctx, p, &st, err);
        if (s == RB_OK)
            s = rb_store_commit(ctx->store, err);
        else
            rb_store_rollback(ctx->store);
    }
    init_state_clear(&st, s != RB_OK);
    return s;
}
