/*
 * `rubrica audit`: verify the hash-chained audit log, list it with filters,
 * and record an operator's manual entry.
 */
#include "cli/cli.h"

#include "audit/audit.h"
#include "audit/checkpoint.h"
#include "core/reader.h"
#include "pki/x509util.h"
#include "store/store.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_ACTION = 1,
    OPT_ACTOR,
    OPT_OBJECT,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_LIMIT,
    OPT_OLDEST,
    OPT_DETAIL,
    OPT_TOKEN,
    OPT_OUT,
    OPT_TSA_CERT
};

/* A file of TSA certificates is a few kilobytes; this leaves room for many. */
#define TSA_CERTS_MAX (1 << 20)

static const cli_command *command(const char *name);

static int parse_time(const char *option, const char *text, int64_t *out)
{
    rb_error err = {0};
    if (rb_time_parse(text, out, &err) != RB_OK)
        return cli_usage_error(command("list"), "%s '%s': %s", option, text, err.message);
    return 0;
}

static int parse_limit(const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1)
        return cli_usage_error(command("list"), "--limit '%s' is not a positive whole number",
                               text);
    *out = value;
    return 0;
}

/* ---- verify ---- */

static int print_verify(const rb_audit_report *report, int json)
{
    char head[2 * RB_AUDIT_HASH_LEN + 1], when[RB_TIME_TEXT_LEN];
    rb_audit_hash_hex(report->head_hash, head);
    rb_time_format(report->checkpoint_ms, when, sizeof(when));
    if (json) {
        json_t *obj =
            report->problem == RB_AUDIT_OK
                ? json_pack("{s:b,s:I,s:I,s:s,s:I,s:I,s:s?}", "ok", 1, "records",
                            (json_int_t)report->records, "head_seq", (json_int_t)report->head_seq,
                            "head", head, "checkpoints", (json_int_t)report->checkpoints,
                            "checkpoint_seq", (json_int_t)report->checkpoint_seq, "checkpoint_time",
                            report->checkpoints ? when : NULL)
                : json_pack("{s:b,s:s,s:I,s:I,s:s,s:I,s:s}", "ok", 0, "problem",
                            rb_audit_problem_name(report->problem), "record",
                            (json_int_t)report->bad_seq, "other_record",
                            (json_int_t)report->other_seq, "reason", report->reason,
                            "records_verified", (json_int_t)report->records, "verified_head", head);
        json_dumpf(obj, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(obj);
    } else if (report->problem == RB_AUDIT_OK) {
        printf("audit log OK: %lld records, head %s\n", (long long)report->records, head);
        if (report->checkpoints > 0)
            printf("%lld signed checkpoints verify; the newest fixes record %lld at %s;"
                   " records after it: %lld\n",
                   (long long)report->checkpoints, (long long)report->checkpoint_seq, when,
                   (long long)(report->head_seq - report->checkpoint_seq));
        else
            printf("no signed checkpoint yet ('rubrica audit checkpoint' makes one)\n");
    } else {
        fprintf(stderr, "rubrica: audit log BROKEN at record %lld: %s (%s)\n",
                (long long)report->bad_seq, rb_audit_problem_name(report->problem), report->reason);
    }
    return report->problem == RB_AUDIT_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* For a command that takes only the global options: parses them and opens the store. */
static int open_plain(int argc, char **argv, const char *name, cli_globals *g, rb_ctx *ctx)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        cli_global_option(opt, g, command(name));
    if (optind < argc)
        return cli_usage_error(command(name), "unexpected argument '%s'", argv[optind]);
    return cli_open(g, ctx);
}

/* The PEM certificates in path, for verify --tsa-cert. */
static int read_tsa_certs(const char *path, STACK_OF(X509) **out)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    rb_error err = {0};
    rb_status s = rb_read_file(path, TSA_CERTS_MAX, &pem, &len, &err);
    if (s == RB_OK)
        s = rb_x509_read_pem_stack((const char *)pem, len, out, &err);
    free(pem);
    if (s != RB_OK)
        return cli_report(&err);
    if (sk_X509_num(*out) == 0) {
        sk_X509_free(*out);
        return cli_usage_error(command("verify"), "--tsa-cert %s holds no PEM certificate", path);
    }
    return 0;
}

