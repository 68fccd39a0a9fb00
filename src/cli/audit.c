/*
 * `rubrica audit`: verify the hash-chained audit log, list it with filters,
 * and record an operator's manual entry.
 */
#include "cli/cli.h"

#include "audit/audit.h"
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
    OPT_DETAIL
};

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
    char head[2 * RB_AUDIT_HASH_LEN + 1];
    rb_audit_hash_hex(report->head_hash, head);
    if (json) {
        json_t *obj =
            report->problem == RB_AUDIT_OK
                ? json_pack("{s:b,s:I,s:I,s:s}", "ok", 1, "records", (json_int_t)report->records,
                            "head_seq", (json_int_t)report->head_seq, "head", head)
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
    } else {
        fprintf(stderr, "rubrica: audit log BROKEN at record %lld: %s (%s)\n",
                (long long)report->bad_seq, rb_audit_problem_name(report->problem), report->reason);
    }
    return report->problem == RB_AUDIT_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int run_verify(int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};
    cli_globals g = {0};
    rb_ctx ctx;
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        cli_global_option(opt, &g, command("verify"));
    if (optind < argc)
        return cli_usage_error(command("verify"), "unexpected argument '%s'", argv[optind]);
    int rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    rb_audit_report report = {0};
    rb_error err = {0};
    if (rb_audit_verify(&ctx, &report, &err) != RB_OK)
        rc = cli_report(&err);
    else
        rc = print_verify(&report, g.json);
    cli_close(&ctx);
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

const cli_command cli_audit_commands[] = {
    {"verify", "check the hash chain; name the first edited, deleted, inserted or moved record",
     "[--data DIR] [--db URL] [--json]\n\n"
     "Exits 0 and prints the record count and head hash when the chain is intact;\n"
     "exits 1 naming the first bad record and what happened to it otherwise.",
     run_verify, NULL},
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
