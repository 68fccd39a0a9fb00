/*
 * Keys on a PKCS#11 token, through libp11. A module may be initialised only
 * once per process, and libp11 finalises it when a context is unloaded, so
 * every handle on one module shares one libp11 context, counted here under a
 * lock. Keys are generated on the token with C_GenerateKeyPair (libp11 0.4.12
 * generates RSA only, and without CKA_EXTRACTABLE) and used through libp11's
 * EVP_PKEY, which sends every private-key operation to the token.
 *
 * Threads: registry_lock serialises loading, generation and freeing. Signing
 * takes no lock of ours: libp11 0.4.12 ("major concurrency improvements")
 * checks a session out of a per-slot pool, guarded by its own mutex and
 * condition variable, for each operation, and the module is initialised with
 * CKF_OS_LOCKING_OK. tests/unit/test_keys.c signs from 4 threads at once.
 */
#include "keys/internal.h"
#include "keys/p11uri.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#define CRYPTOKI_COMPAT
#include <p11-kit-1/p11-kit/pkcs11.h>

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define PIN_HINT       "set RUBRICA_PKCS11_PIN, give --pass-file, or add pin-source to the URI"

/* One loaded module, shared by every handle on it. */
typedef struct p11_module {
    struct p11_module *next;
    char *path;
    PKCS11_CTX *ctx;
    PKCS11_SLOT *slots;
    unsigned int nslots;
    CK_FUNCTION_LIST_PTR functions; /* the module's own, for key generation */
    unsigned int refs;
} p11_module;

/* Guards the registry and every libp11 call except signing (see above). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static p11_module *registry;

static void module_destroy(p11_module *m)
{
    if (m->slots != NULL)
        PKCS11_release_all_slots(m->ctx, m->slots, m->nslots);
    if (m->ctx != NULL) {
        PKCS11_CTX_unload(m->ctx);
        PKCS11_CTX_free(m->ctx);
    }
    free(m->path);
    free(m);
}

/* The module's function list, from the copy libp11 has loaded already. */
static CK_FUNCTION_LIST_PTR module_functions(const char *path)
{
    CK_FUNCTION_LIST_PTR list = NULL;
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (handle == NULL)
        return NULL;
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
    if (get == NULL || get(&list) != CKR_OK)
        list = NULL;
    dlclose(handle); /* libp11 keeps its own reference for as long as the context lives */
    return list;
}

/* With registry_lock held: a counted reference to the module at path, loading it if needed. */
static rb_status module_acquire(const char *path, p11_module **out, rb_error *err)
{
    for (p11_module *m = registry; m != NULL; m = m->next) {
        if (strcmp(m->path, path) == 0) {
            m->refs++;
            *out = m;
            return RB_OK;
        }
    }
    if (access(path, R_OK) != 0)
        return rb_fail(err, RB_ENOTFOUND, NULL,
                       "PKCS#11 module %s not found: set RUBRICA_PKCS11_MODULE or module-path in "
                       "the URI",
                       path);
    p11_module *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->path = strdup(path)) == NULL) {
        free(m);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    m->ctx = PKCS11_CTX_new();
    if (m->ctx == NULL || PKCS11_CTX_load(m->ctx, path) != 0) {
        if (m->ctx != NULL)
            PKCS11_CTX_free(m->ctx);
        m->ctx = NULL;
        module_destroy(m);
        return rb_fail_crypto(err,
                              "cannot load the PKCS#11 module %s: set RUBRICA_PKCS11_MODULE or "
                              "module-path in the URI",
                              path);
    }
    if (PKCS11_enumerate_slots(m->ctx, &m->slots, &m->nslots) != 0) {
        m->slots = NULL;
        module_destroy(m);
        return rb_fail_crypto(err, "cannot list the slots of PKCS#11 module %s", path);
    }
    m->functions = module_functions(path);
    if (m->functions == NULL) {
        module_destroy(m);
        return rb_fail(err, RB_EINTERNAL, NULL, "PKCS#11 module %s has no C_GetFunctionList", path);
    }
    m->refs = 1;
    m->next = registry;
    registry = m;
    *out = m;
    return RB_OK;
}

