/*
 * libFuzzer target for the national ID validators (src/pki/idcheck*.c):
 * feeds arbitrary bytes as document type, value and DV to rb_id_check and
 * checks the invariants: no crash or overread, a failure leaves the output
 * alone, and a normalised value validates again to itself.
 *
 * Build and run all targets: fuzz/run (FUZZ_SECONDS per target); build only:
 *   make FUZZ=1 BUILD=build-fuzz fuzz
 *
 * Input layout: byte 0 picks the type (one of the nine, or "raw": the type is
 * read from the input too); the rest is split at '\n' into value, then DV.
 */
#include "pki/idcheck.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const types[] = {"pe-dni", "pe-ruc", "pe-ce",  "pa-cedula", "pa-ruc",
                                    "py-ci",  "py-ruc", "sv-dui", "sv-nit"};
#define TYPE_COUNT (sizeof(types) / sizeof(types[0]))

/* The next '\n'-terminated field of data as an exactly-sized heap string (so ASan sees overreads).
 */
static char *next_field(const uint8_t **data, size_t *size)
{
    const uint8_t *end = memchr(*data, '\n', *size);
    size_t n = end ? (size_t)(end - *data) : *size;
    char *field = malloc(n + 1);
    if (field == NULL)
        abort();
    memcpy(field, *data, n);
    field[n] = '\0';
    *data += end ? n + 1 : n;
    *size -= end ? n + 1 : n;
    return field;
}

/* A normalised value must validate again, to itself. */
static void check_stable(const char *type, const char *normalised)
{
    char again[RB_ID_NORMALISED_MAX];
    rb_error err = {0};
    if (rb_id_check(type, normalised, NULL, again, sizeof(again), &err) != RB_OK)
        abort();
    if (strcmp(again, normalised) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t pick = data[0] % (TYPE_COUNT + 1);
    data++;
    size--;
    char *raw_type = pick == TYPE_COUNT ? next_field(&data, &size) : NULL;
    const char *type = raw_type ? raw_type : types[pick];
    char *value = next_field(&data, &size);
    char *dv = size > 0 ? next_field(&data, &size) : NULL;

    char out[RB_ID_NORMALISED_MAX];
    memset(out, 'x', sizeof(out));
    rb_error err = {0};
    rb_status rc = rb_id_check(type, value, dv, out, sizeof(out), &err);
    if (rc == RB_OK) {
        if (memchr(out, '\0', sizeof(out)) == NULL)
            abort();
        check_stable(type, out);
    } else {
        if (rc != RB_EINVAL || err.message[0] == '\0' || out[0] != 'x')
            abort();
    }
    char computed[3];
    rb_error_clear(&err);
    if (rb_id_pa_ruc_dv(value, computed, &err) == RB_OK && strspn(computed, "0123456789") != 2)
        abort();

    free(raw_type);
    free(value);
    free(dv);
    return 0;
}
