/*
 * What the command-line front end shares: the command table type, option
 * parsing helpers, opening the data directory and store, and printing errors.
 * The CLI only parses, calls librubrica and formats; it holds no policy.
 */
#ifndef RB_CLI_CLI_H
#define RB_CLI_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "core/context.h"
#include "core/error.h"
#include "tsa/tsa.h"

#include <jansson.h>

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1 /* the operation failed; stderr says why */
#define CLI_EXIT_USAGE 2 /* the command line was wrong */

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;                  /* full help text for `--help` (leaf commands) */
    int (*run)(int argc, char **argv);  /* leaf: argv[0] is the command name */
    const struct cli_command *children; /* group: NULL-name-terminated table */
} cli_command;

/* Runs argv against table, printing help at any level. prefix is "rubrica ...". */
int cli_dispatch(const cli_command *table, const char *prefix, int argc, char **argv);

/* Options every command that touches the store accepts. */
typedef struct cli_globals {
    const char *data_dir;  /* --data, RUBRICA_DATA, default "data" */
    const char *db;        /* --db, RUBRICA_DB, default DATA/rubrica.db */
    int json;              /* --json */
    const char *pass_file; /* --pass-file: key passphrase or PIN (else RUBRICA_KEY_PASS) */
} cli_globals;

/* getopt_long entries for the globals; put CLI_GLOBAL_OPTIONS in a command's table. */
enum { CLI_OPT_DATA = 1000, CLI_OPT_DB, CLI_OPT_JSON, CLI_OPT_HELP, CLI_OPT_PASS_FILE };
#define CLI_GLOBAL_OPTIONS                                                                         \
    {"data", required_argument, NULL, CLI_OPT_DATA}, {"db", required_argument, NULL, CLI_OPT_DB},  \
        {"json", no_argument, NULL, CLI_OPT_JSON}, {"help", no_argument, NULL, CLI_OPT_HELP},      \
    {                                                                                              \
        "pass-file", required_argument, NULL, CLI_OPT_PASS_FILE                                    \
    }

/*
 * Handles a global option or --help inside a getopt loop. Returns 1 if opt
 * was consumed, 0 if not; on --help prints usage and exits 0; on '?' exits 2.
 */
int cli_global_option(int opt, cli_globals *globals, const cli_command *cmd);

/* Resets getopt for a new parse. */
void cli_getopt_reset(void);

/*
 * Opens the store named by globals (checking the data directory exists),
 * applies pending migrations, and fills ctx. Prints the problem and returns
 * non-zero on failure.
 */
int cli_open(const cli_globals *globals, rb_ctx *ctx);
void cli_close(rb_ctx *ctx);
/* The store location cli_open used (--db, RUBRICA_DB or DATA/rubrica.db), for further connections.
 */
void cli_db_location(const rb_ctx *ctx, const cli_globals *g, char *out, size_t len);
/* The TSA from the store, with its settings and its record writer connected to db. */
rb_status cli_open_tsa(rb_ctx *ctx, const char *db, const rb_key_secret *secret, rb_tsa **out,
                       rb_error *err) RB_MUST_CHECK;

/* Prints "rubrica: <message>" for err on stderr and returns CLI_EXIT_FAIL. */
int cli_report(const rb_error *err);

/* Prints "rubrica: <fmt>" on stderr and returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) RB_PRINTF(2, 3);

/* Prints a JSON value (indented) and a newline on stdout; consumes value. */
void cli_print_json(json_t *value);

/* Each group's table, defined in its own file. */
extern const cli_command cli_db_commands[];
extern const cli_command cli_audit_commands[];
extern const cli_command cli_id_commands[];
extern const cli_command cli_init_command[];
int cli_run_init(int argc, char **argv);
extern const cli_command cli_ca_commands[];
extern const cli_command cli_cert_commands[];
extern const cli_command cli_crl_command[];
int cli_run_crl(int argc, char **argv);
extern const cli_command cli_profile_commands[];
extern const cli_command cli_bench_commands[];
extern const cli_command cli_serve_command[];
extern const cli_command cli_user_commands[];
extern const cli_command cli_token_commands[];
int cli_run_serve(int argc, char **argv);

#endif