/* With registry_lock held: drops one reference, unloading the module with the last. */
static void module_release(p11_module *m)
{
    if (--m->refs > 0)
        return;
    for (p11_module **p = &registry; *p != NULL; p = &(*p)->next) {
        if (*p == m) {
            *p = m->next;
            break;
        }
    }
    module_destroy(m);
}

void rb_keyp11_release(EVP_PKEY *pkey, struct p11_module *module)
{
    pthread_mutex_lock(&registry_lock);
    EVP_PKEY_free(pkey);
    module_release(module);
    pthread_mutex_unlock(&registry_lock);
}

static int token_matches(const PKCS11_TOKEN *t, const rb_p11uri *uri)
{
    if (t == NULL || !t->initialized)
        return 0;
    if (uri->token != NULL && (t->label == NULL || strcmp(t->label, uri->token) != 0))
        return 0;
    if (uri->serial != NULL && (t->serialnr == NULL || strcmp(t->serialnr, uri->serial) != 0))
        return 0;
    if (uri->manufacturer != NULL &&
        (t->manufacturer == NULL || strcmp(t->manufacturer, uri->manufacturer) != 0))
        return 0;
    if (uri->model != NULL && (t->model == NULL || strcmp(t->model, uri->model) != 0))
        return 0;
    return 1;
}

static PKCS11_SLOT *slot_lookup(p11_module *m, const rb_p11uri *uri)
{
    for (unsigned int i = 0; i < m->nslots; i++)
        if (token_matches(m->slots[i].token, uri))
            return &m->slots[i];
    return NULL;
}

