/*
 * Unit tests of src/pki/idcheck*: every valid and invalid example of
 * DOMAIN.md section 5, the seed 002 limits and messages, and the edges of
 * untrusted input (empty, too long, whitespace, bytes outside ASCII).
 */
#include "harness.h"

#include "pki/idcheck.h"

#define UNTOUCHED "untouched"

/* 1 when type/value (and dv) validates and normalises to expected. */
static int valid(const char *type, const char *value, const char *dv, const char *expected)
{
    char out[RB_ID_NORMALISED_MAX] = UNTOUCHED;
    rb_error err = {0};
    if (rb_id_check(type, value, dv, out, sizeof(out), &err) != RB_OK) {
        fprintf(stderr, "  %s '%s' rejected: %s (%s)\n", type, value, err.message, err.rule);
        return 0;
    }
    if (strcmp(out, expected) != 0) {
        fprintf(stderr, "  %s '%s' gave '%s', expected '%s'\n", type, value, out, expected);
        return 0;
    }
    return 1;
}

/*
 * 1 when type/value (and dv) is refused with RB_EINVAL, a message containing
 * needle, a rule containing rule, and the output buffer left as it was.
 */
static int invalid(const char *type, const char *value, const char *dv, const char *needle,
                   const char *rule)
{
    char out[RB_ID_NORMALISED_MAX] = UNTOUCHED;
    rb_error err = {0};
    rb_status rc = rb_id_check(type, value, dv, out, sizeof(out), &err);
    if (rc != RB_EINVAL || strstr(err.message, needle) == NULL || strstr(err.rule, rule) == NULL ||
        strcmp(out, UNTOUCHED) != 0) {
        fprintf(stderr, "  %s '%s': status %d, message '%s', rule '%s', output '%s'\n", type, value,
                (int)rc, err.message, err.rule, out);
        return 0;
    }
    return 1;
}

TEST(idcheck_pe_dni)
{
    CHECK(valid("pe-dni", "10117410-2", NULL, "10117410"));
    CHECK(valid("pe-dni", "10117410-G", NULL, "10117410"));
    CHECK(valid("pe-dni", "10117410-g", NULL, "10117410"));
    CHECK(valid("pe-dni", "05209244-8", NULL, "05209244"));
    CHECK(valid("pe-dni", "05209244-B", NULL, "05209244"));
    CHECK(valid("pe-dni", "10117410", NULL, "10117410"));
    CHECK(invalid("pe-dni", "10117410-3", NULL, "is 2 or G, not 3", "Peru DNI: check character"));
    CHECK(invalid("pe-dni", "108125H3-3", NULL, "8 digits", "Peru DNI: format"));
    CHECK(invalid("pe-dni", "1081254332", NULL, "8 digits", "Peru DNI: format"));
    CHECK(invalid("pe-dni", "1011741", NULL, "8 digits", "Peru DNI: format"));
    CHECK(invalid("pe-dni", "10117410-", NULL, "8 digits", "Peru DNI: format"));
    CHECK(invalid("pe-dni", "10117410-22", NULL, "8 digits", "Peru DNI: format"));
    CHECK(invalid("pe-dni", "101174102", NULL, "8 digits", "Peru DNI: format"));
}

TEST(idcheck_pe_ruc)
{
    CHECK(valid("pe-ruc", "20512333797", NULL, "20512333797"));
    CHECK(valid("pe-ruc", "10054148289", NULL, "10054148289"));
    CHECK(valid("pe-ruc", "10101174102", NULL, "10101174102"));
    CHECK(invalid("pe-ruc", "20512333798", NULL, "is 7, not 8", "Peru RUC: check digit"));
    CHECK(
        invalid("pe-ruc", "99512333792", NULL, "starts with 10, 15, 17 or 20", "Peru RUC: prefix"));
    CHECK(invalid("pe-ruc", "2051233379", NULL, "11 digits", "Peru RUC: format"));
    CHECK(invalid("pe-ruc", "205123337970", NULL, "11 digits", "Peru RUC: format"));
    CHECK(invalid("pe-ruc", "2051233379A", NULL, "11 digits", "Peru RUC: format"));
    CHECK(invalid("pe-ruc", "20-51233379", NULL, "11 digits", "Peru RUC: format"));
}

