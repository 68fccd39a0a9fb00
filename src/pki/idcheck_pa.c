/*
 * Panama's cédula and RUC (DOMAIN.md section 5, seed 002): the cédula format,
 * the DNFE portal's own limits and messages, and the DGI algorithm for the
 * two-digit check number (DV) of a RUC, including the digit table used for
 * legal entities registered in the old format.
 */
#include "pki/idcheck.h"

#include <stdio.h>
#include <string.h>

#define DIGITS "0123456789"

#define RULE_CEDULA_FORMAT   "DOMAIN §5 Panama cédula: format"
#define RULE_CEDULA_PROVINCE "DOMAIN §5 Panama cédula: province"
#define RULE_SEED_CEDULA     "seed 002: Panama cédula"
#define RULE_RUC_FORMAT      "DOMAIN §5 Panama RUC: format"
#define RULE_RUC_DV          "DOMAIN §5 Panama RUC: DV"
#define RULE_SEED_RUC        "seed 002: Panama RUC"
#define RULE_SEED_DV         "seed 002: Panama DV"

#define SEED_RUC_PARTS "El RUC debe tener el tomo folio y asiento, separados por guiones (-)."

/* A piece of the input between dashes (not NUL-terminated). */
typedef struct span {
    const char *p;
    size_t n;
} span;

/* A cédula or RUC taken apart; numbers are kept without their leading zeros. */
typedef struct pa_number {
    int natural;       /* 1: a person (cédula-style), 0: a legal entity */
    unsigned province; /* person: 1-13, or 0 for E, N and PE */
    char prefix[5];    /* person: the first part, upper case ("8", "8AV", "PE") */
    char letters[3];   /* person: "", "AV", "PI", "NT", "E", "N" or "PE" */
    /* person: tomo, asiento (at most 4 and 6 digits); legal entity: tomo, folio,
     * asiento (at most 10, 4 and 6 significant digits). */
    char number[3][11];
} pa_number;

typedef enum prefix_result {
    PREFIX_OK,
    PREFIX_EMPTY,
    PREFIX_TOO_LONG, /* more than 4 digits */
    PREFIX_OVER_14,
    PREFIX_PROVINCE, /* 0, 14 or a leading zero */
    PREFIX_LETTERS,
} prefix_result;

/* Splits s at each '-' into at most max spans; returns the number of parts, which may be more. */
static size_t split(const char *s, span *parts, size_t max)
{
    size_t count = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p != '-' && *p != '\0')
            continue;
        if (count < max) {
            parts[count].p = start;
            parts[count].n = (size_t)(p - start);
        }
        count++;
        if (*p == '\0')
            break;
        start = p + 1;
    }
    return count;
}

static char to_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* 1 if s equals word (upper case) ignoring case. */
static int span_is(span s, const char *word)
{
    if (s.n != strlen(word))
        return 0;
    for (size_t i = 0; i < s.n; i++)
        if (to_upper(s.p[i]) != word[i])
            return 0;
    return 1;
}

/* Number of leading digits of s (spans end at '-' or NUL, which strspn stops at). */
static size_t span_digits(span s)
{
    size_t d = strspn(s.p, DIGITS);
    return d < s.n ? d : s.n;
}

/* s without its leading zeros, keeping at least one digit. */
static span strip_zeros(span s)
{
    while (s.n > 1 && s.p[0] == '0') {
        s.p++;
        s.n--;
    }
    return s;
}

/* Reads the first part of a person's number: a province 1-13 with AV or PI, or E, N, PE. */
static prefix_result prefix_parse(span s, pa_number *num)
{
    if (s.n == 0)
        return PREFIX_EMPTY;
    size_t d = span_digits(s);
    span letters = {s.p + d, s.n - d};
    unsigned province = 0;
    if (d == 0) {
        if (!span_is(letters, "E") && !span_is(letters, "N") && !span_is(letters, "PE"))
            return PREFIX_LETTERS;
    } else {
        if (d > 4)
            return PREFIX_TOO_LONG;
        for (size_t i = 0; i < d; i++)
            province = province * 10 + (unsigned)(s.p[i] - '0');
        if (province > 14)
            return PREFIX_OVER_14;
        if (province == 0 || province == 14 || s.p[0] == '0')
            return PREFIX_PROVINCE;
        if (letters.n > 0 && !span_is(letters, "AV") && !span_is(letters, "PI"))
            return PREFIX_LETTERS;
    }
    /* Here d <= 2 and letters.n <= 2, so both fit. */
    num->province = province;
    for (size_t i = 0; i < s.n; i++)
        num->prefix[i] = to_upper(s.p[i]);
    num->prefix[s.n] = '\0';
    memcpy(num->letters, num->prefix + d, letters.n + 1);
    return PREFIX_OK;
}