/* With registry_lock held: the slot holding the token the URI names. */
static rb_status find_slot(p11_module *m, const rb_p11uri *uri, PKCS11_SLOT **out, rb_error *err)
{
    if (uri->token == NULL && uri->serial == NULL)
        return rb_fail(err, RB_EINVAL, NULL,
                       "the PKCS#11 URI must name the token: add token=LABEL (or serial=)");
    /*
     * The slot list is the one read when the module was loaded: a token
     * initialised later is seen once no handle holds the module. (libp11
     * 0.4.12's PKCS11_update_slots crashes on a list from enumerate_slots.)
     */
    PKCS11_SLOT *slot = slot_lookup(m, uri);
    if (slot != NULL) {
        *out = slot;
        return RB_OK;
    }
    char known[256] = "";
    size_t used = 0;
    for (unsigned int i = 0; i < m->nslots && used < sizeof(known); i++) {
        const PKCS11_TOKEN *t = m->slots[i].token;
        if (t != NULL && t->initialized && t->label != NULL) {
            int n =
                snprintf(known + used, sizeof(known) - used, "%s'%s'", used ? ", " : "", t->label);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    return rb_fail(err, RB_ENOTFOUND, NULL,
                   "no PKCS#11 token labelled '%s'%s%s in module %s (tokens found: %s)",
                   uri->token ? uri->token : "(any)", uri->serial ? " with serial " : "",
                   uri->serial ? uri->serial : "", m->path, used ? known : "none");
}

/* The PIN: the URI's pin-source, then its pin-value, then the caller's secret. */
static rb_status read_pin(const rb_p11uri *uri, const rb_key_secret *secret, char *pin, size_t len,
                          rb_error *err)
{
    if (uri->pin_source != NULL) {
        const char *path = uri->pin_source;
        if (strncmp(path, "file:", 5) == 0)
            path += 5;
        rb_key_secret from_uri = {.pass_file = path};
        return rb_key_secret_read(&from_uri, NULL, "PIN", PIN_HINT, pin, len, err);
    }
    if (uri->pin_value != NULL) {
        if (strlen(uri->pin_value) >= len)
            return rb_fail(err, RB_EINVAL, NULL, "the PIN in the PKCS#11 URI is too long");
        memcpy(pin, uri->pin_value, strlen(uri->pin_value) + 1);
        return RB_OK;
    }
    return rb_key_secret_read(secret, "RUBRICA_PKCS11_PIN", "PKCS#11 PIN", PIN_HINT, pin, len, err);
}

/* Whether the most recent libp11 failure carries PKCS#11 return value ckr. */
static int last_error_is(CK_RV ckr)
{
    unsigned long e = ERR_peek_last_error();
    return e != 0 && ERR_GET_LIB(e) == ERR_get_CKR_code() && (CK_RV)ERR_GET_REASON(e) == ckr;
}

/*
 * With registry_lock held: logs the process in to the token as user. PKCS#11
 * login state belongs to the whole process, so a token some other handle has
 * logged in to already is used as it is.
 */
static rb_status login(PKCS11_SLOT *slot, const rb_p11uri *uri, const rb_key_secret *secret,
                       rb_error *err)
{
    int logged_in = 0;
    if (!slot->token->loginRequired || (PKCS11_is_logged_in(slot, 0, &logged_in) == 0 && logged_in))
        return RB_OK;
    ERR_clear_error();
    char pin[RB_KEY_SECRET_MAX];
    rb_status st = read_pin(uri, secret, pin, sizeof(pin), err);
    if (st != RB_OK)
        goto done;
    if (PKCS11_login(slot, 0, pin) == 0)
        goto done;
    if (last_error_is(CKR_PIN_INCORRECT) || last_error_is(CKR_PIN_LEN_RANGE)) {
        ERR_clear_error();
        st = rb_fail(err, RB_EPERM, NULL, "PKCS#11 token '%s' refused the PIN: wrong PIN?",
                     slot->token->label);
    } else if (last_error_is(CKR_PIN_LOCKED)) {
        ERR_clear_error();
        st = rb_fail(err, RB_EPERM, NULL,
                     "the user PIN of PKCS#11 token '%s' is locked: the security officer must "
                     "reset it",
                     slot->token->label);
    } else {
        st = rb_fail_crypto(err, "cannot log in to PKCS#11 token '%s'", slot->token->label);
    }
done:
    OPENSSL_cleanse(pin, sizeof(pin));
    return st;
}

static int key_matches(const PKCS11_KEY *k, const char *label, const unsigned char *id,
                       size_t id_len)
{
    if (label != NULL && (k->label == NULL || strcmp(k->label, label) != 0))
        return 0;
    if (id != NULL && (k->id_len != id_len || memcmp(k->id, id, id_len) != 0))
        return 0;
    return 1;
}

/*
 * With registry_lock held: the one private key on the token matching label
 * and id (either may be NULL, not both); *out NULL when there is none.
 */
static rb_status find_key(PKCS11_SLOT *slot, const char *label, const unsigned char *id,
                          size_t id_len, PKCS11_KEY **out, rb_error *err)
{
    PKCS11_KEY *keys = NULL;
    unsigned int count = 0;
    *out = NULL;
    if (PKCS11_enumerate_keys(slot->token, &keys, &count) != 0)
        return rb_fail_crypto(err, "cannot list the keys on PKCS#11 token '%s'",
                              slot->token->label);
    for (unsigned int i = 0; i < count; i++) {
        if (!key_matches(&keys[i], label, id, id_len))
            continue;
        if (*out != NULL)
            return rb_fail(err, RB_ECONFLICT, NULL,
                           "several private keys on PKCS#11 token '%s' match the URI: add id=",
                           slot->token->label);
        *out = &keys[i];
    }
    return RB_OK;
}

/* Where the module is: the URI's module-path, RUBRICA_PKCS11_MODULE, the SoftHSM2 default. */
static const char *module_path(const rb_p11uri *uri)
{
    if (uri->module_path != NULL)
        return uri->module_path;
    const char *env = getenv("RUBRICA_PKCS11_MODULE");
    return env && env[0] ? env : DEFAULT_MODULE;
}

/* Opens the token the URI names and logs in; takes registry_lock, held on success only. */
static rb_status open_token(const rb_p11uri *uri, const rb_key_secret *secret, p11_module **mod,
                            PKCS11_SLOT **slot, rb_error *err)
{
    pthread_mutex_lock(&registry_lock);
    rb_status st = module_acquire(module_path(uri), mod, err);
    if (st != RB_OK) {
        pthread_mutex_unlock(&registry_lock);
        return st;
    }
    st = find_slot(*mod, uri, slot, err);
    if (st == RB_OK)
        st = login(*slot, uri, secret, err);
    if (st != RB_OK) {
        module_release(*mod);
        pthread_mutex_unlock(&registry_lock);
    }
    return st;
}

rb_status rb_keyp11_load(const char *text, const rb_key_secret *secret, rb_key **out, rb_error *err)
{
    rb_p11uri uri;
    p11_module *mod = NULL;
    PKCS11_SLOT *slot = NULL;
    PKCS11_KEY *found = NULL;
    EVP_PKEY *pkey = NULL;
    rb_status st = rb_p11uri_parse(text, &uri, err);
    if (st != RB_OK)
        return st;
    if (uri.type != NULL && strcmp(uri.type, "private") != 0) {
        st = rb_fail(err, RB_EINVAL, NULL, "the key URI names a %s object: use type=private",
                     uri.type);
        goto done;
    }
    if (uri.object == NULL && uri.id == NULL) {
        st = rb_fail(err, RB_EINVAL, NULL, "the key URI must name the key: add object= or id=");
        goto done;
    }
    st = open_token(&uri, secret, &mod, &slot, err);
    if (st != RB_OK)
        goto done;
    st = find_key(slot, uri.object, uri.id, uri.id_len, &found, err);
    if (st == RB_OK && found == NULL)
        st = rb_fail(err, RB_ENOTFOUND, NULL, "no private key %s%s on PKCS#11 token '%s'",
                     uri.object ? "labelled " : "with the given id", uri.object ? uri.object : "",
                     slot->token->label);
    if (st == RB_OK)
        pkey = PKCS11_get_private_key(found);
    if (st == RB_OK && pkey == NULL)
        st = rb_fail_crypto(err, "cannot use the private key on PKCS#11 token '%s'",
                            slot->token->label);
    if (st != RB_OK)
        module_release(mod);
    pthread_mutex_unlock(&registry_lock);
    if (st == RB_OK)
        st = rb_key_wrap(pkey, mod, out, err);
done:
    rb_p11uri_clear(&uri);
    return st;
}

/* The DER of the named curve's OID, for CKA_EC_PARAMS. Owned (OPENSSL_free). */
static int curve_params(int nid, unsigned char **der)
{
    ASN1_OBJECT *oid = OBJ_nid2obj(nid);
    *der = NULL;
    return oid ? i2d_ASN1_OBJECT(oid, der) : -1;
}

/* With registry_lock held: generates the pair in a session of our own. */
static rb_status generate_on_token(p11_module *m, PKCS11_SLOT *slot, const char *label,
                                   const rb_key_type_info *info, CK_OBJECT_HANDLE objects[2],
                                   rb_error *err)
{
    CK_FUNCTION_LIST_PTR f = m->functions;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = info->rsa_bits;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    unsigned char *ec_params = NULL;
    int ec_params_len = info->is_ec ? curve_params(info->curve_nid, &ec_params) : 0;
    if (ec_params_len < 0)
        return rb_fail_crypto(err, "cannot encode the curve of a %s key", info->name);
    CK_ULONG label_len = strlen(label);
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, label_len},
        {CKA_ID, (void *)label, label_len},
        {CKA_EC_PARAMS, ec_params, (CK_ULONG)ec_params_len},
        {CKA_MODULUS_BITS, &bits, sizeof(bits)},
        {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
    };
    /* The private half is created sensitive and unextractable: it never leaves the token. */
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},    {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},         {CKA_DECRYPT, &no, sizeof(no)},
        {CKA_LABEL, (void *)label, label_len}, {CKA_ID, (void *)label, label_len},
    };
    /* EC uses the first six public attributes, RSA the first five and the last two. */
    if (!info->is_ec) {
        pub[5] = pub[6];
        pub[6] = pub[7];
    }
    CK_ULONG pub_count = info->is_ec ? 6 : 7;
    CK_MECHANISM mech = {info->is_ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_SESSION_HANDLE session;
    rb_status st = RB_OK;
    CK_RV rv = f->C_OpenSession(PKCS11_get_slotid_from_slot(slot),
                                CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
    if (rv != CKR_OK) {
        st = rb_fail(err, RB_ECRYPTO, NULL,
                     "cannot open a session on PKCS#11 token '%s' (CKR 0x%lx)", slot->token->label,
                     (unsigned long)rv);
        goto done;
    }
    rv = f->C_GenerateKeyPair(session, &mech, pub, pub_count, priv, sizeof(priv) / sizeof(priv[0]),
                              &objects[0], &objects[1]);
    if (rv != CKR_OK)
        st = rb_fail(err, RB_ECRYPTO, NULL,
                     "PKCS#11 token '%s' could not generate a %s key (CKR 0x%lx)",
                     slot->token->label, info->name, (unsigned long)rv);
    f->C_CloseSession(session);
done:
    OPENSSL_free(ec_params);
    return st;
}

/* With registry_lock held: removes a pair generate_on_token made, when what follows failed. */
static void destroy_on_token(p11_module *m, PKCS11_SLOT *slot, const CK_OBJECT_HANDLE objects[2])
{
    CK_SESSION_HANDLE session;
    if (m->functions->C_OpenSession(PKCS11_get_slotid_from_slot(slot),
                                    CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                    &session) != CKR_OK)
        return;
    m->functions->C_DestroyObject(session, objects[0]);
    m->functions->C_DestroyObject(session, objects[1]);
    m->functions->C_CloseSession(session);
}

rb_status rb_keyp11_generate(const char *text, const char *label, rb_key_type type,
                             const rb_key_secret *secret, rb_key **out, char **out_ref,
                             rb_error *err)
{
    rb_p11uri uri;
    p11_module *mod = NULL;
    PKCS11_SLOT *slot = NULL;
    PKCS11_KEY *found = NULL;
    EVP_PKEY *pkey = NULL;
    char *ref = NULL;
    rb_key *key = NULL;
    CK_OBJECT_HANDLE objects[2];
    rb_status st = rb_p11uri_parse(text, &uri, err);
    if (st != RB_OK)
        return st;
    if (uri.object != NULL || uri.id != NULL || uri.type != NULL) {
        st = rb_fail(err, RB_EINVAL, NULL,
                     "a key store URI names only the token: drop object=, id= and type= "
                     "(the label names the key)");
        goto done;
    }
    st = open_token(&uri, secret, &mod, &slot, err);
    if (st != RB_OK)
        goto done;
    size_t label_len = strlen(label);
    st = find_key(slot, label, NULL, 0, &found, err);
    if (st == RB_OK && found == NULL)
        st = find_key(slot, NULL, (const unsigned char *)label, label_len, &found, err);
    if (st == RB_OK && found != NULL)
        st = rb_fail(err, RB_ECONFLICT, NULL,
                     "PKCS#11 token '%s' holds a key labelled '%s' already: not replaced",
                     slot->token->label, label);
    if (st == RB_OK)
        st = generate_on_token(mod, slot, label, rb_key_type_info_get(type), objects, err);
    int generated = st == RB_OK;
    if (st == RB_OK)
        st = find_key(slot, label, (const unsigned char *)label, label_len, &found, err);
    if (st == RB_OK && found == NULL)
        st = rb_fail(err, RB_EINTERNAL, NULL, "the key generated on token '%s' cannot be found",
                     slot->token->label);
    if (st == RB_OK) {
        pkey = PKCS11_get_private_key(found);
        if (pkey == NULL)
            st = rb_fail_crypto(err, "cannot use the key generated on token '%s'",
                                slot->token->label);
    }
    if (st == RB_OK) {
        ref = rb_p11uri_reference(slot->token->label, uri.serial, label, uri.module_path,
                                  uri.pin_source);
        if (ref == NULL)
            st = rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    if (st != RB_OK && generated)
        destroy_on_token(mod, slot, objects);
    if (st != RB_OK) {
        EVP_PKEY_free(pkey);
        module_release(mod);
    }
    pthread_mutex_unlock(&registry_lock);
    if (st == RB_OK)
        st = rb_key_wrap(pkey, mod, &key, err);
done:
    rb_p11uri_clear(&uri);
    if (st != RB_OK) {
        free(ref);
        return st;
    }
    *out = key;
    *out_ref = ref;
    return RB_OK;
}
