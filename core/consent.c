/* consent.c — what this node gives to work from peers. */
#include "consent.h"

#include "config.h"

#include <stdio.h>
#include <string.h>

uint32_t ari_consent_threads(uint32_t n_threads, uint32_t cores, int cpu_percent)
{
    uint64_t t = (uint64_t)cores * (uint64_t)(cpu_percent > 0 ? cpu_percent : 1) / 100;
    if (t < 1)
        t = 1;
    if (n_threads && t > n_threads)
        t = n_threads;
    return (uint32_t)t;
}

void ari_consent_load(ari_consent *k, const ari_ctx *c)
{
    memset(k, 0, sizeof *k);
    k->cpu_percent = (int)ari_config_get_int(c->cfg, "consent", "cpu_percent", 50);
    k->max_ram_bytes =
        (uint64_t)ari_config_get_int(c->cfg, "consent", "max_ram_mb", 4096) << 20;
    const char *s = ari_config_get(c->cfg, "consent", "schedule");
    snprintf(k->schedule, sizeof k->schedule, "%s", s ? s : "always");
    s = ari_config_get(c->cfg, "consent", "task_types");
    snprintf(k->tasks, sizeof k->tasks, "%s", s ? s : "");
    k->apply_local = ari_config_get_bool(c->cfg, "consent", "apply_to_local", 0);
    k->threads = ari_consent_threads(c->n_threads, c->cpu.cores_logical, k->cpu_percent);
}

int ari_consent_minute(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_hour * 60 + tm.tm_min;
}

static int has_task(const char *list, const char *task)
{
    size_t n = strlen(task);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t l = strcspn(p, ", ");
        if (l == n && !strncmp(p, task, n))
            return 1;
        p += l;
    }
    return 0;
}

int ari_consent_allows(const ari_consent *k, const char *task, uint64_t model_bytes,
                       int minute_of_day, char *why, size_t cap)
{
    if (!has_task(k->tasks, task)) {
        snprintf(why, cap, "this node does not accept %s work from peers ([consent] task_types = %s)",
                 task, k->tasks[0] ? k->tasks : "(none)");
        return -1;
    }
    if (!ari_config_schedule_allows(k->schedule, minute_of_day)) {
        snprintf(why, cap, "outside this node's hours for peers' work ([consent] schedule = %s; "
                 "it is %02d:%02d here)", k->schedule, minute_of_day / 60, minute_of_day % 60);
        return -1;
    }
    if (model_bytes > k->max_ram_bytes) {
        snprintf(why, cap, "the model needs %llu MiB, more than this node gives peers ([consent] "
                 "max_ram_mb = %llu)", (unsigned long long)((model_bytes + (1 << 20) - 1) >> 20),
                 (unsigned long long)(k->max_ram_bytes >> 20));
        return -1;
    }
    return 0;
}