static int run_verify(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS,
        {"tsa-cert", required_argument, NULL, OPT_TSA_CERT},
        {NULL, 0, NULL, 0},
    };
    cli_globals g = {0};
    const char *tsa_path = NULL;
    STACK_OF(X509) *tsa_certs = NULL;
    rb_ctx ctx;
    int opt, rc = 0;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        if (!cli_global_option(opt, &g, command("verify")) && opt == OPT_TSA_CERT)
            tsa_path = optarg;
    if (optind < argc)
        return cli_usage_error(command("verify"), "unexpected argument '%s'", argv[optind]);
    if (tsa_path != NULL && (rc = read_tsa_certs(tsa_path, &tsa_certs)) != 0)
        return rc;
    rc = cli_open(&g, &ctx);
    if (rc == 0) {
        rb_audit_report report = {0};
        rb_error err = {0};
        if (rb_audit_verify_with_checkpoints(&ctx, tsa_certs, &report, &err) != RB_OK)
            rc = cli_report(&err);
        else
            rc = print_verify(&report, g.json);
        cli_close(&ctx);
    }
    sk_X509_pop_free(tsa_certs, X509_free);
    return rc;
}

/* ---- list ---- */

typedef struct list_output {
    int json;
    int64_t printed;
} list_output;

/* Prints text for a terminal: control characters (from a tampered row) become '?'. */
static void print_clean(const char *text, int width)
{
    int n = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++, n++)
        putchar(*s < 0x20 || *s == 0x7f ? '?' : *s);
    for (; n < width; n++)
        putchar(' ');
}

static json_t *record_json(const rb_audit_record *rec)
{
    char when[RB_TIME_TEXT_LEN], prev[2 * RB_AUDIT_HASH_LEN + 1], hash[2 * RB_AUDIT_HASH_LEN + 1];
    rb_time_format(rec->at_ms, when, sizeof(when));
    rb_audit_hash_hex(rec->prev_hash, prev);
    rb_audit_hash_hex(rec->hash, hash);
    json_t *detail = json_loads(rec->detail, 0, NULL);
    if (detail == NULL)
        detail = json_string(rec->detail); /* not JSON (a tampered row): show it as text */
    return json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:o,s:s,s:s}", "seq", (json_int_t)rec->seq, "time",
                     when, "at_ms", (json_int_t)rec->at_ms, "actor", rec->actor, "action",
                     rec->action, "object", rec->object, "detail", detail, "prev_hash", prev,
                     "hash", hash);
}

static rb_status print_record(const rb_audit_record *rec, void *arg, rb_error *err)
{
    list_output *out = arg;
    if (out->json) {
        json_t *obj = record_json(rec);
        if (obj == NULL)
            return rb_fail(err, RB_ENOMEM, NULL, "cannot encode audit record %lld",
                           (long long)rec->seq);
        char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(obj);
        if (text == NULL)
            return rb_fail(err, RB_ENOMEM, NULL, "cannot encode audit record %lld",
                           (long long)rec->seq);
        /* Indented one level, as an element of the array. */
        printf("%s\n  ", out->printed ? "," : "");
        for (const char *c = text; *c; c++) {
            putchar(*c);
            if (*c == '\n')
                fputs("  ", stdout);
        }
        free(text);
    } else {
        char when[RB_TIME_TEXT_LEN];
        if (out->printed == 0)
            printf("%6s  %-24s  %-16s  %-20s  %-24s  %s\n", "SEQ", "TIME", "ACTOR", "ACTION",
                   "OBJECT", "DETAIL");
        printf("%6lld  %-24s  ", (long long)rec->seq,
               rb_time_format(rec->at_ms, when, sizeof(when)));
        print_clean(rec->actor, 16);
        printf("  ");
        print_clean(rec->action, 20);
        printf("  ");
        print_clean(rec->object, 24);
        printf("  ");
        print_clean(rec->detail, 0);
        printf("\n");
    }
    out->printed++;
    return RB_OK;
}

