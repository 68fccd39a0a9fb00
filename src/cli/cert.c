/*
 * `rubrica cert`: issue from a CSR, show, list, revoke, suspend, reinstate,
 * renew and re-issue subscriber certificates.
 */
#include "cli/cli.h"

#include "ca/ca.h"
#include "ca/crl.h"
#include "core/reader.h"
#include "pki/x509util.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_CSR = 1,
    OPT_PROFILE,
    OPT_SET,
    OPT_DAYS,
    OPT_OUT,
    OPT_CA,
    OPT_PUBLISH,
    OPT_STATUS,
    OPT_SUBJECT,
    OPT_LIMIT,
    OPT_REASON,
    OPT_CAUSE,
    OPT_INVALIDITY,
    OPT_UNTIL,
    OPT_FORCE,
    OPT_PEM
};

static const struct option options[] = {
    CLI_GLOBAL_OPTIONS,
    {"csr", required_argument, NULL, OPT_CSR},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"set", required_argument, NULL, OPT_SET},
    {"days", required_argument, NULL, OPT_DAYS},
    {"out", required_argument, NULL, OPT_OUT},
    {"ca", required_argument, NULL, OPT_CA},
    {"publish", no_argument, NULL, OPT_PUBLISH},
    {"status", required_argument, NULL, OPT_STATUS},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"reason", required_argument, NULL, OPT_REASON},
    {"cause", required_argument, NULL, OPT_CAUSE},
    {"invalidity", required_argument, NULL, OPT_INVALIDITY},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"force", no_argument, NULL, OPT_FORCE},
    {"pem", no_argument, NULL, OPT_PEM},
    {NULL, 0, NULL, 0},
};

/* Everything any cert verb may be given; each verb checks what it needs. */
typedef struct cert_args {
    cli_globals g;
    const char *csr, *profile, *out, *ca, *status, *subject, *reason, *cause, *invalidity, *until;
    json_t *fields;
    int days, publish, limit, force, pem;
    const char *serial;
} cert_args;

static int parse_number(const char *text, int min, int max, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_set(cert_args *a, const cli_command *cmd, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return cli_usage_error(cmd, "--set takes FIELD=VALUE, not '%s'", arg);
    char field[64];
    snprintf(field, sizeof(field), "%.*s", (int)(eq - arg), arg);
    if (json_object_get(a->fields, field))
        return cli_usage_error(cmd, "field '%s' is given twice", field);
    json_object_set_new(a->fields, field, json_string(eq + 1));
    if (json_object_get(a->fields, field) == NULL)
        return cli_usage_error(cmd, "the value of '%s' is not valid UTF-8", field);
    return 0;
}

static int parse_args(int argc, char **argv, const cli_command *cmd, int positional, cert_args *a)
{
    int opt, rc = 0;
    memset(a, 0, sizeof(*a));
    a->fields = json_object();
    cli_getopt_reset();
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, &a->g, cmd))
            continue;
        switch (opt) {
        case OPT_CSR:
            a->csr = optarg;
            break;
        case OPT_PROFILE:
            a->profile = optarg;
            break;
        case OPT_SET:
            rc = parse_set(a, cmd, optarg);
            break;
        case OPT_DAYS:
            if (parse_number(optarg, 1, 36600, &a->days) != 0)
                rc = cli_usage_error(cmd, "--days takes a number of days");
            break;
        case OPT_OUT:
            a->out = optarg;
            break;
        case OPT_CA:
            a->ca = optarg;
            break;
        case OPT_PUBLISH:
            a->publish = 1;
            break;
        case OPT_STATUS:
            a->status = optarg;
            break;
        case OPT_SUBJECT:
            a->subject = optarg;
            break;
        case OPT_LIMIT:
            if (parse_number(optarg, 1, 1000000, &a->limit) != 0)
                rc = cli_usage_error(cmd, "--limit takes a positive number");
            break;
        case OPT_REASON:
            a->reason = optarg;
            break;
        case OPT_CAUSE:
            a->cause = optarg;
            break;
        case OPT_INVALIDITY:
            a->invalidity = optarg;
            break;
        case OPT_UNTIL:
            a->until = optarg;
            break;
        case OPT_FORCE:
            a->force = 1;
            break;
        case OPT_PEM:
            a->pem = 1;
            break;
        }
    }
    if (rc == 0 && argc - optind != positional)
        rc = positional ? cli_usage_error(cmd, "give the certificate's serial number")
                        : cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && positional)
        a->serial = argv[optind];
    if (rc != 0) {
        json_decref(a->fields);
        a->fields = NULL; /* every caller releases a->fields whatever rc says */
    }
    return rc;
}