TEST(idcheck_pe_ruc_of_dni)
{
    char ruc[RB_ID_NORMALISED_MAX];
    char out[RB_ID_NORMALISED_MAX];
    rb_error err = {0};
    REQUIRE(rb_id_pe_ruc_from_dni("10117410", ruc, sizeof(ruc), &err) == RB_OK);
    CHECK_STR(ruc, "10101174102");
    REQUIRE(rb_id_pe_ruc_from_dni("05414828-9", ruc, sizeof(ruc), &err) == RB_OK);
    CHECK_STR(ruc, "10054148289");
    /* Each derived RUC is a valid RUC, and holds the DNI after "10". */
    const char *dnis[] = {"10117410", "05209244", "00000001", "99999999", "12345678"};
    for (size_t i = 0; i < sizeof(dnis) / sizeof(dnis[0]); i++) {
        REQUIRE(rb_id_pe_ruc_from_dni(dnis[i], ruc, sizeof(ruc), &err) == RB_OK);
        CHECK(rb_id_pe_ruc(ruc, out, sizeof(out), &err) == RB_OK);
        CHECK(strncmp(ruc, "10", 2) == 0 && strncmp(ruc + 2, dnis[i], 8) == 0);
    }
    CHECK(rb_id_pe_ruc_from_dni("10117410-3", ruc, sizeof(ruc), &err) == RB_EINVAL);
}

TEST(idcheck_pe_ce)
{
    CHECK(valid("pe-ce", "001234567", NULL, "001234567"));
    CHECK(valid("pe-ce", "ab12", NULL, "AB12"));
    CHECK(valid("pe-ce", "1", NULL, "1"));
    CHECK(valid("pe-ce", "ABCDEF123456", NULL, "ABCDEF123456"));
    CHECK(invalid("pe-ce", "ABCDEF1234567", NULL, "at most 12", "carné de extranjería"));
    CHECK(invalid("pe-ce", "12-34", NULL, "only letters and digits", "carné de extranjería"));
}

TEST(idcheck_pa_cedula_valid)
{
    CHECK(valid("pa-cedula", "8-274-125", NULL, "8-274-125"));
    CHECK(valid("pa-cedula", "PE-1-19", NULL, "PE-1-19"));
    CHECK(valid("pa-cedula", "pe-1-19", NULL, "PE-1-19"));
    CHECK(valid("pa-cedula", "8AV-1-196", NULL, "8AV-1-196"));
    CHECK(valid("pa-cedula", "4pi-12-3", NULL, "4PI-12-3"));
    CHECK(valid("pa-cedula", "13-1-1", NULL, "13-1-1"));
    CHECK(valid("pa-cedula", "1-1-1", NULL, "1-1-1"));
    CHECK(valid("pa-cedula", "E-8-110361", NULL, "E-8-110361"));
    CHECK(valid("pa-cedula", "N-19-1234", NULL, "N-19-1234"));
    CHECK(valid("pa-cedula", "8-2743-125300", NULL, "8-2743-125300"));
    CHECK(valid("pa-cedula", "8-0274-000125", NULL, "8-274-125"));
}

