/*
 * `rubrica crl`: print the current complete or delta CRL of a CA (signing a
 * new one when the stored one is stale or --force is given).
 */
#include "cli/cli.h"

#include "ca/crl.h"

#include <openssl/pem.h>
#include <stdlib.h>

enum { OPT_CA = 1, OPT_PEM, OPT_OUT, OPT_FORCE, OPT_DELTA };

const cli_command cli_crl_command[] = {
    {"crl", "print the current CRL or delta CRL (DER, or PEM with --pem)",
     "[--ca NAME] [--delta] [--pem] [--out FILE] [--force] [--pass-file FILE]\n\n"
     "Prints the stored CRL while it is fresh, else signs one with the next CRL number.\n"
     "--delta gives the delta CRL (RFC 5280 5.2.4): what changed since the stored complete\n"
     "CRL, whose number its deltaCRLIndicator names; released holds are removeFromCRL.\n"
     "The complete CRL points at it in its Freshest CRL extension.",
     cli_run_crl, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int cli_run_crl(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS,
        {"ca", required_argument, NULL, OPT_CA},
        {"pem", no_argument, NULL, OPT_PEM},
        {"out", required_argument, NULL, OPT_OUT},
        {"force", no_argument, NULL, OPT_FORCE},
        {"delta", no_argument, NULL, OPT_DELTA},
        {NULL, 0, NULL, 0},
    };
    cli_globals g = {0};
    const char *ca = NULL, *out = NULL;
    int pem = 0, force = 0, delta = 0, opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, &g, &cli_crl_command[0]))
            continue;
        if (opt == OPT_CA)
            ca = optarg;
        else if (opt == OPT_PEM)
            pem = 1;
        else if (opt == OPT_OUT)
            out = optarg;
        else if (opt == OPT_FORCE)
            force = 1;
        else if (opt == OPT_DELTA)
            delta = 1;
    }
    if (optind < argc)
        return cli_usage_error(&cli_crl_command[0], "unexpected argument '%s'", argv[optind]);
    rb_ctx ctx;
    int rc = cli_open(&g, &ctx);
    if (rc != 0)
        return rc;
    rb_error err = {0};
    rb_key_secret secret = {.pass_file = g.pass_file};
    uint8_t *der = NULL;
    size_t len = 0;
    rb_status s = rb_ca_crl_current(&ctx, ca, delta ? RB_CRL_DELTA : RB_CRL_FULL, &secret, force,
                                    &der, &len, &err);
    cli_close(&ctx);
    if (s != RB_OK)
        return cli_report(&err);
    FILE *f = out ? fopen(out, "wb") : stdout;
    int ok = f != NULL;
    if (ok && pem) {
        const unsigned char *p = der;
        X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
        ok = crl && PEM_write_X509_CRL(f, crl) == 1;
        X509_CRL_free(crl);
    } else if (ok) {
        ok = fwrite(der, 1, len, f) == len;
    }
    if (out && f)
        ok = fclose(f) == 0 && ok;
    free(der);
    if (!ok) {
        fprintf(stderr, "rubrica: cannot write the CRL to %s\n", out ? out : "stdout");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
