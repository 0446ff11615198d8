/* cmd_config.c — `aria-core config check FILE`: an operator's way to learn
 * whether a file is right before a node runs on it. Only the configuration
 * is read (no plugins, no CPU detection), so checking is instant and safe on
 * any machine; [plugin.NAME] sections are checked when their plugin loads. */
#include "cmds.h"

#include <string.h>

static const char config_usage[] =
    "usage: aria-core config check FILE\n"
    "\n"
    "Validates an aria.ini. Every problem is printed on stderr, one per line,\n"
    "as FILE:LINE: [section] key: problem. When there is none, prints the\n"
    "effective configuration on stdout: every key, each with where its value\n"
    "came from (default, FILE:LINE or command line), as an INI file that reads\n"
    "back the same. Options given to aria-core (--set S.K=V, --threads, ...)\n"
    "apply on top of FILE, as they would for a node.\n"
    "Exit status: 0 valid, 1 problems found, 2 bad usage.\n"
    "See conf/aria.ini for every key with its meaning and default.\n";

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

static int check(const char *path, const ari_opts *o)
{
    int rc = 0;
    ari_config *cfg = ari_config_new();
    if (!cfg) {
        fprintf(stderr, "aria-core config check: out of memory\n");
        return 1;
    }
    if (ari_config_load(cfg, path) != ARIA_OK)
        rc = 1;
    for (size_t i = 0; i < ari_config_n_errors(cfg); i++)
        fprintf(stderr, "%s\n", ari_config_error(cfg, i));
    for (size_t i = 0; o && i < o->n_sets; i++) {
        aria_msg why = {{0}};
        if (ari_config_set(cfg, o->sets[i].section, o->sets[i].key, o->sets[i].value, &why) !=
            ARIA_OK) {
            fprintf(stderr, "aria-core: %s: %s\n", o->sets[i].flag, why.text);
            rc = 1;
        }
    }
    if (rc == 0) {
        printf("; the effective configuration of %s\n\n", path);
        ari_config_dump(cfg, stdout);
    }
    ari_config_free(cfg);
    return rc;
}

int ari_cmd_config(int argc, char **argv, const ari_opts *o)
{
    for (int i = 1; i < argc; i++)
        if (is_help(argv[i])) {
            fputs(config_usage, stdout);
            return 0;
        }
    if (argc < 2) {
        fprintf(stderr, "aria-core config: which subcommand? (check FILE; see --help)\n");
        return 2;
    }
    if (strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "aria-core config: unknown subcommand '%s' (see --help)\n", argv[1]);
        return 2;
    }
    if (argc < 3) {
        fprintf(stderr, "aria-core config check: which FILE? (see --help)\n");
        return 2;
    }
    if (argv[2][0] == '-' && argv[2][1]) {
        fprintf(stderr, "aria-core config check: unknown option '%s' (see --help)\n", argv[2]);
        return 2;
    }
    if (argc > 3) {
        fprintf(stderr, "aria-core config check: one FILE only, not '%s' too\n", argv[3]);
        return 2;
    }
    return check(argv[2], o);
}
