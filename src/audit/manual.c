/*
 * Manual audit entries: what an operator records by hand (a key ceremony, an
 * inspection). The input comes from a person, so every part is checked
 * before anything is written, and the entry is appended in its own
 * transaction.
 */
#include "audit/audit.h"

#include "core/reader.h"
#include "store/store.h"

#include <string.h>

#define ACTION_MAX 64
#define OBJECT_MAX 512
#define DETAIL_MAX (64 * 1024)

static rb_status check_action(const char *action, rb_error *err)
{
    size_t len = strlen(action);
    if (len == 0 || len > ACTION_MAX)
        return rb_fail(err, RB_EINVAL, NULL, "the action must be 1 to %d characters long",
                       ACTION_MAX);
    int ok = action[0] >= 'a' && action[0] <= 'z';
    for (size_t i = 1; ok && i < len; i++) {
        char c = action[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    }
    if (!ok)
        return rb_fail(err, RB_EINVAL, NULL,
                       "the action '%.*s' must start with a-z and use only a-z, 0-9, '_', '.' "
                       "and '-' (for example key.ceremony)",
                       ACTION_MAX, action);
    return RB_OK;
}

/* Checks every key and string in value as text without control characters. */
static rb_status check_json_text(json_t *value, int depth, rb_error *err)
{
    const char *key;
    json_t *member;
    size_t index;
    rb_status status = RB_OK;
    if (depth > 32)
        return rb_fail(err, RB_EINVAL, NULL, "the detail is nested more than 32 levels deep");
    if (json_is_string(value))
        return rb_text_check("a detail string", json_string_value(value), DETAIL_MAX, err);
    if (json_is_object(value)) {
        json_object_foreach(value, key, member)
        {
            status = rb_text_check("a detail key", key, DETAIL_MAX, err);
            if (status == RB_OK)
                status = check_json_text(member, depth + 1, err);
            if (status != RB_OK)
                return status;
        }
    }
    if (json_is_array(value)) {
        json_array_foreach(value, index, member)
        {
            status = check_json_text(member, depth + 1, err);
            if (status != RB_OK)
                return status;
        }
    }
    return RB_OK;
}

/* Parses detail_json into a new JSON object (NULL text gives an empty object). */
static rb_status parse_detail(const char *detail_json, json_t **out, rb_error *err)
{
    json_error_t jerr;
    if (detail_json == NULL) {
        *out = json_object();
        return *out ? RB_OK : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    if (strlen(detail_json) > DETAIL_MAX)
        return rb_fail(err, RB_EINVAL, NULL, "the detail is longer than %d bytes", DETAIL_MAX);
    json_t *detail = json_loads(detail_json, JSON_REJECT_DUPLICATES, &jerr);
    if (detail == NULL)
        return rb_fail(err, RB_EINVAL, NULL, "the detail is not valid JSON: %s (column %d)",
                       jerr.text, jerr.column);
    if (!json_is_object(detail)) {
        json_decref(detail);
        return rb_fail(err, RB_EINVAL, NULL,
                       "the detail must be a JSON object, for example {\"room\": \"B2\"}");
    }
    rb_status status = check_json_text(detail, 0, err);
    if (status != RB_OK) {
        json_decref(detail);
        return status;
    }
    *out = detail;
    return RB_OK;
}

rb_status rb_audit_record_manual(rb_ctx *ctx, const char *action, const char *object,
                                 const char *detail_json, int64_t *out_seq, rb_error *err)
{
    json_t *detail = NULL;
    int64_t seq = 0;
    rb_status status = check_action(action, err);
    if (status == RB_OK && object[0] == '\0')
        status = rb_fail(err, RB_EINVAL, NULL, "the object must not be empty");
    if (status == RB_OK)
        status = rb_text_check("the object", object, OBJECT_MAX, err);
    if (status == RB_OK)
        status = parse_detail(detail_json, &detail, err);
    if (status == RB_OK)
        status = rb_store_begin(ctx->store, err);
    if (status == RB_OK) {
        status = rb_audit_append(ctx, action, object, detail, &seq, err);
        if (status == RB_OK)
            status = rb_store_commit(ctx->store, err);
        else
            rb_store_rollback(ctx->store);
    }
    json_decref(detail);
    if (status == RB_OK && out_seq != NULL)
        *out_seq = seq;
    return status;
}