TEST(idcheck_pa_cedula_invalid)
{
    CHECK(invalid("pa-cedula", "0-1-1", NULL, "no province 0", "Panama cédula: province"));
    CHECK(invalid("pa-cedula", "14-1-1", NULL, "no province 14", "Panama cédula: province"));
    CHECK(invalid("pa-cedula", "08-1-1", NULL, "no province 08", "Panama cédula: province"));
    CHECK(invalid("pa-cedula", "15-1-1", NULL, "El tomo no puede ser mayor de 14", "seed 002"));
    CHECK(invalid("pa-cedula", "12345-1-1", NULL, "El tomo no debe ser mayor a 4 dígitos",
                  "seed 002"));
    CHECK(
        invalid("pa-cedula", "X-1-1", NULL, "sólo pueden tener uno de los siguientes", "seed 002"));
    CHECK(invalid("pa-cedula", "8NT-1-1", NULL, "N, E, PE, ó PI", "seed 002"));
    CHECK(invalid("pa-cedula", "8-12345-1", NULL, "folio of a cédula has at most 4 digits",
                  "Panama cédula: format"));
    CHECK(invalid("pa-cedula", "8-1-1234567", NULL, "asiento of a cédula has at most 6 digits",
                  "Panama cédula: format"));
    CHECK(invalid("pa-cedula", "8-12345678-1", NULL,
                  "El folio no debe tener más de 7 dígitos para las cédulas.", "seed 002"));
    CHECK(invalid("pa-cedula", "8-1-12345678", NULL,
                  "El asiento no debe tener más de 7 dígitos para las cédulas.", "seed 002"));
    CHECK(invalid("pa-cedula", "8-A-1", NULL, "El folio debe ser numérico.", "seed 002"));
    CHECK(invalid("pa-cedula", "8-1-1A", NULL, "El asiento debe ser numérico.", "seed 002"));
    CHECK(invalid("pa-cedula", "-1-1", NULL, "Debe introducir el tomo de la cédula.", "seed 002"));
    CHECK(invalid("pa-cedula", "8--1", NULL, "Debe introducir el folio de la cédula.", "seed 002"));
    CHECK(
        invalid("pa-cedula", "8-1-", NULL, "Debe introducir el asiento de la cédula.", "seed 002"));
    CHECK(invalid("pa-cedula", "8-1-1-1", NULL,
                  "La cédula sólo debe tener el tomo, folio y asiento.", "seed 002"));
    CHECK(invalid("pa-cedula", "8274125", NULL, "three parts", "Panama cédula: format"));
}

TEST(idcheck_pa_ruc_domain_examples)
{
    CHECK(valid("pa-ruc", "8-274-125", "91", "8-274-125 DV 91"));
    CHECK(valid("pa-ruc", "8-2743-1253", "31", "8-2743-1253 DV 31"));
    CHECK(valid("pa-ruc", "PE-1-19", "60", "PE-1-19 DV 60"));
    CHECK(valid("pa-ruc", "E-1-11", "63", "E-1-11 DV 63"));
    CHECK(valid("pa-ruc", "8AV-1-196", "90", "8AV-1-196 DV 90"));
    CHECK(valid("pa-ruc", "E-8-110361", "95", "E-8-110361 DV 95"));
    CHECK(valid("pa-ruc", "61302-14-123411", "22", "61302-14-123411 DV 22"));
    CHECK(invalid("pa-ruc", "253-92-57027", "23", "not 23", "Panama RUC: DV"));
    CHECK(invalid("pa-ruc", "8-274-125", "19", "the DV of RUC 8-274-125 is 91, not 19",
                  "Panama RUC: DV"));
}