static int parse_list_options(int argc, char **argv, cli_globals *g, rb_audit_filter *f)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS,
        {"action", required_argument, NULL, OPT_ACTION},
        {"actor", required_argument, NULL, OPT_ACTOR},
        {"object", required_argument, NULL, OPT_OBJECT},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"oldest-first", no_argument, NULL, OPT_OLDEST},
        {NULL, 0, NULL, 0},
    };
    int opt, rc = 0;
    f->newest_first = 1;
    cli_getopt_reset();
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, g, command("list")))
            continue;
        switch (opt) {
        case OPT_ACTION:
            f->action = optarg;
            break;
        case OPT_ACTOR:
            f->actor = optarg;
            break;
        case OPT_OBJECT:
            f->object = optarg;
            break;
        case OPT_SINCE:
            rc = parse_time("--since", optarg, &f->since_ms);
            break;
        case OPT_UNTIL:
            rc = parse_time("--until", optarg, &f->until_ms);
            break;
        case OPT_LIMIT:
            rc = parse_limit(optarg, &f->limit);
            break;
        case OPT_OLDEST:
            f->newest_first = 0;
            break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = cli_usage_error(command("list"), "unexpected argument '%s'", argv[optind]);
    return rc;
}

static int run_list(int argc, char **argv)
{
    cli_globals g = {0};
    rb_audit_filter filter = {0};
    rb_ctx ctx;
    int rc = parse_list_options(argc, argv, &g, &filter);
    if (rc == 0)
        rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    list_output out = {.json = g.json};
    rb_error err = {0};
    if (g.json)
        printf("[");
    rb_status status = rb_audit_list(&ctx, &filter, print_record, &out, &err);
    if (g.json)
        printf("%s]\n", out.printed ? "\n" : "");
    else if (status == RB_OK && out.printed == 0)
        fprintf(stderr, "no audit records match\n");
    cli_close(&ctx);
    return status == RB_OK ? CLI_EXIT_OK : cli_report(&err);
}

/* ---- record ---- */

static int run_record(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS,
        {"action", required_argument, NULL, OPT_ACTION},
        {"object", required_argument, NULL, OPT_OBJECT},
        {"detail", required_argument, NULL, OPT_DETAIL},
        {NULL, 0, NULL, 0},
    };
    cli_globals g = {0};
    const char *action = NULL, *object = NULL, *detail = NULL;
    rb_ctx ctx;
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, &g, command("record")))
            continue;
        if (opt == OPT_ACTION)
            action = optarg;
        else if (opt == OPT_OBJECT)
            object = optarg;
        else if (opt == OPT_DETAIL)
            detail = optarg;
    }
    if (optind < argc)
        return cli_usage_error(command("record"), "unexpected argument '%s'", argv[optind]);
    if (action == NULL || object == NULL)
        return cli_usage_error(command("record"), "--action and --object are required");
    int rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    rb_error err = {0};
    int64_t seq = 0;
    if (rb_audit_record_manual(&ctx, action, object, detail, &seq, &err) != RB_OK) {
        rc = cli_report(&err);
    } else if (g.json) {
        printf("{\"seq\": %lld}\n", (long long)seq);
    } else {
        printf("recorded audit entry %lld\n", (long long)seq);
    }
    cli_close(&ctx);
    return rc;
}

/* ---- checkpoints ---- */

