/*
 * Validators of the Peru, Paraguay and El Salvador identity and tax numbers
 * (DOMAIN.md section 5), the input checks every validator shares and the
 * rb_id_check dispatcher. Panama's cédula and RUC, with the DGI check-number
 * algorithm, are in idcheck_pa.c.
 */
#include "pki/idcheck.h"

#include <stdio.h>
#include <string.h>

#define DIGITS "0123456789"

#define RULE_PE_DNI_FORMAT "DOMAIN §5 Peru DNI: format"
#define RULE_PE_DNI_CHECK  "DOMAIN §5 Peru DNI: check character"
#define RULE_PE_RUC_FORMAT "DOMAIN §5 Peru RUC: format"
#define RULE_PE_RUC_PREFIX "DOMAIN §5 Peru RUC: prefix"
#define RULE_PE_RUC_CHECK  "DOMAIN §5 Peru RUC: check digit"
#define RULE_PE_CE_FORMAT  "DOMAIN §5 Peru carné de extranjería: format"
#define RULE_PY_CI_FORMAT  "DOMAIN §5 Paraguay CI: format"
#define RULE_PY_RUC_FORMAT "DOMAIN §5 Paraguay RUC: format"
#define RULE_PY_RUC_CHECK  "DOMAIN §5 Paraguay RUC: check digit"
#define RULE_SV_DUI_FORMAT "DOMAIN §5 El Salvador DUI: format"
#define RULE_SV_DUI_CHECK  "DOMAIN §5 El Salvador DUI: check digit"
#define RULE_SV_NIT_FORMAT "DOMAIN §5 El Salvador NIT: format"
#define RULE_SV_NIT_CHECK  "DOMAIN §5 El Salvador NIT: check digit"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char to_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static int is_alnum(char c)
{
    char u = to_upper(c);
    return is_digit(c) || (u >= 'A' && u <= 'Z');
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* 1 if s[0..n) are all digits (and n > 0). */
static int all_digits(const char *s, size_t n)
{
    return n > 0 && strspn(s, DIGITS) >= n;
}

/* 1 if s[0..n) are all '0'. */
static int all_zeros(const char *s, size_t n)
{
    return strspn(s, "0") >= n;
}

rb_status rb_id_input_check(const char *what, const char *rule, const char *value,
                            const char *normalised, size_t len, rb_error *err)
{
    if (value == NULL || normalised == NULL || len < RB_ID_NORMALISED_MAX)
        return rb_fail(err, RB_EINTERNAL, NULL,
                       "%s: no value given, or the output buffer is under %d bytes", what,
                       RB_ID_NORMALISED_MAX);
    size_t n = strnlen(value, RB_ID_INPUT_MAX + 1);
    if (n == 0)
        return rb_fail(err, RB_EINVAL, rule, "the %s is empty: enter the number", what);
    if (n > RB_ID_INPUT_MAX)
        return rb_fail(err, RB_EINVAL, rule, "the %s is too long: at most %d characters", what,
                       RB_ID_INPUT_MAX);
    if (is_space(value[0]) || is_space(value[n - 1]))
        return rb_fail(err, RB_EINVAL, rule,
                       "the %s has spaces before or after it: remove them and try again", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c <= ' ' || c >= 0x7f)
            return rb_fail(err, RB_EINVAL, rule,
                           "the %s has a space or a character that is not a letter, digit or "
                           "'-' at position %zu",
                           what, i + 1);
    }
    return RB_OK;
}

/* --- Peru ------------------------------------------------------------------------------------ */