TEST(idcheck_pa_ruc_dv)
{
    char dv[3];
    rb_error err = {0};
    REQUIRE(rb_id_pa_ruc_dv("8-274-125", dv, &err) == RB_OK);
    CHECK_STR(dv, "91");
    /* Without a DV the DV is computed and shown. */
    CHECK(valid("pa-ruc", "8-274-125", NULL, "8-274-125 DV 91"));
    CHECK(valid("pa-ruc", "8av-01-0196", NULL, "8AV-1-196 DV 90"));
    /* The printed form "RUC DV NN", the validator's own output, carries its DV. */
    CHECK(valid("pa-ruc", "8-274-125 DV 91", NULL, "8-274-125 DV 91"));
    CHECK(valid("pa-ruc", "8-274-125 DV 91", "91", "8-274-125 DV 91"));
    CHECK(
        invalid("pa-ruc", "8-274-126 DV 91", NULL, "the DV of RUC 8-274-126 is", "Panama RUC: DV"));
    CHECK(invalid("pa-ruc", "8-274-125 DV 91", "19", "two DVs", "Panama RUC: DV"));
    /* A DV below 10 is written with its leading zero, as seed 002 asks. */
    CHECK(valid("pa-ruc", "8-1-2", NULL, "8-1-2 DV 05"));
    CHECK(valid("pa-ruc", "8-1-2", "05", "8-1-2 DV 05"));
    CHECK(invalid("pa-ruc", "8-1-2", "5", "deberá agregar un cero 0 por delante", "seed 002"));
    CHECK(invalid("pa-ruc", "8-1-2", "100", "no mayor a 99", "seed 002"));
    CHECK(invalid("pa-ruc", "8-1-2", "a5", "debe ser numérico", "seed 002"));
    CHECK(invalid("pa-ruc", "8-1-2", "", "debe ser numérico", "seed 002"));
    /* The NT form. */
    CHECK(valid("pa-ruc", "8-NT-1-12345", "08", "8-NT-1-12345 DV 08"));
    CHECK(invalid("pa-ruc", "8AV-NT-1-1", NULL, "plain province", "Panama RUC: format"));
    CHECK(invalid("pa-ruc", "8-XX-1-1", NULL, "separados por guiones", "seed 002"));
    CHECK(invalid("pa-ruc", "8-1", NULL, "separados por guiones", "seed 002"));
}

TEST(idcheck_pa_ruc_legal_entity)
{
    /* Old format: the tomo's digits 6-7 go through the DGI table (253: "00"; 12345: 12 -> 03). */
    CHECK(valid("pa-ruc", "253-92-57027", "76", "253-92-57027 DV 76"));
    CHECK(valid("pa-ruc", "12345-1-1", "41", "12345-1-1 DV 41"));
    CHECK(valid("pa-ruc", "23456-7-890", "54", "23456-7-890 DV 54"));
    CHECK(valid("pa-ruc", "1000-1-1", "90", "1000-1-1 DV 90"));
    /* New format. */
    CHECK(valid("pa-ruc", "50000-1-1", "96", "50000-1-1 DV 96"));
    CHECK(valid("pa-ruc", "155596713-2-2015", "59", "155596713-2-2015 DV 59"));
    CHECK(valid("pa-ruc", "0000000253-0092-057027", NULL, "253-92-57027 DV 76"));
    CHECK(invalid("pa-ruc", "12345678901-1-1", NULL, "tomo of a legal entity's RUC has at most 10",
                  "Panama RUC: format"));
    CHECK(invalid("pa-ruc", "1234-12345-1", NULL, "folio of a legal entity's RUC has at most 4",
                  "Panama RUC: format"));
    CHECK(invalid("pa-ruc", "123456789012345678901-1-1", NULL,
                  "El tomo no debe tener más de 20 dígitos.", "seed 002"));
    CHECK(invalid("pa-ruc", "1234-1-123456789012345678901", NULL,
                  "El asiento no debe tener más de 20 dígitos para el RUC.", "seed 002"));
    CHECK(invalid("pa-ruc", "1234-X-1", NULL, "El folio debe ser numérico.", "seed 002"));
    CHECK(invalid("pa-ruc", "1234--1", NULL, "Debe introducir el folio del RUC.", "seed 002"));
    CHECK(invalid("pa-ruc", "-1-1", NULL, "Debe introducir el tomo del RUC.", "seed 002"));
    /* A tomo that reads as a province once its zeros go keeps one zero (found by fuzzing). */
    char out[RB_ID_NORMALISED_MAX];
    rb_error err = {0};
    REQUIRE(rb_id_check("pa-ruc", "005-92-5", NULL, out, sizeof(out), &err) == RB_OK);
    CHECK(strncmp(out, "05-92-5 DV ", 11) == 0);
    CHECK(valid("pa-ruc", "05-92-5", NULL, out));
    CHECK(valid("pa-ruc", "0-92-5", NULL, "0-92-5 DV 33"));
    /* A first part with letters is read as a person's cédula. */
    CHECK(invalid("pa-ruc", "X-1-1", NULL, "N, E, PE, ó PI", "seed 002"));
}