static rb_status prefix_error(prefix_result r, span s, rb_error *err)
{
    switch (r) {
    case PREFIX_EMPTY:
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA, "Debe introducir el tomo de la cédula.");
    case PREFIX_TOO_LONG:
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA, "El tomo no debe ser mayor a 4 dígitos.");
    case PREFIX_OVER_14:
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA,
                       "El tomo no puede ser mayor de 14 para las cédulas.");
    case PREFIX_PROVINCE:
        return rb_fail(err, RB_EINVAL, RULE_CEDULA_PROVINCE,
                       "there is no province %.*s: the first part of a cédula is a province "
                       "from 1 to 13 without leading zeros, or E, N or PE",
                       (int)s.n, s.p);
    case PREFIX_LETTERS:
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA,
                       "Las cédulas con letras en el tomo sólo pueden tener uno de los "
                       "siguientes caracteres: N, E, PE, ó PI.");
    case PREFIX_OK:
        break;
    }
    return rb_fail(err, RB_EINTERNAL, NULL, "prefix_error called without an error");
}

/*
 * The folio or asiento of a cédula: the portal's limit is 7 digits, DOMAIN's
 * format max_digits (4 and 6); both apply. Copies it without leading zeros.
 */
static rb_status cedula_number(span s, const char *name, size_t max_digits, char out[11],
                               rb_error *err)
{
    if (s.n == 0)
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA, "Debe introducir el %s de la cédula.",
                       name);
    if (span_digits(s) != s.n)
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA, "El %s debe ser numérico.", name);
    if (s.n > 7)
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA,
                       "El %s no debe tener más de 7 dígitos para las cédulas.", name);
    if (s.n > max_digits)
        return rb_fail(err, RB_EINVAL, RULE_CEDULA_FORMAT,
                       "the %s of a cédula has at most %zu digits, not %zu", name, max_digits, s.n);
    span kept = strip_zeros(s);
    memcpy(out, kept.p, kept.n);
    out[kept.n] = '\0';
    return RB_OK;
}

/* Reads a person's number from its three parts (province, tomo, asiento). */
static rb_status cedula_parse(const span parts[3], pa_number *num, rb_error *err)
{
    prefix_result r = prefix_parse(parts[0], num);
    if (r != PREFIX_OK)
        return prefix_error(r, parts[0], err);
    rb_status rc = cedula_number(parts[1], "folio", 4, num->number[0], err);
    if (rc == RB_OK)
        rc = cedula_number(parts[2], "asiento", 6, num->number[1], err);
    num->natural = 1;
    return rc;
}

/* Writes a person's number in its normal form ("8AV-1-196", "8-NT-1-123"). */
static void natural_text(const pa_number *num, char *out, size_t len)
{
    snprintf(out, len, "%s%s-%s-%s", num->prefix, strcmp(num->letters, "NT") == 0 ? "-NT" : "",
             num->number[0], num->number[1]);
}

rb_status rb_id_pa_cedula(const char *value, char *normalised, size_t len, rb_error *err)
{
    rb_status rc =
        rb_id_input_check("Panama cédula", RULE_CEDULA_FORMAT, value, normalised, len, err);
    if (rc != RB_OK)
        return rc;
    span parts[3];
    size_t count = split(value, parts, 3);
    if (count < 3)
        return rb_fail(err, RB_EINVAL, RULE_CEDULA_FORMAT,
                       "a Panama cédula is three parts separated by '-', e.g. 8-274-125");
    if (count > 3)
        return rb_fail(err, RB_EINVAL, RULE_SEED_CEDULA,
                       "La cédula sólo debe tener el tomo, folio y asiento.");
    pa_number num = {0};
    rc = cedula_parse(parts, &num, err);
    if (rc != RB_OK)
        return rc;
    natural_text(&num, normalised, len);
    return RB_OK;
}

/*
 * One part of a legal entity's RUC: the portal allows up to 20 digits, but
 * the DGI layout has room for only slot significant digits (10, 4, 6).
 */
