/*
 * National identity and tax numbers of Peru, Panama, Paraguay and El Salvador:
 * format and check-digit validation (DOMAIN.md section 5, seed 002) before a
 * number goes into a certificate subject. Pure functions over untrusted text:
 * no allocation, no I/O; the normalised value is written only on success.
 */
#ifndef RB_PKI_IDCHECK_H
#define RB_PKI_IDCHECK_H

#include <stddef.h>

#include "core/error.h"

/* The longest value (in bytes) any validator accepts; longer input is refused. */
#define RB_ID_INPUT_MAX 64
/* A normalised-value buffer of this size is always large enough. */
#define RB_ID_NORMALISED_MAX 80

/*
 * Every validator below takes value (untrusted, NUL-terminated), checks its
 * format and check digit, and on success writes the normalised value into
 * normalised (len bytes, at least RB_ID_NORMALISED_MAX) and returns RB_OK.
 * On failure it returns RB_EINVAL with err naming the rule, and leaves
 * normalised untouched; a NULL argument or a short buffer is RB_EINTERNAL.
 * Surrounding whitespace is refused, not trimmed. Letters may be given in
 * either case and are normalised to upper case.
 */

/* Peru DNI: 8 digits, optionally "-" and the check digit or letter. Writes the 8 digits. */
rb_status rb_id_pe_dni(const char *value, char *normalised, size_t len,
                       rb_error *err) RB_MUST_CHECK;

/* Peru RUC: 11 digits, prefix 10, 15, 17 or 20, mod-11 check digit. Writes the 11 digits. */
rb_status rb_id_pe_ruc(const char *value, char *normalised, size_t len,
                       rb_error *err) RB_MUST_CHECK;

/*
 * The natural-person RUC of a Peru DNI ("10" + DNI + check digit). dni is
 * validated as by rb_id_pe_dni; writes the 11 digits.
 */
rb_status rb_id_pe_ruc_from_dni(const char *dni, char *ruc, size_t len,
                                rb_error *err) RB_MUST_CHECK;

/* Peru carné de extranjería: 1 to 12 letters or digits, no check digit. */
rb_status rb_id_pe_ce(const char *value, char *normalised, size_t len, rb_error *err) RB_MUST_CHECK;

/*
 * Panama cédula P-T-A: province 1-13 (optionally followed by AV or PI), or E,
 * N, PE; then up to 4 and up to 6 digits. Writes it with leading zeros of the
 * numbers removed, e.g. "8-0274-125" -> "8-274-125".
 */
rb_status rb_id_pa_cedula(const char *value, char *normalised, size_t len,
                          rb_error *err) RB_MUST_CHECK;

/*
 * Computes the two-digit DGI check number (DV) of a Panama RUC: a natural
 * person's cédula-style RUC (also P-NT-T-A) or a legal entity's
 * tomo-folio-asiento. Writes the two digits and a NUL into dv.
 */
rb_status rb_id_pa_ruc_dv(const char *ruc, char dv[3], rb_error *err) RB_MUST_CHECK;

/*
 * Panama RUC with its DV. dv may be NULL: the DV is then computed, not
 * checked. If given it must be two digits ("05", not "5") and match. value
 * may also carry the DV in the form the DGI prints, "RUC DV NN", which is
 * checked the same way. Writes "RUC DV NN", e.g. "8-274-125 DV 91".
 */
rb_status rb_id_pa_ruc(const char *value, const char *dv, char *normalised, size_t len,
                       rb_error *err) RB_MUST_CHECK;

/* Paraguay cédula de identidad: 1 to 8 digits, not all zero, no check digit. */
rb_status rb_id_py_ci(const char *value, char *normalised, size_t len, rb_error *err) RB_MUST_CHECK;

/* Paraguay RUC "BASE-D": base of 1 to 8 letters or digits, mod-11 check digit (SET). */
rb_status rb_id_py_ruc(const char *value, char *normalised, size_t len,
                       rb_error *err) RB_MUST_CHECK;

/* El Salvador DUI "NNNNNNNN-D" (the dash may be left out). Writes it with the dash. */
rb_status rb_id_sv_dui(const char *value, char *normalised, size_t len,
                       rb_error *err) RB_MUST_CHECK;

/* El Salvador NIT "MMMM-DDMMYY-SSS-C" or 14 digits. Writes it with the dashes. */
rb_status rb_id_sv_nit(const char *value, char *normalised, size_t len,
                       rb_error *err) RB_MUST_CHECK;

/*
 * Validates value as the document named by type, one of "pe-dni", "pe-ruc",
 * "pe-ce", "pa-cedula", "pa-ruc", "py-ci", "py-ruc", "sv-dui", "sv-nit".
 * dv is only for "pa-ruc" (may be NULL) and must be NULL for the others.
 * Same results as the validator it calls; an unknown type is RB_EINVAL.
 */
rb_status rb_id_check(const char *type, const char *value, const char *dv, char *normalised,
                      size_t len, rb_error *err) RB_MUST_CHECK;

/* 1 when rb_id_check has a validator for type, else 0. */
int rb_id_type_known(const char *type);

/*
 * The checks every validator starts with, for use by new ones: value is
 * present, at most RB_ID_INPUT_MAX bytes, printable ASCII without surrounding
 * whitespace, and normalised is a buffer of at least RB_ID_NORMALISED_MAX
 * bytes. what names the document in the message ("Peru DNI"); rule is the
 * rule reported for a bad value.
 */
rb_status rb_id_input_check(const char *what, const char *rule, const char *value,
                            const char *normalised, size_t len, rb_error *err) RB_MUST_CHECK;

#endif
