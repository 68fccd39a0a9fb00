/*
 * `rubrica id check`: validates a national identity or tax number (DNI, RUC,
 * cédula, DUI, NIT ...) and prints its normalised form; for a Panama RUC
 * given without --dv it prints the DV as well. Opens no data directory.
 */
#include "cli/cli.h"

#include "pki/idcheck.h"

#define CHECK_USAGE                                                                                \
    "TYPE VALUE [--dv NN]\n"                                                                       \
    "\n"                                                                                           \
    "Checks the format and check digit of VALUE and prints it normalised.\n"                       \
    "TYPE is one of:\n"                                                                            \
    "  pe-dni     Peru DNI, 8 digits and optional check character (10117410-2)\n"                  \
    "  pe-ruc     Peru RUC, 11 digits (20512333797)\n"                                             \
    "  pe-ce      Peru carné de extranjería, 1 to 12 letters or digits\n"                        \
    "  pa-cedula  Panama cédula (8-274-125, PE-1-19, 8AV-1-196)\n"                                \
    "  pa-ruc     Panama RUC (8-274-125, 155596713-2-2015); --dv NN checks its DV,\n"              \
    "             without --dv the DV is computed and printed\n"                                   \
    "  py-ci      Paraguay cédula de identidad, 1 to 8 digits\n"                                  \
    "  py-ruc     Paraguay RUC with its check digit (80028061-0)\n"                                \
    "  sv-dui     El Salvador DUI (12345678-4)\n"                                                  \
    "  sv-nit     El Salvador NIT (0614-050707-104-8)\n"                                           \
    "Exit status: 0 valid, 1 invalid (the reason is on stderr), 2 wrong usage.\n"                  \
    "Put -- before a VALUE that starts with '-'."

enum { OPT_DV = 2000 };

static const struct option check_options[] = {
    {"dv", required_argument, NULL, OPT_DV},
    {"help", no_argument, NULL, CLI_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int run_check(int argc, char **argv)
{
    const cli_command *cmd = &cli_id_commands[0];
    cli_globals unused = {0};
    const char *dv = NULL;
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", check_options, NULL)) != -1) {
        if (opt == OPT_DV)
            dv = optarg;
        else
            cli_global_option(opt, &unused, cmd); /* --help exits 0, a bad option exits 2 */
    }
    if (argc - optind < 2)
        return cli_usage_error(cmd, "expected a document TYPE and a VALUE");
    if (argc - optind > 2)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 2]);
    char normalised[RB_ID_NORMALISED_MAX];
    rb_error err = {0};
    if (rb_id_check(argv[optind], argv[optind + 1], dv, normalised, sizeof(normalised), &err) !=
        RB_OK)
        return cli_report(&err);
    printf("%s\n", normalised);
    return CLI_EXIT_OK;
}

const cli_command cli_id_commands[] = {
    {"check", "validate a national ID or tax number and print it normalised", CHECK_USAGE,
     run_check, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