static json_t *checkpoint_json(const rb_audit_checkpoint *cp)
{
    char head[2 * RB_AUDIT_HASH_LEN + 1], when[RB_TIME_TEXT_LEN];
    rb_audit_hash_hex(cp->head_hash, head);
    return json_pack("{s:I,s:s,s:s,s:s,s:I}", "seq", (json_int_t)cp->seq, "head", head, "time",
                     rb_time_format(cp->at_ms, when, sizeof(when)), "tsa", cp->signer,
                     "token_bytes", (json_int_t)cp->token_len);
}

static int run_checkpoint(int argc, char **argv)
{
    cli_globals g = {0};
    rb_ctx ctx;
    int rc = open_plain(argc, argv, "checkpoint", &g, &ctx);
    if (rc != 0)
        return rc;
    char db[4096];
    rb_key_secret secret = {.pass_file = g.pass_file};
    rb_tsa *tsa = NULL;
    rb_audit_checkpoint cp = {0};
    rb_error err = {0};
    int made = 0;
    cli_db_location(&ctx, &g, db, sizeof(db));
    rb_status s = cli_open_tsa(&ctx, db, &secret, &tsa, &err);
    if (s == RB_OK)
        s = rb_audit_checkpoint_make(&ctx, tsa, &made, &cp, &err);
    rb_tsa_free(tsa);
    if (s != RB_OK) {
        rc = cli_report(&err);
    } else if (!made) {
        fprintf(stderr, "nothing to checkpoint: nothing was logged since the last checkpoint\n");
    } else if (g.json) {
        cli_print_json(checkpoint_json(&cp));
    } else {
        char head[2 * RB_AUDIT_HASH_LEN + 1], when[RB_TIME_TEXT_LEN];
        rb_audit_hash_hex(cp.head_hash, head);
        printf("checkpoint of record %lld (head %s), time-stamped by %s at %s\n", (long long)cp.seq,
               head, cp.signer, rb_time_format(cp.at_ms, when, sizeof(when)));
    }
    rb_audit_checkpoint_clear(&cp);
    cli_close(&ctx);
    return rc;
}

typedef struct checkpoints_output {
    int json;
    int64_t token_seq; /* write this checkpoint's token instead of the list; 0: list */
    FILE *token_out;
    json_t *list;
    int found;
} checkpoints_output;

static int print_checkpoint(const rb_audit_checkpoint *cp, void *arg)
{
    checkpoints_output *out = arg;
    if (out->token_seq != 0) {
        if (cp->seq != out->token_seq)
            return 0;
        out->found = fwrite(cp->token, 1, cp->token_len, out->token_out) == cp->token_len;
        return 1;
    }
    out->found++;
    if (out->json) {
        json_array_append_new(out->list, checkpoint_json(cp));
    } else {
        char head[2 * RB_AUDIT_HASH_LEN + 1], when[RB_TIME_TEXT_LEN];
        rb_audit_hash_hex(cp->head_hash, head);
        if (out->found == 1)
            printf("%6s  %-24s  %-10s  %s\n", "SEQ", "TIME", "TSA", "HEAD");
        printf("%6lld  %-24s  %-10s  %s\n", (long long)cp->seq,
               rb_time_format(cp->at_ms, when, sizeof(when)), cp->signer, head);
    }
    return 0;
}