TEST(idcheck_py)
{
    CHECK(valid("py-ci", "1068460", NULL, "1068460"));
    CHECK(valid("py-ci", "1", NULL, "1"));
    CHECK(valid("py-ci", "12345678", NULL, "12345678"));
    CHECK(invalid("py-ci", "123456789", NULL, "1 to 8 digits", "Paraguay CI"));
    CHECK(invalid("py-ci", "1.068.460", NULL, "1 to 8 digits", "Paraguay CI"));
    CHECK(invalid("py-ci", "000", NULL, "all zeros", "Paraguay CI"));
    CHECK(valid("py-ruc", "80028061-0", NULL, "80028061-0"));
    CHECK(valid("py-ruc", "80000020-0", NULL, "80000020-0"));
    CHECK(valid("py-ruc", "1068460-3", NULL, "1068460-3"));
    CHECK(valid("py-ruc", "2660-3", NULL, "2660-3"));
    CHECK(valid("py-ruc", "a1234-8", NULL, "A1234-8")); /* 'A' counts as 65 */
    CHECK(invalid("py-ruc", "80053249-2", NULL, "is 0, not 2", "Paraguay RUC: check digit"));
    CHECK(invalid("py-ruc", "80021744-8", NULL, "is 6, not 8", "Paraguay RUC: check digit"));
    CHECK(invalid("py-ruc", "80123456785", NULL, "'-' and one check digit", "Paraguay RUC"));
    CHECK(invalid("py-ruc", "123456789-0", NULL, "1 to 8", "Paraguay RUC: format"));
    CHECK(invalid("py-ruc", "8002806-10", NULL, "one check digit", "Paraguay RUC: format"));
    CHECK(invalid("py-ruc", "-1", NULL, "1 to 8", "Paraguay RUC: format"));
    CHECK(invalid("py-ruc", "2660-", NULL, "one check digit", "Paraguay RUC: format"));
    CHECK(invalid("py-ruc", "0000-0", NULL, "all zeros", "Paraguay RUC: format"));
}

TEST(idcheck_sv_dui)
{
    CHECK(valid("sv-dui", "12345678-4", NULL, "12345678-4"));
    CHECK(valid("sv-dui", "00000001-8", NULL, "00000001-8"));
    CHECK(valid("sv-dui", "123456784", NULL, "12345678-4"));
    CHECK(invalid("sv-dui", "12345678-9", NULL, "is 4, not 9", "El Salvador DUI: check digit"));
    CHECK(invalid("sv-dui", "04567890-1", NULL, "is 3, not 1", "El Salvador DUI: check digit"));
    CHECK(invalid("sv-dui", "00000000-0", NULL, "all zeros", "El Salvador DUI"));
    CHECK(invalid("sv-dui", "1234567-4", NULL, "8 digits", "El Salvador DUI: format"));
    CHECK(invalid("sv-dui", "12345678-", NULL, "8 digits", "El Salvador DUI: format"));
    CHECK(invalid("sv-dui", "1234567A-4", NULL, "8 digits", "El Salvador DUI: format"));
    CHECK(invalid("sv-dui", "12345678-44", NULL, "8 digits", "El Salvador DUI: format"));
}

