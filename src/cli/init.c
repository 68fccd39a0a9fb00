/*
 * `rubrica init`: create a certification provider's hierarchy in a new data
 * directory (root CA, issuing CA, OCSP responder and TSA certificates).
 */
#include "cli/cli.h"

#include "ca/init.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "--data DIR [--jurisdiction PE|PA|PY|SV] [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072|"
    "rsa-4096]\n       [--org NAME] [--base-url URL] [--hsm PKCS11-URI] [--root-name NAME]"
    " [--issuing-name NAME]\n       [--profiles FILE] [--pass-file FILE] [--db URL]\n\n"
    "Keys are encrypted with the passphrase in --pass-file or RUBRICA_KEY_PASS; with --hsm they\n"
    "are generated on the PKCS#11 token (PIN from the URI's pin-source or RUBRICA_PKCS11_PIN).";

enum {
    OPT_JURISDICTION = 1,
    OPT_KEY_TYPE,
    OPT_ORG,
    OPT_BASE_URL,
    OPT_HSM,
    OPT_ROOT,
    OPT_ISSUING,
    OPT_PROFILES
};

const cli_command cli_init_command[] = {
    {"init", "create the CA hierarchy in a new data directory", usage, cli_run_init, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int cli_run_init(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS,
        {"jurisdiction", required_argument, NULL, OPT_JURISDICTION},
        {"key-type", required_argument, NULL, OPT_KEY_TYPE},
        {"org", required_argument, NULL, OPT_ORG},
        {"base-url", required_argument, NULL, OPT_BASE_URL},
        {"hsm", required_argument, NULL, OPT_HSM},
        {"root-name", required_argument, NULL, OPT_ROOT},
        {"issuing-name", required_argument, NULL, OPT_ISSUING},
        {"profiles", required_argument, NULL, OPT_PROFILES},
        {NULL, 0, NULL, 0},
    };
    cli_globals g = {0};
    rb_init_params p = {.jurisdiction = "PE",
                        .key_type = RB_KEY_EC_P256,
                        .org = "Rubrica Demo",
                        .base_url = "http://127.0.0.1:8080",
                        .root_name = "root",
                        .issuing_name = "issuing"};
    rb_error err = {0};
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, &g, &cli_init_command[0]))
            continue;
        switch (opt) {
        case OPT_JURISDICTION:
            p.jurisdiction = optarg;
            break;
        case OPT_KEY_TYPE:
            if (rb_key_type_parse(optarg, &p.key_type, &err) != RB_OK)
                return cli_usage_error(&cli_init_command[0], "%s", err.message);
            break;
        case OPT_ORG:
            p.org = optarg;
            break;
        case OPT_BASE_URL:
            p.base_url = optarg;
            break;
        case OPT_HSM:
            p.hsm_uri = optarg;
            break;
        case OPT_ROOT:
            p.root_name = optarg;
            break;
        case OPT_ISSUING:
            p.issuing_name = optarg;
            break;
        case OPT_PROFILES:
            p.profiles_file = optarg;
            break;
        }
    }
    if (optind < argc)
        return cli_usage_error(&cli_init_command[0], "unexpected argument '%s'", argv[optind]);
    if (g.data_dir == NULL)
        return cli_usage_error(&cli_init_command[0], "--data DIR is required");
    if (mkdir(g.data_dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "rubrica: cannot create the data directory %s: %s\n", g.data_dir,
                strerror(errno));
        return CLI_EXIT_FAIL;
    }
    p.secret.pass_file = g.pass_file;
    rb_ctx ctx;
    int rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    if (rb_ca_init(&ctx, &p, &err) != RB_OK) {
        cli_close(&ctx);
        return cli_report(&err);
    }
    printf("initialised %s certification provider '%s' in %s\n", p.jurisdiction, p.org,
           ctx.data_dir);
    printf("  CAs: %s (root), %s (issuing); OCSP responder and TSA certificates issued\n",
           p.root_name, p.issuing_name);
    printf("  keys: %s\n", p.hsm_uri ? "on the PKCS#11 token" : "encrypted files in DATA/keys");
    printf("  certificates point to %s\n", p.base_url);
    cli_close(&ctx);
    return CLI_EXIT_OK;
}