/* S mod 11 of the DNI's 8 digits, the index into both check-character tables. */
static int pe_dni_index(const char *digits)
{
    static const int weights[8] = {3, 2, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    for (int i = 0; i < 8; i++)
        sum += weights[i] * (digits[i] - '0');
    return sum % 11;
}

/* Checks a DNI (input already checked) and copies its 8 digits into out. */
static rb_status pe_dni_parse(const char *value, char out[9], rb_error *err)
{
    size_t n = strlen(value);
    if (strspn(value, DIGITS) != 8 || (n != 8 && (n != 10 || value[8] != '-')))
        return rb_fail(err, RB_EINVAL, RULE_PE_DNI_FORMAT,
                       "a Peru DNI is 8 digits, optionally followed by '-' and its check digit "
                       "or letter (e.g. 10117410-2); got '%s'",
                       value);
    if (n == 10) {
        int c = pe_dni_index(value);
        char given = to_upper(value[9]);
        char digit = "65432110987"[c];
        char letter = "KJIHGFEDCBA"[c];
        if (given != digit && given != letter)
            return rb_fail(err, RB_EINVAL, RULE_PE_DNI_CHECK,
                           "the check character of Peru DNI %.8s is %c or %c, not %c", value, digit,
                           letter, value[9]);
    }
    memcpy(out, value, 8);
    out[8] = '\0';
    return RB_OK;
}

rb_status rb_id_pe_dni(const char *value, char *normalised, size_t len, rb_error *err)
{
    char dni[9];
    rb_status rc = rb_id_input_check("Peru DNI", RULE_PE_DNI_FORMAT, value, normalised, len, err);
    if (rc == RB_OK)
        rc = pe_dni_parse(value, dni, err);
    if (rc != RB_OK)
        return rc;
    snprintf(normalised, len, "%s", dni);
    return RB_OK;
}

/* The RUC check digit of the first 10 digits. */
static int pe_ruc_check_digit(const char *digits)
{
    static const int weights[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    for (int i = 0; i < 10; i++)
        sum += weights[i] * (digits[i] - '0');
    return (11 - sum % 11) % 10;
}

rb_status rb_id_pe_ruc(const char *value, char *normalised, size_t len, rb_error *err)
{
    rb_status rc = rb_id_input_check("Peru RUC", RULE_PE_RUC_FORMAT, value, normalised, len, err);
    if (rc != RB_OK)
        return rc;
    if (strlen(value) != 11 || !all_digits(value, 11))
        return rb_fail(err, RB_EINVAL, RULE_PE_RUC_FORMAT,
                       "a Peru RUC is 11 digits, without spaces or dashes (e.g. 20512333797); "
                       "got '%s'",
                       value);
    if (strncmp(value, "10", 2) != 0 && strncmp(value, "15", 2) != 0 &&
        strncmp(value, "17", 2) != 0 && strncmp(value, "20", 2) != 0)
        return rb_fail(err, RB_EINVAL, RULE_PE_RUC_PREFIX,
                       "a Peru RUC starts with 10, 15, 17 or 20, not %.2s", value);
    int check = pe_ruc_check_digit(value);
    if (value[10] - '0' != check)
        return rb_fail(err, RB_EINVAL, RULE_PE_RUC_CHECK,
                       "the check digit of Peru RUC %.10s is %d, not %c", value, check, value[10]);
    snprintf(normalised, len, "%s", value);
    return RB_OK;
}

rb_status rb_id_pe_ruc_from_dni(const char *dni, char *ruc, size_t len, rb_error *err)
{
    char digits[9];
    char first10[11];
    rb_status rc = rb_id_input_check("Peru DNI", RULE_PE_DNI_FORMAT, dni, ruc, len, err);
    if (rc == RB_OK)
        rc = pe_dni_parse(dni, digits, err);
    if (rc != RB_OK)
        return rc;
    snprintf(first10, sizeof(first10), "10%s", digits);
    snprintf(ruc, len, "%s%d", first10, pe_ruc_check_digit(first10));
    return RB_OK;
}

rb_status rb_id_pe_ce(const char *value, char *normalised, size_t len, rb_error *err)
{
    rb_status rc = rb_id_input_check("Peru carné de extranjería", RULE_PE_CE_FORMAT, value,
                                     normalised, len, err);
    if (rc != RB_OK)
        return rc;
    size_t n = strlen(value);
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(value[i]))
            return rb_fail(err, RB_EINVAL, RULE_PE_CE_FORMAT,
                           "a Peru carné de extranjería has only letters and digits; '%c' at "
                           "position %zu is neither",
                           value[i], i + 1);
    if (n > 12)
        return rb_fail(err, RB_EINVAL, RULE_PE_CE_FORMAT,
                       "a Peru carné de extranjería has at most 12 letters or digits, not %zu", n);
    for (size_t i = 0; i <= n; i++)
        normalised[i] = to_upper(value[i]);
    return RB_OK;
}

/* --- Paraguay -------------------------------------------------------------------------------- */

rb_status rb_id_py_ci(const char *value, char *normalised, size_t len, rb_error *err)
{
    rb_status rc = rb_id_input_check("Paraguay CI", RULE_PY_CI_FORMAT, value, normalised, len, err);
    if (rc != RB_OK)
        return rc;
    size_t n = strlen(value);
    if (n > 8 || !all_digits(value, n))
        return rb_fail(err, RB_EINVAL, RULE_PY_CI_FORMAT,
                       "a Paraguay cédula de identidad is 1 to 8 digits, without dots or dashes "
                       "(e.g. 1068460); got '%s'",
                       value);
    if (all_zeros(value, n))
        return rb_fail(err, RB_EINVAL, RULE_PY_CI_FORMAT,
                       "a Paraguay cédula de identidad cannot be all zeros");
    snprintf(normalised, len, "%s", value);
    return RB_OK;
}

/*
 * The SET check digit of a RUC base: letters count as the digits of their
 * ASCII code; weights 2..11 from the right, cycling.
 */
static int py_ruc_check_digit(const char *base, size_t n)
{
    unsigned sum = 0, weight = 2;
    for (size_t i = n; i-- > 0;) {
        char c = to_upper(base[i]);
        unsigned code = is_digit(c) ? (unsigned)(c - '0') : (unsigned char)c;
        do {
            sum += (code % 10) * weight;
            weight = weight == 11 ? 2 : weight + 1;
            code /= 10;
        } while (code > 0);
    }
    unsigned r = sum % 11;
    return r > 1 ? (int)(11 - r) : 0;
}

rb_status rb_id_py_ruc(const char *value, char *normalised, size_t len, rb_error *err)
{
    rb_status rc =
        rb_id_input_check("Paraguay RUC", RULE_PY_RUC_FORMAT, value, normalised, len, err);
    if (rc != RB_OK)
        return rc;
    size_t n = strlen(value);
    const char *dash = strchr(value, '-');
    size_t base_len = dash ? (size_t)(dash - value) : n;
    int base_ok = base_len >= 1 && base_len <= 8;
    for (size_t i = 0; base_ok && i < base_len; i++)
        base_ok = is_alnum(value[i]);
    if (dash == NULL || !base_ok || n != base_len + 2 || !is_digit(dash[1]))
        return rb_fail(err, RB_EINVAL, RULE_PY_RUC_FORMAT,
                       "a Paraguay RUC is its base (1 to 8 digits or letters), '-' and one check "
                       "digit (e.g. 80028061-0); got '%s'",
                       value);
    if (all_zeros(value, base_len))
        return rb_fail(err, RB_EINVAL, RULE_PY_RUC_FORMAT,
                       "the base of a Paraguay RUC cannot be all zeros");
    int check = py_ruc_check_digit(value, base_len);
    if (dash[1] - '0' != check)
        return rb_fail(err, RB_EINVAL, RULE_PY_RUC_CHECK,
                       "the check digit of Paraguay RUC %.*s is %d, not %c", (int)base_len, value,
                       check, dash[1]);
    for (size_t i = 0; i <= n; i++)
        normalised[i] = to_upper(value[i]);
    return RB_OK;
}

/* --- El Salvador ----------------------------------------------------------------------------- */

rb_status rb_id_sv_dui(const char *value, char *normalised, size_t len, rb_error *err)
{
    rb_status rc =
        rb_id_input_check("El Salvador DUI", RULE_SV_DUI_FORMAT, value, normalised, len, err);
    if (rc != RB_OK)
        return rc;
    size_t n = strlen(value);
    int dashed = n == 10 && value[8] == '-';
    if (!all_digits(value, 8) ||
        !((dashed && is_digit(value[9])) || (n == 9 && is_digit(value[8]))))
        return rb_fail(err, RB_EINVAL, RULE_SV_DUI_FORMAT,
                       "an El Salvador DUI is 8 digits, '-' and one check digit (e.g. "
                       "12345678-4); got '%s'",
                       value);
    char given = value[n - 1];
    if (all_zeros(value, 8))
        return rb_fail(err, RB_EINVAL, RULE_SV_DUI_FORMAT,
                       "an El Salvador DUI cannot be all zeros");
    int sum = 0;
    for (int i = 0; i < 8; i++)
        sum += (value[i] - '0') * (9 - i);
    int check = (10 - sum % 10) % 10;
    if (given - '0' != check)
        return rb_fail(err, RB_EINVAL, RULE_SV_DUI_CHECK,
                       "the check digit of El Salvador DUI %.8s is %d, not %c", value, check,
                       given);
    snprintf(normalised, len, "%.8s-%c", value, given);
    return RB_OK;
}

/* Copies a NIT, written with its three dashes or as 14 digits, as 14 digits into out. */
static int sv_nit_digits(const char *value, char out[15])
{
    size_t n = strlen(value);
    if (n == 14 && all_digits(value, 14)) {
        memcpy(out, value, 15);
        return 1;
    }
    if (n != 17 || value[4] != '-' || value[11] != '-' || value[15] != '-' ||
        !all_digits(value, 4) || !all_digits(value + 5, 6) || !all_digits(value + 12, 3) ||
        !is_digit(value[16]))
        return 0;
    memcpy(out, value, 4);
    memcpy(out + 4, value + 5, 6);
    memcpy(out + 10, value + 12, 3);
    out[13] = value[16];
    out[14] = '\0';
    return 1;
}

rb_status rb_id_sv_nit(const char *value, char *normalised, size_t len, rb_error *err)
{
    char d[15];
    rb_status rc =
        rb_id_input_check("El Salvador NIT", RULE_SV_NIT_FORMAT, value, normalised, len, err);
    if (rc != RB_OK)
        return rc;
    if (!sv_nit_digits(value, d))
        return rb_fail(err, RB_EINVAL, RULE_SV_NIT_FORMAT,
                       "an El Salvador NIT is MMMM-DDMMYY-SSS-C (e.g. 0614-050707-104-8) or the "
                       "same 14 digits without dashes; got '%s'",
                       value);
    if (d[0] != '0' && d[0] != '1' && d[0] != '9')
        return rb_fail(err, RB_EINVAL, RULE_SV_NIT_FORMAT,
                       "an El Salvador NIT starts with 0, 1 or 9, not %c", d[0]);
    int sequence = (d[10] - '0') * 100 + (d[11] - '0') * 10 + (d[12] - '0');
    int sum = 0;
    int check;
    if (sequence <= 100) {
        for (int i = 0; i < 13; i++)
            sum += (d[i] - '0') * (14 - i);
        check = sum % 11 % 10;
    } else {
        static const int weights[13] = {2, 7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
        for (int i = 0; i < 13; i++)
            sum += (d[i] - '0') * weights[i];
        check = (11 - sum % 11) % 11 % 10;
    }
    if (d[13] - '0' != check)
        return rb_fail(err, RB_EINVAL, RULE_SV_NIT_CHECK,
                       "the check digit of El Salvador NIT %.4s-%.6s-%.3s is %d, not %c", d, d + 4,
                       d + 10, check, d[13]);
    snprintf(normalised, len, "%.4s-%.6s-%.3s-%c", d, d + 4, d + 10, d[13]);
    return RB_OK;
}

/* --- Dispatcher ------------------------------------------------------------------------------ */

typedef rb_status (*validator)(const char *value, char *normalised, size_t len, rb_error *err);

static const struct {
    const char *type;
    validator check; /* NULL for pa-ruc, which also takes a DV */
} validators[] = {
    {"pe-dni", rb_id_pe_dni},       {"pe-ruc", rb_id_pe_ruc}, {"pe-ce", rb_id_pe_ce},
    {"pa-cedula", rb_id_pa_cedula}, {"pa-ruc", NULL},         {"py-ci", rb_id_py_ci},
    {"py-ruc", rb_id_py_ruc},       {"sv-dui", rb_id_sv_dui}, {"sv-nit", rb_id_sv_nit},
};

#define TYPE_LIST "pe-dni, pe-ruc, pe-ce, pa-cedula, pa-ruc, py-ci, py-ruc, sv-dui, sv-nit"

int rb_id_type_known(const char *type)
{
    for (size_t i = 0; type != NULL && i < sizeof(validators) / sizeof(validators[0]); i++)
        if (strcmp(type, validators[i].type) == 0)
            return 1;
    return 0;
}

rb_status rb_id_check(const char *type, const char *value, const char *dv, char *normalised,
                      size_t len, rb_error *err)
{
    if (type == NULL)
        return rb_fail(err, RB_EINTERNAL, NULL, "no document type given");
    for (size_t i = 0; i < sizeof(validators) / sizeof(validators[0]); i++) {
        if (strcmp(type, validators[i].type) != 0)
            continue;
        if (validators[i].check == NULL)
            return rb_id_pa_ruc(value, dv, normalised, len, err);
        if (dv != NULL)
            return rb_fail(err, RB_EINVAL, "DOMAIN §5: document types",
                           "a DV is only given with a Panama RUC (pa-ruc), not with %s", type);
        return validators[i].check(value, normalised, len, err);
    }
    /* The type is untrusted too: name it only if it is short, printable text. */
    size_t n = strnlen(type, 17);
    int printable = n > 0 && n <= 16;
    for (size_t i = 0; printable && i < n; i++)
        printable = (unsigned char)type[i] > ' ' && (unsigned char)type[i] < 0x7f;
    return rb_fail(err, RB_EINVAL, "DOMAIN §5: document types",
                   "unknown document type%s%s%s; use one of " TYPE_LIST, printable ? " '" : "",
                   printable ? type : "", printable ? "'" : "");
}