static rb_status ruc_number(span s, const char *name, size_t slot, char out[11], rb_error *err)
{
    int is_tomo = strcmp(name, "tomo") == 0;
    if (s.n == 0)
        return rb_fail(err, RB_EINVAL, RULE_SEED_RUC, "Debe introducir el %s del RUC.", name);
    if (span_digits(s) != s.n)
        return rb_fail(err, RB_EINVAL, RULE_SEED_RUC, "El %s debe ser numérico.", name);
    if (s.n > 20)
        return rb_fail(err, RB_EINVAL, RULE_SEED_RUC, "El %s no debe tener más de 20 dígitos%s.",
                       name, is_tomo ? "" : " para el RUC");
    span kept = strip_zeros(s);
    if (kept.n > slot)
        return rb_fail(err, RB_EINVAL, RULE_RUC_FORMAT,
                       "the %s of a legal entity's RUC has at most %zu digits (without leading "
                       "zeros), not %zu",
                       name, slot, kept.n);
    memcpy(out, kept.p, kept.n);
    out[kept.n] = '\0';
    return RB_OK;
}

/*
 * Reads a RUC: P-NT-T-A; a cédula-style RUC when the first part is a province
 * (or has letters); otherwise a legal entity's tomo-folio-asiento.
 */
static rb_status ruc_parse(const char *value, pa_number *num, rb_error *err)
{
    span parts[4];
    size_t count = split(value, parts, 4);
    if (count == 4) {
        if (!span_is(parts[1], "NT"))
            return rb_fail(err, RB_EINVAL, RULE_SEED_RUC, SEED_RUC_PARTS);
        const span three[3] = {parts[0], parts[2], parts[3]};
        rb_status rc = cedula_parse(three, num, err);
        if (rc != RB_OK)
            return rc;
        if (num->letters[0] != '\0')
            return rb_fail(err, RB_EINVAL, RULE_RUC_FORMAT,
                           "an NT number is province-NT-tomo-asiento with a plain province "
                           "number, e.g. 8-NT-1-12345");
        memcpy(num->letters, "NT", 3);
        return RB_OK;
    }
    if (count != 3)
        return rb_fail(err, RB_EINVAL, RULE_SEED_RUC, SEED_RUC_PARTS);
    pa_number probe = {0};
    if (span_digits(parts[0]) != parts[0].n || prefix_parse(parts[0], &probe) == PREFIX_OK)
        return cedula_parse(parts, num, err);
    static const char *const names[3] = {"tomo", "folio", "asiento"};
    static const size_t slots[3] = {10, 4, 6};
    for (int i = 0; i < 3; i++) {
        rb_status rc = ruc_number(parts[i], names[i], slots[i], num->number[i], err);
        if (rc != RB_OK)
            return rc;
    }
    /* Without its zeros, a tomo such as "005" would read as province 5 (a person):
     * keep one zero so the normalised RUC names the same legal entity. */
    span tomo = {num->number[0], strlen(num->number[0])};
    if (prefix_parse(tomo, &probe) == PREFIX_OK) {
        memmove(num->number[0] + 1, num->number[0], tomo.n + 1);
        num->number[0][0] = '0';
    }
    num->natural = 0;
    return RB_OK;
}

static void ruc_text(const pa_number *num, char *out, size_t len)
{
    if (num->natural)
        natural_text(num, out, len);
    else
        snprintf(out, len, "%s-%s-%s", num->number[0], num->number[1], num->number[2]);
}

/* Appends digits to out (at *used), left-padded with zeros to width. */
static void put_padded(char *out, size_t *used, const char *digits, size_t width)
{
    size_t n = strlen(digits);
    for (; n < width; width--)
        out[(*used)++] = '0';
    memcpy(out + *used, digits, n);
    *used += n;
}

/* The two digits a person's letters stand for in the DGI layout. */
static const char *letter_code(const char *letters)
{
    static const struct {
        const char *letters, *code;
    } codes[] = {{"", "00"},   {"E", "50"},  {"N", "40"}, {"PE", "75"},
                 {"AV", "15"}, {"PI", "79"}, {"NT", "43"}};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(letters, codes[i].letters) == 0)
            return codes[i].code;
    return "00"; /* not reached: prefix_parse admits only the letters above */
}

/*
 * Old legal-entity format: the DGI table that replaces digits 6-7 (1-indexed)
 * when they are below 50. Indexed by their value, it gives the new digit 7
 * (digit 6 becomes 0). 01-09 are not in the DGI table and are left as they are.
 */
static const unsigned char old_format[50] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, /* 00-09 */
    1, 2, 3, 4, 5, 6, 7, 8, 9, 1, /* 10-19 */
    2, 3, 4, 7, 8, 9, 2, 3, 4, 5, /* 20-29 */
    6, 7, 8, 9, 1, 2, 3, 4, 5, 6, /* 30-39 */
    7, 8, 9, 1, 2, 3, 4, 5, 6, 7, /* 40-49 */
};

