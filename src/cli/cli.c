/*
 * Shared machinery of the command line: dispatch through nested command
 * tables with help at every level, the global options, and opening the
 * store the way every command does.
 */
#include "cli/cli.h"

#include "core/log.h"
#include "store/migrate.h"
#include "store/store.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char command_path[256] = "rubrica";
static char actor_name[128];

/* A group's summary is followed by its verbs, read from its own table so the list cannot drift. */
static void print_group_help(const cli_command *table, const char *prefix, FILE *out)
{
    fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", prefix);
    for (const cli_command *c = table; c->name; c++) {
        fprintf(out, "  %-12s %s", c->name, c->summary);
        for (const cli_command *verb = c->children; verb && verb->name; verb++)
            fprintf(out, "%s%s", verb == c->children ? ": " : ", ", verb->name);
        fprintf(out, "\n");
    }
    fprintf(out, "\nRun '%s <command> --help' for a command's options.\n", prefix);
}

int cli_dispatch(const cli_command *table, const char *prefix, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
        strcmp(argv[0], "help") == 0) {
        print_group_help(table, prefix, argc < 1 ? stderr : stdout);
        return argc < 1 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (const cli_command *c = table; c->name; c++) {
        if (strcmp(c->name, argv[0]) != 0)
            continue;
        char path[256];
        snprintf(path, sizeof(path), "%s %s", prefix, c->name);
        snprintf(command_path, sizeof(command_path), "%s", path);
        if (c->children)
            return cli_dispatch(c->children, path, argc - 1, argv + 1);
        return c->run(argc, argv);
    }
    fprintf(stderr, "rubrica: unknown command '%s'; run '%s --help'\n", argv[0], prefix);
    return CLI_EXIT_USAGE;
}

void cli_getopt_reset(void)
{
    optind = 0;
    opterr = 1;
}

int cli_global_option(int opt, cli_globals *globals, const cli_command *cmd)
{
    switch (opt) {
    case CLI_OPT_DATA:
        globals->data_dir = optarg;
        return 1;
    case CLI_OPT_DB:
        globals->db = optarg;
        return 1;
    case CLI_OPT_JSON:
        globals->json = 1;
        return 1;
    case CLI_OPT_PASS_FILE:
        globals->pass_file = optarg;
        return 1;
    case CLI_OPT_HELP:
        printf("usage: %s %s\n", command_path, cmd->usage ? cmd->usage : "");
        exit(CLI_EXIT_OK);
    case '?':
        fprintf(stderr, "run '%s --help' for usage\n", command_path);
        exit(CLI_EXIT_USAGE);
    }
    return 0;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    (void)cmd;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rubrica: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nrun '%s --help' for usage\n", command_path);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_report(const rb_error *err)
{
    char text[1400];
    fprintf(stderr, "rubrica: %s\n", rb_error_format(err, text, sizeof(text)));
    return CLI_EXIT_FAIL;
}

static const char *default_actor(void)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(actor_name, sizeof(actor_name), "cli:%s", pw ? pw->pw_name : "unknown");
    return actor_name;
}

/* RUBRICA_FAKE_TIME pins the clock (tests only); it is announced on stderr. */
static int configure_clock(rb_clock *clock)
{
    const char *fake = getenv("RUBRICA_FAKE_TIME");
    if (fake == NULL || fake[0] == '\0')
        return 0;
    rb_error err = {0};
    if (rb_time_parse(fake, &clock->fixed_ms, &err) != RB_OK)
        return cli_report(&err);
    rb_log(RB_LOG_WARN, "clock pinned to %s by RUBRICA_FAKE_TIME", fake);
    return 0;
}

int cli_open(const cli_globals *globals, rb_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    const char *data_dir = globals->data_dir ? globals->data_dir : getenv("RUBRICA_DATA");
    if (data_dir == NULL || data_dir[0] == '\0')
        data_dir = "data";
    const char *db = globals->db ? globals->db : getenv("RUBRICA_DB");
    struct stat st;
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "rubrica: the data directory %s does not exist; create it with "
                "'rubrica init --data %s'\n",
                data_dir, data_dir);
        return CLI_EXIT_FAIL;
    }
    char sqlite_path[4096];
    if (db == NULL || db[0] == '\0') {
        snprintf(sqlite_path, sizeof(sqlite_path), "%s/rubrica.db", data_dir);
        db = sqlite_path;
    }
    if (configure_clock(&ctx->clock) != 0)
        return CLI_EXIT_FAIL;
    rb_error err = {0};
    rb_store *store = NULL;
    if (rb_store_open(db, &store, &err) != RB_OK)
        return cli_report(&err);
    if (rb_store_migrate(store, &ctx->clock, NULL, &err) != RB_OK) {
        rb_store_close(store);
        return cli_report(&err);
    }
    ctx->store = store;
    ctx->data_dir = data_dir;
    ctx->actor = default_actor();
    return 0;
}

void cli_db_location(const rb_ctx *ctx, const cli_globals *g, char *out, size_t len)
{
    const char *db = g->db ? g->db : getenv("RUBRICA_DB");
    if (db != NULL && db[0] != '\0')
        snprintf(out, len, "%s", db);
    else
        snprintf(out, len, "%s/rubrica.db", ctx->data_dir);
}

rb_status cli_open_tsa(rb_ctx *ctx, const char *db, const rb_key_secret *secret, rb_tsa **out,
                       rb_error *err)
{
    rb_tsa_config cfg = {0};
    rb_status s = rb_tsa_config_from_settings(ctx, &cfg, err);
    cfg.db = db;
    if (s == RB_OK)
        s = rb_tsa_new_from_store(&cfg, ctx, secret, out, err);
    rb_tsa_config_clear(&cfg);
    return s;
}

void cli_close(rb_ctx *ctx)
{
    rb_store_close(ctx->store);
    ctx->store = NULL;
}

void cli_print_json(json_t *value)
{
    json_dumpf(value, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("\n");
    json_decref(value);
}
