/*
 * libFuzzer target for the subject fields of a request (src/pki/subject.c),
 * which come from `cert issue --set` and from API request bodies: any fields
 * must give either a subject or one refusal that names the field or rule —
 * never a crash, a leak or a read out of bounds. A subject that was built
 * must encode, and building again from its normalised fields (what renewal
 * and reissue do with the stored record) must give the same name, the same
 * identifier and the same fields.
 *
 * Build and run all targets: fuzz/run (FUZZ_SECONDS per target); build only:
 *   make FUZZ=1 BUILD=build-fuzz fuzz
 *
 * Input layout: byte 0 picks the jurisdiction (its low two bits: PE, PA, PY,
 * SV) and the profile (the rest, modulo the jurisdiction's profile count);
 * the remaining bytes are lines FIELD=VALUE. Values go through json_string,
 * as the command line's do, so a value that is not UTF-8 is skipped.
 */
#include "ca/init.h"
#include "pki/profile.h"
#include "pki/subject.h"

#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int condition)
{
    if (!condition)
        __builtin_trap();
}

static const rb_jurisdiction *jurisdiction(unsigned index)
{
    static const char *const codes[] = {"PE", "PA", "PY", "SV"};
    static rb_jurisdiction *loaded[4];
    if (loaded[index] == NULL) {
        char path[1024];
        rb_error err = {0};
        snprintf(path, sizeof(path), "%s/profiles/%s.json", RB_SHARE_DIR, codes[index]);
        require(rb_jurisdiction_load(path, &loaded[index], &err) == RB_OK);
    }
    return loaded[index];
}

/* Lines FIELD=VALUE into a JSON object; a later line for the same field wins. */
static json_t *fields_from(const uint8_t *data, size_t size)
{
    json_t *fields = json_object();
    while (size > 0) {
        const uint8_t *end = memchr(data, '\n', size);
        size_t n = end ? (size_t)(end - data) : size;
        char *line = strndup((const char *)data, n);
        char *eq = line ? strchr(line, '=') : NULL;
        if (eq != NULL) {
            *eq = '\0';
            json_t *value = json_string(eq + 1);
            if (value != NULL)
                json_object_set_new(fields, line, value);
        }
        free(line);
        data += n + (end != NULL);
        size -= n + (end != NULL);
    }
    return fields;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    const rb_jurisdiction *j = jurisdiction(data[0] & 3u);
    const rb_profile *p = &j->profiles[(data[0] >> 2) % j->profile_count];
    json_t *fields = fields_from(data + 1, size - 1);
    rb_subject first, again;
    memset(&first, 0, sizeof(first));
    memset(&again, 0, sizeof(again));
    rb_error err = {0};
    if (rb_subject_build(j, p, fields, &first, &err) != RB_OK) {
        require(err.message[0] != '\0');
        rb_subject_clear(&first);
        json_decref(fields);
        return 0;
    }
    require(first.name != NULL && i2d_X509_NAME(first.name, NULL) > 0);
    require(rb_subject_build(j, p, first.fields, &again, &err) == RB_OK);
    require(X509_NAME_cmp(first.name, again.name) == 0);
    require(strcmp(first.subject_id, again.subject_id) == 0);
    require(strcmp(first.limits, again.limits) == 0);
    require(json_equal(first.fields, again.fields));
    rb_subject_clear(&first);
    rb_subject_clear(&again);
    json_decref(fields);
    return 0;
}