/* DGI steps 1 and 2: the 20 digits the DV is computed over; sets *old for the old format. */
static void dv_digits(const pa_number *num, char s[22], int *old)
{
    char body[24];
    size_t used = 0;
    char province[3] = {(char)('0' + num->province / 10), (char)('0' + num->province % 10), '\0'};
    *old = 0;
    if (num->natural) {
        body[used++] = '5';
        put_padded(body, &used, province, 2);
        put_padded(body, &used, letter_code(num->letters), 2);
        put_padded(body, &used, num->number[0], 3);
        put_padded(body, &used, num->number[1], 5);
    } else {
        put_padded(body, &used, num->number[0], 10);
        put_padded(body, &used, num->number[1], 4);
        put_padded(body, &used, num->number[2], 6);
    }
    body[used] = '\0';
    used = 0;
    put_padded(s, &used, body, 20);
    s[used] = '\0';
    if (!num->natural && s[3] == '0' && s[4] == '0' && s[5] < '5') {
        int key = (s[5] - '0') * 10 + (s[6] - '0');
        s[5] = '0';
        s[6] = (char)('0' + old_format[key]);
        *old = 1;
    }
}

/* DGI step 3: weights 2, 3, ... from the right; in the old format 11 is used twice. */
static int dv_digit(const char *s, int old)
{
    unsigned sum = 0, weight = 2;
    for (size_t i = strlen(s); i-- > 0;) {
        if (old && weight == 12) {
            old = 0;
            weight = 11;
        }
        sum += weight * (unsigned)(s[i] - '0');
        weight++;
    }
    unsigned r = sum % 11;
    return r > 1 ? (int)(11 - r) : 0;
}

static void compute_dv(const pa_number *num, char dv[3])
{
    char s[22];
    int old;
    dv_digits(num, s, &old);
    int first = dv_digit(s, old);
    s[20] = (char)('0' + first);
    s[21] = '\0';
    dv[0] = s[20];
    dv[1] = (char)('0' + dv_digit(s, old));
    dv[2] = '\0';
}

rb_status rb_id_pa_ruc_dv(const char *ruc, char dv[3], rb_error *err)
{
    char scratch[RB_ID_NORMALISED_MAX] = ""; /* only so the input check sees a buffer */
    pa_number num = {0};
    if (dv == NULL)
        return rb_fail(err, RB_EINTERNAL, NULL, "rb_id_pa_ruc_dv: no output buffer");
    rb_status rc =
        rb_id_input_check("Panama RUC", RULE_RUC_FORMAT, ruc, scratch, sizeof(scratch), err);
    if (rc == RB_OK)
        rc = ruc_parse(ruc, &num, err);
    if (rc != RB_OK)
        return rc;
    compute_dv(&num, dv);
    return RB_OK;
}

rb_status rb_id_pa_ruc(const char *value, const char *dv, char *normalised, size_t len,
                       rb_error *err)
{
    pa_number num = {0};
    char ruc[RB_ID_INPUT_MAX + 1];
    /* The form the DGI prints, and this function's own output: "RUC DV NN". */
    const char *mark = value ? memmem(value, strnlen(value, RB_ID_INPUT_MAX + 1), " DV ", 4) : NULL;
    if (mark != NULL) {
        if (dv != NULL && strcmp(dv, mark + 4) != 0)
            return rb_fail(err, RB_EINVAL, RULE_RUC_DV, "the RUC is given with two DVs, %s and %s",
                           mark + 4, dv);
        snprintf(ruc, sizeof(ruc), "%.*s", (int)(mark - value), value);
        dv = mark + 4;
        value = ruc;
    }
    rb_status rc = rb_id_input_check("Panama RUC", RULE_RUC_FORMAT, value, normalised, len, err);
    if (rc == RB_OK)
        rc = ruc_parse(value, &num, err);
    if (rc != RB_OK)
        return rc;
    if (dv != NULL && (strnlen(dv, 3) != 2 || strspn(dv, DIGITS) != 2))
        return rb_fail(err, RB_EINVAL, RULE_SEED_DV,
                       "El dígito verificador DV debe ser numérico y no mayor a 99 (si es menor "
                       "a 10, deberá agregar un cero 0 por delante, ejemplo: 05).");
    char computed[3];
    char text[RB_ID_INPUT_MAX + 1];
    compute_dv(&num, computed);
    ruc_text(&num, text, sizeof(text));
    if (dv != NULL && strcmp(dv, computed) != 0)
        return rb_fail(err, RB_EINVAL, RULE_RUC_DV, "the DV of RUC %s is %s, not %s", text,
                       computed, dv);
    snprintf(normalised, len, "%s DV %s", text, computed);
    return RB_OK;
}
