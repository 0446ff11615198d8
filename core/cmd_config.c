/* cmd_config.c — `aria-core config check FILE`. */
#include "cmds.h"

#include <string.h>

static const char config_usage[] =
    "usage: aria-core config check FILE\n"
    "\n"
    "Validates an aria.ini: every problem is printed on stderr as FILE:LINE and\n"
    "the section and key at fault. When there is none, prints the effective\n"
    "configuration (every key, with where its value came from) on stdout.\n"
    "Exit status: 0 valid, 1 problems found, 2 bad usage.\n";

static const char check_usage[] =
    "usage: aria-core config check FILE\n"
    "\n"
    "Validates FILE and prints the effective configuration (see aria-core config --help).\n"
    "Options given to aria-core (--set, --threads, ...) apply on top of FILE.\n";

int ari_cmd_config(int argc, char **argv, const ari_opts *o)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(config_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "aria-core config: unknown subcommand '%s' (see --help)\n", argv[1]);
        return 2;
    }
    if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        fputs(check_usage, stdout);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "aria-core config check: %s (see --help)\n",
                argc < 3 ? "which file? give one FILE" : "give exactly one FILE");
        return 2;
    }
    ari_opts local = *o;
    local.config_path = argv[2];
    ari_ctx c;
    int rc = ari_ctx_open(&c, &local, ARI_CTX_QUIET);
    if (rc == 0)
        ari_config_dump(c.cfg, stdout);
    ari_ctx_close(&c);
    return rc == 2 ? 1 : rc;
}