TEST(idcheck_sv_nit)
{
    CHECK(valid("sv-nit", "0614-050707-104-8", NULL, "0614-050707-104-8"));
    CHECK(valid("sv-nit", "0209-200875-101-2", NULL, "0209-200875-101-2"));
    CHECK(valid("sv-nit", "06140507071048", NULL, "0614-050707-104-8"));
    CHECK(valid("sv-nit", "0614-010190-001-8", NULL, "0614-010190-001-8")); /* SSS <= 100 */
    CHECK(invalid("sv-nit", "0614-050707-104-0", NULL, "is 8, not 0", "NIT: check digit"));
    CHECK(invalid("sv-nit", "0614-010190-001-7", NULL, "is 8, not 7", "NIT: check digit"));
    CHECK(invalid("sv-nit", "52345678901234", NULL, "starts with 0, 1 or 9", "NIT: format"));
    CHECK(invalid("sv-nit", "0614-050707-1048", NULL, "MMMM-DDMMYY-SSS-C", "NIT: format"));
    CHECK(invalid("sv-nit", "0614050707104", NULL, "MMMM-DDMMYY-SSS-C", "NIT: format"));
}

TEST(idcheck_untrusted_input)
{
    char long_value[RB_ID_INPUT_MAX + 2];
    memset(long_value, '1', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    const char *types[] = {"pe-dni", "pe-ruc", "pe-ce",  "pa-cedula", "pa-ruc",
                           "py-ci",  "py-ruc", "sv-dui", "sv-nit"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        CHECK(invalid(types[i], "", NULL, "is empty", "DOMAIN §5"));
        CHECK(invalid(types[i], long_value, NULL, "too long", "DOMAIN §5"));
        CHECK(invalid(types[i], " 8-274-125", NULL, "spaces before or after", "DOMAIN §5"));
        CHECK(invalid(types[i], "8-274-125 ", NULL, "spaces before or after", "DOMAIN §5"));
        CHECK(invalid(types[i], "12345678\n", NULL, "spaces before or after", "DOMAIN §5"));
        CHECK(invalid(types[i], "8 274 125", NULL, "at position 2", "DOMAIN §5"));
        CHECK(invalid(types[i], "8-274-125\xc3\xa9", NULL, "at position 10", "DOMAIN §5"));
        CHECK(invalid(types[i], "1234\x01", NULL, "at position 5", "DOMAIN §5"));
    }
}

TEST(idcheck_dispatcher)
{
    char out[RB_ID_NORMALISED_MAX] = UNTOUCHED;
    char small[8];
    rb_error err = {0};
    CHECK(rb_id_check("xx-id", "1", NULL, out, sizeof(out), &err) == RB_EINVAL);
    CHECK(strstr(err.message, "unknown document type 'xx-id'") != NULL);
    CHECK(strstr(err.message, "pe-dni") != NULL);
    rb_error_clear(&err);
    CHECK(rb_id_check("\x1b[2J", "1", NULL, out, sizeof(out), &err) == RB_EINVAL);
    CHECK(strchr(err.message, '\x1b') == NULL);
    CHECK(invalid("pe-dni", "10117410", "91", "only given with a Panama RUC", "document types"));
    CHECK_STR(out, UNTOUCHED);
    rb_error_clear(&err);
    CHECK(rb_id_check("pe-dni", NULL, NULL, out, sizeof(out), &err) == RB_EINTERNAL);
    rb_error_clear(&err);
    CHECK(rb_id_check(NULL, "1", NULL, out, sizeof(out), &err) == RB_EINTERNAL);
    rb_error_clear(&err);
    CHECK(rb_id_check("pe-dni", "10117410", NULL, small, sizeof(small), &err) == RB_EINTERNAL);
    rb_error_clear(&err);
    CHECK(rb_id_pa_ruc_dv("8-274-125", NULL, &err) == RB_EINTERNAL);
    /* A NULL err is allowed: only the status comes back. */
    CHECK(rb_id_check("pe-ruc", "20512333798", NULL, out, sizeof(out), NULL) == RB_EINVAL);
}