static int write_cert(const cert_args *a, X509 *cert)
{
    FILE *f = a->out ? fopen(a->out, "w") : stdout;
    if (f == NULL) {
        perror(a->out);
        return CLI_EXIT_FAIL;
    }
    int ok = PEM_write_X509(f, cert) == 1;
    if (a->out)
        ok = fclose(f) == 0 && ok;
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Shared by issue, renew and reissue: read the CSR, open the issuer, run, print. */
static int issue_like(const cli_command *cmd, cert_args *a, int mode)
{
    if (a->csr == NULL)
        return cli_usage_error(cmd, "--csr FILE is required");
    if (mode == 0 && a->profile == NULL)
        return cli_usage_error(cmd, "--profile NAME is required (see 'rubrica profile list')");
    rb_ctx ctx;
    rb_error err = {0};
    uint8_t *csr = NULL;
    size_t csr_len = 0;
    if (rb_read_file(a->csr, RB_CSR_MAX_BYTES, &csr, &csr_len, &err) != RB_OK)
        return cli_report(&err);
    int rc = cli_open(&a->g, &ctx);
    if (rc != 0) {
        free(csr);
        return rc;
    }
    rb_key_secret secret = {.pass_file = a->g.pass_file};
    rb_issuer *issuer = NULL;
    rb_issued issued = {0};
    rb_status s = rb_ca_open_issuer(&ctx, a->ca, &secret, &issuer, &err);
    if (s == RB_OK && mode == 0) {
        rb_issue_request req = {.csr = csr,
                                .csr_len = csr_len,
                                .profile = a->profile,
                                .fields = a->fields,
                                .days = a->days,
                                .publish = a->publish};
        s = rb_ca_issue(&ctx, issuer, &req, 1, &issued, &err);
    } else if (s == RB_OK) {
        s = rb_ca_renew(&ctx, issuer, a->serial, csr, csr_len, a->days, mode == 2, a->force,
                        &issued, &err);
    }
    rb_ca_close_issuer(issuer);
    cli_close(&ctx);
    free(csr);
    if (s != RB_OK)
        return cli_report(&err);
    fprintf(stderr, "issued certificate %s\n", issued.serial);
    rc = write_cert(a, issued.cert);
    X509_free(issued.cert);
    return rc;
}

static int run_issue(int argc, char **argv)
{
    cert_args a;
    int rc = parse_args(argc, argv, &cli_cert_commands[0], 0, &a);
    if (rc == 0)
        rc = issue_like(&cli_cert_commands[0], &a, 0);
    json_decref(a.fields);
    return rc;
}

static int run_renew(int argc, char **argv)
{
    cert_args a;
    int rc = parse_args(argc, argv, &cli_cert_commands[6], 1, &a);
    if (rc == 0)
        rc = issue_like(&cli_cert_commands[6], &a, 1);
    json_decref(a.fields);
    return rc;
}

static int run_reissue(int argc, char **argv)
{
    cert_args a;
    int rc = parse_args(argc, argv, &cli_cert_commands[7], 1, &a);
    if (rc == 0)
        rc = issue_like(&cli_cert_commands[7], &a, 2);
    json_decref(a.fields);
    return rc;
}

static void print_record(const rb_cert_record *rec)
{
    char nb[RB_TIME_TEXT_LEN], na[RB_TIME_TEXT_LEN], at[RB_TIME_TEXT_LEN];
    printf("serial:     %s\nsubject:    %s\nprofile:    %s (issuer %s)\n", rec->serial,
           rec->subject, rec->profile, rec->issuer);
    printf("validity:   %s .. %s\nstatus:     %s",
           rb_time_format(rec->not_before_ms, nb, sizeof(nb)),
           rb_time_format(rec->not_after_ms, na, sizeof(na)), rb_cert_status_name(rec->status));
    if (rec->status != RB_CERT_VALID)
        printf(" since %s, %s (%s)", rb_time_format(rec->revoked_ms, at, sizeof(at)),
               rec->status == RB_CERT_SUSPENDED ? "certificate-hold" : rb_reason_name(rec->reason),
               rec->legal_cause ? rec->legal_cause : "");
    if (rec->status == RB_CERT_SUSPENDED && rec->hold_until_ms)
        printf(", until %s, then %s", rb_time_format(rec->hold_until_ms, at, sizeof(at)),
               rb_reason_name(rec->hold_expiry_reason < 0 ? 0 : rec->hold_expiry_reason));
    printf("\n");
}

/* One line per event: time, event, the audit record's number and the detail. */
static void print_history(json_t *history)
{
    size_t i;
    json_t *entry;
    json_array_foreach(history, i, entry)
    {
        printf("%s%s  %s", i == 0 ? "history:    " : "            ",
               json_string_value(json_object_get(entry, "at")),
               json_string_value(json_object_get(entry, "event")));
        json_t *seq = json_object_get(entry, "audit_seq");
        if (seq != NULL)
            printf("  audit #%lld", (long long)json_integer_value(seq));
        char *detail = json_dumps(json_object_get(entry, "detail"), JSON_COMPACT | JSON_SORT_KEYS);
        if (detail != NULL)
            printf("  %s", detail);
        free(detail);
        printf("\n");
    }
}

static int run_show(int argc, char **argv)
{
    cert_args a;
    rb_ctx ctx;
    rb_error err = {0};
    rb_cert_record rec;
    json_t *history = NULL;
    int rc = parse_args(argc, argv, &cli_cert_commands[1], 1, &a);
    if (rc == 0)
        rc = cli_open(&a.g, &ctx);
    json_decref(a.fields);
    if (rc != 0)
        return rc;
    rb_status s = rb_ca_get(&ctx, a.serial, &rec, &err);
    if (s == RB_OK && (a.g.json || !a.pem)) {
        s = rb_ca_history(&ctx, &rec, &history, &err);
        if (s != RB_OK)
            rb_cert_record_clear(&rec);
    }
    cli_close(&ctx);
    if (s != RB_OK)
        return cli_report(&err);
    if (a.g.json) {
        json_t *doc = rb_cert_record_to_json(&rec, a.pem);
        if (history != NULL)
            json_object_set(doc, "history", history);
        cli_print_json(doc);
    } else if (a.pem) {
        const unsigned char *p = rec.der;
        X509 *cert = d2i_X509(NULL, &p, (long)rec.der_len);
        PEM_write_X509(stdout, cert);
        X509_free(cert);
    } else {
        print_record(&rec);
        print_history(history);
    }
    json_decref(history);
    rb_cert_record_clear(&rec);
    return CLI_EXIT_OK;
}

static int list_one(const rb_cert_record *rec, void *arg)
{
    if (arg != NULL) {
        json_array_append_new(arg, rb_cert_record_to_json(rec, 0));
        return 0;
    }
    char na[RB_TIME_TEXT_LEN];
    printf("%s  %-9s %-20s until %.10s  %s\n", rec->serial, rb_cert_status_name(rec->status),
           rec->profile, rb_time_format(rec->not_after_ms, na, sizeof(na)), rec->subject);
    return 0;
}

static int run_list(int argc, char **argv)
{
    cert_args a;
    rb_ctx ctx;
    rb_error err = {0};
    int rc = parse_args(argc, argv, &cli_cert_commands[2], 0, &a);
    json_decref(a.fields);
    if (rc != 0)
        return rc;
    static const char *const statuses[] = {"valid", "suspended", "revoked", "expired"};
    int known = a.status == NULL;
    for (size_t i = 0; i < 4 && !known; i++)
        known = strcmp(statuses[i], a.status) == 0;
    if (!known)
        return cli_usage_error(&cli_cert_commands[2],
                               "--status is valid, suspended, revoked or expired");
    if ((rc = cli_open(&a.g, &ctx)) != 0)
        return rc;
    rb_cert_filter filter = {
        .status = a.status, .subject = a.subject, .profile = a.profile, .limit = a.limit};
    json_t *list = a.g.json ? json_array() : NULL;
    rb_status s = rb_ca_list(&ctx, &filter, list_one, list, &err);
    cli_close(&ctx);
    if (s != RB_OK) {
        json_decref(list);
        return cli_report(&err);
    }
    if (list)
        cli_print_json(list);
    return CLI_EXIT_OK;
}

static int parse_time_option(const cli_command *cmd, const char *text, int64_t *ms)
{
    rb_error err = {0};
    *ms = 0;
    if (text && rb_time_parse(text, ms, &err) != RB_OK)
        return cli_usage_error(cmd, "%s", err.message);
    return 0;
}

/*
 * After a committed change, re-signs the CRLs so the next one already says
 * so. Without the CA key (no passphrase at hand) this is only a note:
 * `rubrica serve` re-signs them within its maintenance interval.
 */
static void refresh_crls(rb_ctx *ctx, const cli_globals *g)
{
    rb_error err = {0};
    rb_key_secret secret = {.pass_file = g->pass_file};
    if (rb_ca_crl_refresh_all(ctx, &secret, NULL, &err) != RB_OK)
        fprintf(stderr,
                "rubrica: note: the change is recorded, but the CRL was not re-signed (%s); "
                "'rubrica serve' or 'rubrica crl' will sign it\n",
                err.message);
}

/* revoke, suspend and reinstate share their shape: parse, open, act, report. */
static int run_change(int argc, char **argv, int verb)
{
    const cli_command *cmd = &cli_cert_commands[3 + verb];
    cert_args a;
    rb_ctx ctx;
    rb_error err = {0};
    rb_revocation_reason reason = RB_REASON_UNSPECIFIED;
    int64_t when = 0;
    int rc = parse_args(argc, argv, cmd, 1, &a);
    json_decref(a.fields);
    if (rc != 0)
        return rc;
    if (verb == 0 && a.reason == NULL)
        return cli_usage_error(cmd, "--reason is required");
    if (verb < 2 && a.reason != NULL && rb_reason_parse(a.reason, &reason, &err) != RB_OK)
        return cli_usage_error(cmd, "%s", err.message);
    rc = parse_time_option(cmd, verb == 0 ? a.invalidity : a.until, &when);
    if (rc == 0)
        rc = cli_open(&a.g, &ctx);
    if (rc != 0)
        return rc;
    rb_status s;
    if (verb == 0)
        s = rb_ca_revoke(&ctx, a.serial, reason, a.cause, when, &err);
    else if (verb == 1)
        s = rb_ca_suspend(&ctx, a.serial, when, reason, a.cause, &err);
    else
        s = rb_ca_reinstate(&ctx, a.serial, &err);
    if (s == RB_OK)
        refresh_crls(&ctx, &a.g);
    rb_cert_record rec;
    if (s == RB_OK)
        s = rb_ca_get(&ctx, a.serial, &rec, &err);
    cli_close(&ctx);
    if (s != RB_OK)
        return cli_report(&err);
    if (a.g.json)
        cli_print_json(rb_cert_record_to_json(&rec, 0));
    else
        print_record(&rec);
    rb_cert_record_clear(&rec);
    return CLI_EXIT_OK;
}

static int run_revoke(int argc, char **argv)
{
    return run_change(argc, argv, 0);
}

static int run_suspend(int argc, char **argv)
{
    return run_change(argc, argv, 1);
}

static int run_reinstate(int argc, char **argv)
{
    return run_change(argc, argv, 2);
}

const cli_command cli_cert_commands[] = {
    {"issue", "issue a certificate from a PKCS#10 request",
     "--csr FILE --profile NAME [--set FIELD=VALUE ...] [--days N] [--publish] [--ca NAME]\n"
     "       [--out FILE] [--pass-file FILE]\n\nfields: given_name surname id_type id_number "
     "email organization org_id org_unit title\n        profession license locality region "
     "country limits common_name",
     run_issue, NULL},
    {"show", "show one certificate", "SERIAL [--json] [--pem]", run_show, NULL},
    {"list", "list certificates",
     "[--status valid|suspended|revoked|expired] [--subject TEXT] [--profile NAME] [--limit N]"
     " [--json]",
     run_list, NULL},
    {"revoke", "revoke a certificate",
     "SERIAL --reason unspecified|key-compromise|ca-compromise|affiliation-changed|superseded|\n"
     "       cessation-of-operation|privilege-withdrawn [--cause TEXT] [--invalidity TIME]",
     run_revoke, NULL},
    {"suspend", "suspend a certificate (where the jurisdiction allows it)",
     "SERIAL [--until TIME] [--reason REASON] [--cause TEXT]\n\n"
     "The hold lasts until TIME (default: the jurisdiction's maximum). If it is not lifted\n"
     "by then, it becomes a permanent revocation dated TIME, with --reason (one of the\n"
     "'cert revoke' reasons; default unspecified) and the hold's start as invalidity date.\n"
     "From TIME on, show, list, the API, OCSP and CRLs all report it revoked.",
     run_suspend, NULL},
    {"reinstate", "lift a suspension (not once its limit has passed)", "SERIAL", run_reinstate,
     NULL},
    {"renew", "renew: same subject, new validity (within the renewal window)",
     "SERIAL --csr FILE [--days N] [--force] [--out FILE]", run_renew, NULL},
    {"reissue", "re-issue with a new key; the old certificate is revoked as superseded",
     "SERIAL --csr FILE [--days N] [--out FILE]", run_reissue, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
