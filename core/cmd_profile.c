/* cmd_profile.c — `aria-core profile list|set NAME`: which model tiers a
 * node serves. `set` edits [profile] name in the aria.ini given with
 * --config, in place: every other line (comments included) stays as it was,
 * and the file is replaced atomically. A profile the machine cannot hold
 * (RAM below what it needs) is refused with the reason. */
#include "cmds.h"
#include "config.h"
#include "cpu.h"
#include "router.h"

#include <aria/common.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: aria-core profile list [--proc DIR]\n"
    "       aria-core profile set NAME --config FILE [--proc DIR]\n"
    "\n"
    "A profile decides which model tiers the node serves:\n"
    "  minimal          the smallest efficiency-tier model only\n"
    "  efficient        1.58-bit (ternary) models, any CPU (the default)\n"
    "  balanced         adds the quality tier; needs 8 GB of RAM or more\n"
    "  full             adds the specialist tier; needs 16 GB or more\n"
    "  specialist_only  the specialist tier only (code, reasoning, vision)\n"
    "\n"
    "`set` writes [profile] name into FILE (the aria.ini given with --config),\n"
    "keeping every other line and comment, and refuses a profile this machine\n"
    "cannot hold.\n"
    "\n"
    "  --proc DIR   read memory from another /proc (for tests)\n";

static const char *const names[] = {"minimal", "efficient", "balanced", "full",
                                    "specialist_only"};

/* RAM in decimal GB, as machines are sold (a "16 GB" machine reports a
 * little less to the OS: rounded to the nearest GB). */
static long ram_gb(const aria_cpu_info *c) { return lround((double)c->ram_bytes / 1e9); }

/* Replaces or adds name = VALUE in [profile]; 0 on success. */
static int edit(const char *path, const char *value, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *o = fopen(tmp, "w");
    if (!o) {
        snprintf(err, cap, "%s: %s", tmp, strerror(errno));
        fclose(f);
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int in_profile = 0, seen_section = 0, done = 0;
    while ((n = getline(&line, &lcap, f)) > 0) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[') {
            if (in_profile && !done) { /* section ended without the key */
                fprintf(o, "name = %s\n", value);
                done = 1;
            }
            in_profile = !strncmp(p, "[profile]", 9);
            seen_section |= in_profile;
        } else if (in_profile && !done && !strncmp(p, "name", 4) &&
                   (p[4] == ' ' || p[4] == '\t' || p[4] == '=')) {
            const char *q = p + 4;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=') {
                fprintf(o, "%.*sname = %s\n", (int)(p - line), line, value);
                done = 1;
                continue;
            }
        }
        fputs(line, o);
        if (n > 0 && line[n - 1] != '\n' && !feof(f))
            fputc('\n', o);
    }
    free(line);
    int read_err = ferror(f);
    fclose(f);
    if (!done) {
        if (in_profile)
            fprintf(o, "name = %s\n", value);
        else
            fprintf(o, "%s[profile]\nname = %s\n", seen_section ? "" : "\n", value);
    }
    if (read_err || fflush(o) != 0 || fsync(fileno(o)) != 0) {
        snprintf(err, cap, "%s: write failed: %s", tmp, strerror(errno));
        fclose(o);
        unlink(tmp);
        return -1;
    }
    fclose(o);
    struct stat st;
    if (stat(path, &st) == 0)
        chmod(tmp, st.st_mode & 07777);
    if (rename(tmp, path) != 0) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int ari_cmd_profile(int argc, char **argv, const ari_opts *o)
{
    aria_detect_env env = {.hdr = {sizeof env, 1}, .sysfs_root = "/sys", .proc_root = "/proc",
                           .dev_root = "/dev"};
    const char *sub = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--proc") && i + 1 < argc)
            env.proc_root = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "aria-core profile: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!sub)
            sub = argv[i];
        else if (!name)
            name = argv[i];
        else {
            fprintf(stderr, "aria-core profile: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    aria_cpu_info cpu;
    memset(&cpu, 0, sizeof cpu);
    ari_cpu_detect(&env, &cpu);
    if (!sub || !strcmp(sub, "list")) {
        printf("%-16s %-30s %-10s %s\n", "PROFILE", "TIERS", "NEEDS", "THIS MACHINE");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char t[64], need[16];
            ari_tier_list(ari_profile_tiers(names[i]), t, sizeof t);
            unsigned gb = ari_profile_min_ram_gb(names[i]);
            snprintf(need, sizeof need, gb ? "%u GB" : "-", gb);
            printf("%-16s %-30s %-10s %s\n", names[i], t, need,
                   (long)gb <= ram_gb(&cpu) ? "yes" : "no: too little RAM");
        }
        return 0;
    }
    if (strcmp(sub, "set")) {
        fprintf(stderr, "aria-core profile: unknown subcommand '%s' (list or set)\n", sub);
        return 2;
    }
    if (!name) {
        fprintf(stderr, "aria-core profile set: which profile? (minimal, efficient, balanced, "
                        "full, specialist_only)\n");
        return 2;
    }
    if (!ari_profile_tiers(name)) {
        fprintf(stderr, "aria-core profile set: unknown profile '%s' (minimal, efficient, "
                        "balanced, full, specialist_only)\n", name);
        return 2;
    }
    if (!o->config_path) {
        fprintf(stderr, "aria-core profile set: name the aria.ini to edit with --config FILE\n");
        return 2;
    }
    unsigned gb = ari_profile_min_ram_gb(name);
    if ((long)gb > ram_gb(&cpu)) {
        fprintf(stderr, "aria-core profile set: profile '%s' needs %u GB of RAM; this machine "
                        "has %ld GB\n", name, gb, ram_gb(&cpu));
        return 1;
    }
    /* the file must be valid before and after */
    ari_config *cfg = ari_config_new();
    if (!cfg || ari_config_load(cfg, o->config_path) != ARIA_OK) {
        for (size_t i = 0; cfg && i < ari_config_n_errors(cfg); i++)
            fprintf(stderr, "%s\n", ari_config_error(cfg, i));
        if (!cfg || ari_config_n_errors(cfg) == 0)
            fprintf(stderr, "aria-core profile set: cannot read %s\n", o->config_path);
        ari_config_free(cfg);
        return 1;
    }
    const char *old = ari_config_get(cfg, "profile", "name");
    char was[64];
    snprintf(was, sizeof was, "%s", old ? old : "efficient");
    ari_config_free(cfg);
    char err[4400];
    if (edit(o->config_path, name, err, sizeof err) != 0) {
        fprintf(stderr, "aria-core profile set: %s\n", err);
        return 1;
    }
    char t[64];
    ari_tier_list(ari_profile_tiers(name), t, sizeof t);
    printf("%s: profile %s -> %s (tiers: %s); restart the node to apply\n", o->config_path, was,
           name, t);
    return 0;
}
