/*
 * API tokens: 32 bytes from the CSPRNG, given to the person once as base64url
 * and stored only as their SHA-256. A token is random and high-entropy, so a
 * fast unsalted hash is the right tool: no dictionary or brute force can
 * reach 256 bits, and lookups stay cheap on every request. (Passwords, which
 * people choose, will use Argon2id in the portal.)
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include "core/hex.h"
#include "audit/audit.h"
#include "store/store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

#define TOKEN_BYTES 32
#define TOKEN_CHARS (RB_TOKEN_TEXT_LEN - 1)

static void token_hash(const char *token, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), md);
    rb_hex_lower(md, sizeof(md), out);
}

/* Whether text has the shape of a token: 43 base64url characters. */
static int token_shaped(const char *text)
{
    size_t len = 0;
    for (; text[len] != '\0' && len <= TOKEN_CHARS; len++) {
        char c = text[len];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return len == TOKEN_CHARS;
}

/* 32 random bytes as unpadded base64url. */
static rb_status token_random(char token[RB_TOKEN_TEXT_LEN], rb_error *err)
{
    unsigned char raw[TOKEN_BYTES];
    unsigned char b64[48];
    if (RAND_priv_bytes(raw, sizeof(raw)) != 1)
        return rb_fail_crypto(err, "the random generator failed");
    int n = EVP_EncodeBlock(b64, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    for (int i = 0; i < n && i < TOKEN_CHARS; i++)
        token[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    token[TOKEN_CHARS] = '\0';
    OPENSSL_cleanse(b64, sizeof(b64));
    return RB_OK;
}

static rb_status insert_token(rb_ctx *ctx, const char *user, const char *id, const char *hash,
                              const char *last4, rb_error *err)
{
    rb_stmt *stmt;
    rb_status s = rb_store_prepare(ctx->store,
                                   "INSERT INTO api_tokens (id, user_name, token_hash, created_ms,"
                                   " revoked_ms, last4) VALUES ($1, $2, $3, $4, NULL, $5)",
                                   &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, id);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, user);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, hash);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 4, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 5, last4);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    return s;
}

rb_status rb_token_create(rb_ctx *ctx, const char *user, char token[RB_TOKEN_TEXT_LEN],
                          char id[RB_TOKEN_ID_LEN], rb_error *err)
{
    char text[RB_TOKEN_TEXT_LEN], new_id[RB_TOKEN_ID_LEN], hash[2 * SHA256_DIGEST_LENGTH + 1];
    unsigned char id_raw[(RB_TOKEN_ID_LEN - 1) / 2];
    rb_user u;
    rb_status s = token_random(text, err);
    if (s == RB_OK && RAND_bytes(id_raw, sizeof(id_raw)) != 1)
        s = rb_fail_crypto(err, "the random generator failed");
    if (s == RB_OK)
        s = rb_store_begin(ctx->store, err);
    if (s != RB_OK) {
        OPENSSL_cleanse(text, sizeof(text));
        return s;
    }
    rb_hex_lower(id_raw, sizeof(id_raw), new_id);
    token_hash(text, hash);
    s = rb_user_get(ctx, user, &u, err);
    if (s == RB_OK && u.disabled)
        s = rb_fail(err, RB_ESTATE, NULL, "user '%s' is disabled", user);
    if (s == RB_OK)
        s = insert_token(ctx, user, new_id, hash, text + TOKEN_CHARS - 4, err);
    if (s == RB_OK) {
        char object[RB_TOKEN_ID_LEN + 8];
        snprintf(object, sizeof(object), "token:%s", new_id);
        json_t *detail = json_pack("{s:s,s:s}", "user", user, "last4", text + TOKEN_CHARS - 4);
        s = rb_audit_append(ctx, "token.create", object, detail, NULL, err);
        json_decref(detail);
    }
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, err);
    if (s == RB_OK) {
        memcpy(token, text, sizeof(text));
        memcpy(id, new_id, sizeof(new_id));
    } else {
        rb_store_rollback(ctx->store);
    }
    OPENSSL_cleanse(text, sizeof(text));
    return s;
}

