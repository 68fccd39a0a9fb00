/*
 * `rubrica db`: apply the schema migrations and show which are applied.
 */
#include "cli/cli.h"

#include "store/migrate.h"
#include "store/store.h"

#include <jansson.h>
#include <stdlib.h>

static const struct option store_options[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};

static int parse_store_options(int argc, char **argv, const cli_command *cmd, cli_globals *g)
{
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", store_options, NULL)) != -1)
        cli_global_option(opt, g, cmd);
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static int run_migrate(int argc, char **argv)
{
    cli_globals g = {0};
    rb_ctx ctx;
    int rc = parse_store_options(argc, argv, &cli_db_commands[0], &g);
    if (rc == 0)
        rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    printf("schema of %s is up to date\n", rb_store_get0_description(ctx.store));
    cli_close(&ctx);
    return CLI_EXIT_OK;
}

static int run_status(int argc, char **argv)
{
    cli_globals g = {0};
    rb_ctx ctx;
    int rc = parse_store_options(argc, argv, &cli_db_commands[1], &g);
    if (rc == 0)
        rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    size_t count;
    rb_schema_migrations(&count);
    rb_migration_status *rows = calloc(count, sizeof(*rows));
    rb_error err = {0};
    if (rows == NULL || rb_store_schema_status(ctx.store, rows, &err) != RB_OK) {
        free(rows);
        cli_close(&ctx);
        return cli_report(&err);
    }
    json_t *list = json_array();
    if (!g.json)
        printf("database: %s\n", rb_store_get0_description(ctx.store));
    for (size_t i = 0; i < count; i++) {
        char when[RB_TIME_TEXT_LEN] = "pending";
        if (rows[i].applied)
            rb_time_format(rows[i].applied_ms, when, sizeof(when));
        if (g.json)
            json_array_append_new(list, json_pack("{s:i,s:s,s:b,s:s}", "version", rows[i].version,
                                                  "name", rows[i].name, "applied", rows[i].applied,
                                                  "applied_at", when));
        else
            printf("%4d  %-26s %s\n", rows[i].version, when, rows[i].name);
    }
    if (g.json) {
        json_dumpf(list, stdout, JSON_INDENT(2));
        printf("\n");
    }
    json_decref(list);
    free(rows);
    cli_close(&ctx);
    return CLI_EXIT_OK;
}

const cli_command cli_db_commands[] = {
    {"migrate", "apply pending schema migrations", "[--data DIR] [--db URL]", run_migrate, NULL},
    {"status", "list migrations and when they were applied", "[--data DIR] [--db URL] [--json]",
     run_status, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
