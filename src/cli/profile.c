/*
 * `rubrica profile`: show the certificate profiles of the data directory's
 * jurisdiction.
 */
#include "cli/cli.h"

#include "ca/issuer.h"

#include <openssl/objects.h>

static const struct option options[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};

static int open_jurisdiction(int argc, char **argv, const cli_command *cmd, cli_globals *g,
                             rb_jurisdiction **j)
{
    int opt;
    rb_ctx ctx;
    rb_error err = {0};
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        cli_global_option(opt, g, cmd);
    int rc = cli_open(g, &ctx);
    if (rc != 0)
        return rc;
    rb_status s = rb_issuer_load_jurisdiction(&ctx, j, &err);
    cli_close(&ctx);
    return s == RB_OK ? 0 : cli_report(&err);
}

static json_t *field_list(unsigned mask)
{
    json_t *list = json_array();
    for (int f = 0; f < RB_FIELD_COUNT; f++)
        if (mask & (1u << f))
            json_array_append_new(list, json_string(rb_field_name((rb_field)f)));
    return list;
}

static json_t *profile_json(const rb_profile *p)
{
    static const char *const kinds[] = {"person", "organization", "service"};
    char ku[200];
    json_t *eku = json_array(), *ids = json_array();
    for (size_t i = 0; i < p->eku_count; i++)
        json_array_append_new(eku, json_string(OBJ_nid2sn(p->eku_nids[i])));
    for (size_t i = 0; i < p->id_type_count; i++)
        json_array_append_new(ids, json_string(p->id_types[i]));
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:o,s:i,s:s,s:s}", "name", p->name,
                     "description", p->description, "subject", kinds[p->subject], "required",
                     field_list(p->required), "optional", field_list(p->optional), "id_types", ids,
                     "key_usage", rb_key_usage_names(p->key_usage, ku, sizeof(ku)),
                     "extended_key_usage", eku, "max_validity_days", p->max_validity_days,
                     "policy_oid", p->policy_oid, "notice", p->notice);
}

static int run_list(int argc, char **argv)
{
    cli_globals g = {0};
    rb_jurisdiction *j = NULL;
    int rc = open_jurisdiction(argc, argv, &cli_profile_commands[0], &g, &j);
    if (rc != 0)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < j->profile_count; i++) {
        if (g.json)
            json_array_append_new(list, profile_json(&j->profiles[i]));
        else
            printf("%-22s %4d days  %s\n", j->profiles[i].name, j->profiles[i].max_validity_days,
                   j->profiles[i].description);
    }
    if (g.json)
        cli_print_json(list);
    else
        json_decref(list);
    rb_jurisdiction_free(j);
    return CLI_EXIT_OK;
}

static int run_show(int argc, char **argv)
{
    cli_globals g = {0};
    rb_jurisdiction *j = NULL;
    rb_error err = {0};
    int rc = open_jurisdiction(argc, argv, &cli_profile_commands[1], &g, &j);
    if (rc != 0)
        return rc;
    if (argc - optind != 1) {
        rb_jurisdiction_free(j);
        return cli_usage_error(&cli_profile_commands[1], "name one profile");
    }
    const rb_profile *p = rb_jurisdiction_profile(j, argv[optind], &err);
    if (p != NULL)
        cli_print_json(profile_json(p));
    rb_jurisdiction_free(j);
    return p ? CLI_EXIT_OK : cli_report(&err);
}

const cli_command cli_profile_commands[] = {
    {"list", "list the certificate profiles of this jurisdiction", "[--json] [--data DIR]",
     run_list, NULL},
    {"show", "show one profile: fields, key usage, validity, policy", "NAME [--data DIR]", run_show,
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