rb_status rb_token_revoke(rb_ctx *ctx, const char *id, rb_error *err)
{
    rb_stmt *stmt;
    int has_row = 0;
    int64_t revoked = 0;
    rb_status s = rb_store_begin(ctx->store, err);
    if (s != RB_OK)
        return s;
    s = rb_store_prepare(ctx->store, "SELECT revoked_ms FROM api_tokens WHERE id = $1", &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, id);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    if (s == RB_OK && has_row)
        revoked = rb_stmt_is_null(stmt, 0) ? 0 : rb_stmt_int64(stmt, 0);
    rb_stmt_reset(stmt);
    if (s == RB_OK && !has_row)
        s = rb_fail(err, RB_ENOTFOUND, NULL, "there is no token with id '%s'", id);
    if (s == RB_OK && revoked != 0)
        s = rb_fail(err, RB_ESTATE, NULL, "token %s is already revoked", id);
    if (s == RB_OK)
        s = rb_store_prepare(ctx->store, "UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2",
                             &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 1, rb_ctx_now_ms(ctx));
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 2, id);
    if (s == RB_OK)
        s = rb_stmt_run(stmt, err);
    if (s == RB_OK) {
        char object[80];
        snprintf(object, sizeof(object), "token:%.64s", id);
        s = rb_audit_append(ctx, "token.revoke", object, NULL, NULL, err);
    }
    if (s == RB_OK)
        s = rb_store_commit(ctx->store, err);
    if (s != RB_OK)
        rb_store_rollback(ctx->store);
    return s;
}

rb_status rb_token_list(rb_ctx *ctx, const char *user,
                        int (*fn)(const rb_token_info *token, void *arg), void *arg, rb_error *err)
{
    rb_stmt *stmt = NULL;
    rb_status s = rb_store_prepare(ctx->store,
                                   user ? "SELECT id, user_name, last4, created_ms, revoked_ms"
                                          " FROM api_tokens WHERE user_name = $1"
                                          " ORDER BY created_ms, id"
                                        : "SELECT id, user_name, last4, created_ms, revoked_ms"
                                          " FROM api_tokens ORDER BY created_ms, id",
                                   &stmt, err);
    if (s == RB_OK && user != NULL)
        s = rb_stmt_bind_text(stmt, 1, user);
    int has_row = 1;
    while (s == RB_OK) {
        s = rb_stmt_step(stmt, &has_row, err);
        if (s != RB_OK || !has_row)
            break;
        rb_token_info t = {0};
        snprintf(t.id, sizeof(t.id), "%s", rb_stmt_text(stmt, 0));
        snprintf(t.user, sizeof(t.user), "%s", rb_stmt_text(stmt, 1));
        snprintf(t.last4, sizeof(t.last4), "%s", rb_stmt_text(stmt, 2));
        t.created_ms = rb_stmt_int64(stmt, 3);
        t.revoked_ms = rb_stmt_is_null(stmt, 4) ? 0 : rb_stmt_int64(stmt, 4);
        if (fn(&t, arg) != 0)
            break;
    }
    rb_stmt_reset(stmt);
    return s;
}

/*
 * The token is found by its hash, so the database never compares secret
 * bytes: at most it leaks, through timing, a prefix of a SHA-256, which says
 * nothing about any token. The stored hash is compared once more in constant
 * time, so a collation or index quirk can never let a near-miss through.
 */
rb_status rb_auth_token(rb_ctx *ctx, const char *bearer, rb_user *out, rb_error *err)
{
    char hash[2 * SHA256_DIGEST_LENGTH + 1];
    if (bearer == NULL || !token_shaped(bearer))
        return rb_fail(err, RB_EPERM, NULL, "the API token is not valid");
    token_hash(bearer, hash);
    rb_stmt *stmt = NULL;
    int has_row = 0;
    rb_status s = rb_store_prepare(ctx->store,
                                   "SELECT " AUTH_USER_COLUMNS ", t.token_hash"
                                   " FROM api_tokens t JOIN users u ON u.name = t.user_name"
                                   " WHERE t.token_hash = $1 AND t.revoked_ms IS NULL"
                                   " AND u.disabled = 0",
                                   &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, hash);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    rb_user u = {0};
    if (s == RB_OK && has_row) {
        const char *stored = rb_stmt_text(stmt, 4);
        if (strlen(stored) != strlen(hash) || CRYPTO_memcmp(stored, hash, strlen(hash)) != 0)
            has_row = 0;
        if (has_row)
            s = auth_read_user(stmt, &u, err);
    }
    rb_stmt_reset(stmt);
    if (s == RB_OK && !has_row)
        s = rb_fail(err, RB_EPERM, NULL, "the API token is not valid");
    if (s == RB_OK)
        *out = u;
    return s;
}
