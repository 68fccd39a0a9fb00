/*
 * The rubrica command: git-style groups of subcommands over librubrica.
 * Each group lives in its own file in src/cli/ and is listed here.
 */
#include "cli/cli.h"

#include "core/log.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#ifndef RUBRICA_VERSION
#define RUBRICA_VERSION "0.1.0"
#endif

static const cli_command top_level[] = {
    {"init", "create the CA hierarchy in a new data directory", NULL, cli_run_init, NULL},
    {"ca", "the provider's CAs", NULL, NULL, cli_ca_commands},
    {"profile", "certificate profiles", NULL, NULL, cli_profile_commands},
    {"cert", "certificates and their lifecycle", NULL, NULL, cli_cert_commands},
    {"crl", "print the current certificate revocation list", NULL, cli_run_crl, NULL},
    {"bench", "benchmarks beside the reference tools", NULL, NULL, cli_bench_commands},
    {"db", "database schema", NULL, NULL, cli_db_commands},
    {"audit", "the hash-chained audit log", NULL, NULL, cli_audit_commands},
    {"id", "national ID numbers (DNI, RUC, cédula, DUI, NIT ...)", NULL, NULL, cli_id_commands},
    {"serve", "run the online services (TSA, OCSP, CRL, repository, API)", NULL, cli_run_serve,
     NULL},
    {"user", "users of the API and their roles", NULL, NULL, cli_user_commands},
    {"token", "API tokens", NULL, NULL, cli_token_commands},
    {NULL, NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    const char *level = getenv("RUBRICA_LOG");
    rb_log_level parsed;
    if (level != NULL && rb_log_parse_level(level, &parsed) == RB_OK)
        rb_log_set_level(parsed);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("rubrica %s (%s)\n", RUBRICA_VERSION, OpenSSL_version(OPENSSL_VERSION));
        return CLI_EXIT_OK;
    }
    return cli_dispatch(top_level, "rubrica", argc - 1, argv + 1);
}
