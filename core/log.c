/* log.c — writes each log line with one write(2), so lines from threads and
 * plugins never interleave mid-line. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int log_level = ARIA_LOG_INFO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void ari_log_set_level(aria_log_level level) { atomic_store(&log_level, (int)level); }
aria_log_level ari_log_get_level(void) { return (aria_log_level)atomic_load(&log_level); }

int ari_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, log_names[i]) == 0)
            return i;
    return -1;
}

void ari_log(aria_log_level level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ari_logv(level, who, fmt, ap);
    va_end(ap);
}

void ari_logv(aria_log_level level, const char *who, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load(&log_level))
        return;
    char line[1024];
    int lvl = (level >= ARIA_LOG_ERROR && level <= ARIA_LOG_DEBUG) ? (int)level : ARIA_LOG_ERROR;
    int n = snprintf(line, sizeof line, "%-5s %s: ", log_names[lvl], who ? who : "aria");
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
