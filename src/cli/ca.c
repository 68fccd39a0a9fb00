/*
 * `rubrica ca`: list the provider's CAs and service certificates, print one.
 */
#include "cli/cli.h"

#include "ca/ca.h"
#include "pki/x509util.h"
#include "store/store.h"

#include <stdlib.h>

static const struct option options[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};

static int parse(int argc, char **argv, const cli_command *cmd, cli_globals *g)
{
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        cli_global_option(opt, g, cmd);
    return 0;
}

static int run_list(int argc, char **argv)
{
    cli_globals g = {0};
    rb_ctx ctx;
    parse(argc, argv, &cli_ca_commands[0], &g);
    if (optind < argc)
        return cli_usage_error(&cli_ca_commands[0], "unexpected argument '%s'", argv[optind]);
    int rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    rb_error err = {0};
    rb_stmt *stmt;
    int has_row = 1;
    rb_status s = rb_store_prepare(ctx.store,
                                   "SELECT name, role, issuer, subject, serial, not_after_ms, "
                                   "key_ref FROM authorities ORDER BY created_ms, name",
                                   &stmt, &err);
    json_t *list = json_array();
    while (s == RB_OK) {
        s = rb_stmt_step(stmt, &has_row, &err);
        if (s != RB_OK || !has_row)
            break;
        char until[RB_TIME_TEXT_LEN];
        rb_time_format(rb_stmt_int64(stmt, 5), until, sizeof(until));
        const char *ref = rb_stmt_text(stmt, 6);
        const char *where = strncmp(ref, "pkcs11:", 7) == 0 ? "pkcs11" : "file";
        if (g.json)
            json_array_append_new(
                list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", rb_stmt_text(stmt, 0),
                                "role", rb_stmt_text(stmt, 1), "issuer", rb_stmt_text(stmt, 2),
                                "subject", rb_stmt_text(stmt, 3), "serial", rb_stmt_text(stmt, 4),
                                "not_after", until, "key_store", where));
        else
            printf("%-10s %-8s issuer=%-10s until %s key=%-6s %s\n", rb_stmt_text(stmt, 0),
                   rb_stmt_text(stmt, 1), rb_stmt_text(stmt, 2), until, where,
                   rb_stmt_text(stmt, 3));
    }
    if (g.json && s == RB_OK)
        cli_print_json(list);
    else
        json_decref(list);
    cli_close(&ctx);
    return s == RB_OK ? CLI_EXIT_OK : cli_report(&err);
}

static int run_cert(int argc, char **argv)
{
    cli_globals g = {0};
    rb_ctx ctx;
    parse(argc, argv, &cli_ca_commands[1], &g);
    if (argc - optind > 1)
        return cli_usage_error(&cli_ca_commands[1], "give at most one CA name");
    const char *name = optind < argc ? argv[optind] : NULL;
    int rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    rb_error err = {0};
    rb_authority *a = NULL;
    rb_status s = rb_authority_load(&ctx, name, RB_ROLE_ISSUING, 0, NULL, &a, &err);
    char *pem = s == RB_OK ? rb_x509_to_pem(a->cert) : NULL;
    if (pem)
        fputs(pem, stdout);
    free(pem);
    rb_authority_free(a);
    cli_close(&ctx);
    return s == RB_OK ? CLI_EXIT_OK : cli_report(&err);
}

const cli_command cli_ca_commands[] = {
    {"list", "list the CAs, the OCSP responder and the TSA", "[--json] [--data DIR] [--db URL]",
     run_list, NULL},
    {"cert", "print a CA's certificate (PEM; default: the issuing CA)",
     "[NAME] [--data DIR] [--db URL]", run_cert, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