static int run_checkpoints(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS,
        {"token", required_argument, NULL, OPT_TOKEN},
        {"out", required_argument, NULL, OPT_OUT},
        {NULL, 0, NULL, 0},
    };
    cli_globals g = {0};
    checkpoints_output out = {0};
    const char *path = NULL;
    rb_ctx ctx;
    int opt, rc = 0;
    cli_getopt_reset();
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, &g, command("checkpoints")))
            continue;
        if (opt == OPT_TOKEN && (rc = parse_limit(optarg, &out.token_seq)) != 0)
            return rc;
        if (opt == OPT_OUT)
            path = optarg;
    }
    if (optind < argc)
        return cli_usage_error(command("checkpoints"), "unexpected argument '%s'", argv[optind]);
    if (path != NULL && out.token_seq == 0)
        return cli_usage_error(command("checkpoints"), "--out goes with --token");
    rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    rb_error err = {0};
    out.json = g.json;
    out.list = json_array();
    out.token_out = stdout;
    if (path != NULL && (out.token_out = fopen(path, "wb")) == NULL) {
        perror(path);
        rc = CLI_EXIT_FAIL;
    }
    if (rc == 0 && rb_audit_checkpoint_list(&ctx, print_checkpoint, &out, &err) != RB_OK)
        rc = cli_report(&err);
    if (path != NULL && out.token_out != NULL && fclose(out.token_out) != 0)
        rc = CLI_EXIT_FAIL;
    if (rc == 0 && out.token_seq != 0 && !out.found) {
        fprintf(stderr, "rubrica: no checkpoint fixes record %lld\n", (long long)out.token_seq);
        rc = CLI_EXIT_FAIL;
    } else if (rc == 0 && out.token_seq == 0 && g.json) {
        cli_print_json(out.list);
        out.list = NULL;
    } else if (rc == 0 && out.token_seq == 0 && !out.found) {
        fprintf(stderr, "no checkpoints yet\n");
    }
    json_decref(out.list);
    cli_close(&ctx);
    return rc;
}

const cli_command cli_audit_commands[] = {
    {"verify", "check the hash chain and the signed checkpoints; name the first bad record",
     "[--tsa-cert FILE] [--data DIR] [--db URL] [--json]\n\n"
     "Exits 0 and prints the record count and head hash when the chain is intact and\n"
     "every checkpoint's time-stamp token verifies and still matches its record;\n"
     "exits 1 naming the first bad record and what happened to it otherwise.\n"
     "A token must be signed by the store's TSA certificate, or, with --tsa-cert, by one\n"
     "of the PEM certificates in FILE: keep a copy of the TSA's certificate away from\n"
     "the store, so that whoever can rewrite the store cannot vouch for their own tokens.",
     run_verify, NULL},
    {"checkpoint", "time-stamp the chain head with the TSA, so the log so far is fixed",
     "[--data DIR] [--db URL] [--pass-file FILE] [--json]\n\n"
     "`rubrica serve` makes one on its own every --checkpoint-interval.",
     run_checkpoint, NULL},
    {"checkpoints", "list the signed checkpoints, or write one's RFC 3161 token",
     "[--token SEQ [--out FILE]] [--data DIR] [--db URL] [--json]\n\n"
     "Check a token without Rúbrica:\n"
     "  openssl ts -verify -digest HEAD -in FILE -token_in -CAfile root.pem -untrusted tsa.pem",
     run_checkpoints, NULL},
    {"list", "show audit records, newest first, with filters",
     "[--action NAME|PREFIX.] [--actor WHO] [--object OBJ] [--since TIME] [--until TIME]\n"
     "       [--limit N] [--oldest-first] [--data DIR] [--db URL] [--json]\n\n"
     "--action ending in '.' matches a prefix (cert. matches cert.issue, cert.revoke).\n"
     "TIME is UTC: 2026-11-22 or 2026-11-22T10:00:00Z; --since is inclusive, --until exclusive.",
     run_list, NULL},
    {"record", "append an operator's manual entry (a key ceremony, an inspection)",
     "--action NAME --object OBJ [--detail JSON] [--data DIR] [--db URL] [--json]\n\n"
     "NAME matches [a-z][a-z0-9_.-]*; JSON, when given, is an object, e.g.\n"
     "  --detail '{\"room\": \"B2\", \"witnesses\": [\"ana\", \"luis\"]}'",
     run_record, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const cli_command *command(const char *name)
{
    for (const cli_command *c = cli_audit_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return &cli_audit_commands[0];
}
