/* log.h — the node's log: one line per event on stderr, "LEVEL who: text". */
#ifndef ARI_LOG_H
#define ARI_LOG_H

#include <aria/common.h>

#include <stdarg.h>

void ari_log(aria_log_level level, const char *who, const char *fmt, ...)
    ARIA_PRINTF(3, 4);
void ari_logv(aria_log_level level, const char *who, const char *fmt,
              va_list ap);
/* Lines above `level` are dropped. Default ARIA_LOG_INFO. */
void ari_log_set_level(aria_log_level level);
aria_log_level ari_log_get_level(void);
/* Parses "error|warn|info|debug"; -1 if none of them. */
int ari_log_level_parse(const char *s);

#define ari_error(who, ...) ari_log(ARIA_LOG_ERROR, who, __VA_ARGS__)
#define ari_warn(who, ...) ari_log(ARIA_LOG_WARN, who, __VA_ARGS__)
#define ari_info(who, ...) ari_log(ARIA_LOG_INFO, who, __VA_ARGS__)
#define ari_debug(who, ...) ari_log(ARIA_LOG_DEBUG, who, __VA_ARGS__)

#endif
