/* config.h — aria.ini: the schema of every section and key, parsing with inih,
 * validation with file:line messages, command-line overrides, and lookups.
 *
 * Life: ari_config_new() fills every default; ari_config_load() reads a file
 * on top (recording one message per problem); ari_config_set() applies a
 * command-line override; ari_config_get() answers lookups (also through
 * aria_host.config_get). Plugin sections [plugin.NAME] are kept as read and
 * validated once the plugin declares its keys (ari_config_add_plugin_schema). */
#ifndef ARI_CONFIG_H
#define ARI_CONFIG_H

#include <aria/plugin.h>
#include <stdio.h>

typedef struct ari_config ari_config;

ari_config *ari_config_new(void);
void ari_config_free(ari_config *cfg);

/* Reads path over the current values. Every problem (syntax, unknown section
 * or key, wrong type, out of range) is recorded as one message of the form
 *     "PATH:LINE: [section] key: problem"
 * and the bad value is not applied. Returns ARIA_OK when there was none,
 * ARIA_ERR_IO if the file cannot be read, else ARIA_ERR_INVALID. */
aria_err ari_config_load(ari_config *cfg, const char *path);

/* Applies one override (from a command-line flag) after validating it like a
 * file value; on error writes "--flag: [section] key: problem"-style text. */
aria_err ari_config_set(ari_config *cfg, const char *section, const char *key,
                        const char *value, aria_msg *why);

/* The effective value, or NULL if unset / unknown. Valid until the next
 * load, set or free on cfg. */
const char *ari_config_get(const ari_config *cfg, const char *section,
                           const char *key);
long long ari_config_get_int(const ari_config *cfg, const char *section,
                             const char *key, long long fallback);
int ari_config_get_bool(const ari_config *cfg, const char *section,
                        const char *key, int fallback);
double ari_config_get_double(const ari_config *cfg, const char *section,
                             const char *key, double fallback);
/* True when the comma-separated list [section] key holds item. */
int ari_config_list_has(const ari_config *cfg, const char *section,
                        const char *key, const char *item);

/* Registers the keys of [plugin.NAME]; validates what the file held for that
 * section (messages as for load) and fills defaults. */
aria_err ari_config_add_plugin_schema(ari_config *cfg, const char *plugin,
                                      const aria_cfg_key *keys, size_t n);

/* Problems recorded so far, in order. */
size_t ari_config_n_errors(const ari_config *cfg);
const char *ari_config_error(const ari_config *cfg, size_t i);

/* Writes the effective configuration as INI (every section and key, with the
 * source of each value: default, file:line or command line). */
void ari_config_dump(const ari_config *cfg, FILE *out);

/* The built-in schema, for documentation checks: entry i of count. */
size_t ari_config_schema_count(void);
void ari_config_schema_at(size_t i, const char **section, const char **key, const char **def,
                          const char **help);

/* One key of the built-in schema, in full. */
typedef struct ari_config_key_info {
    const char *section, *key;
    uint32_t type;       /* aria_cfg_type */
    const char *def;     /* default as text; "" = empty */
    double min, max;     /* for INT and DOUBLE */
    const char *choices; /* ENUM: "a|b|c"; a LIST whose items are restricted: the
                            same; else NULL */
    const char *unit;    /* "s", "MiB", "%", ...; "" when none */
    const char *help;    /* one line */
} ari_config_key_info;

/* Entry i of ari_config_schema_count(), or NULL past the end. */
const ari_config_key_info *ari_config_schema_key(size_t i);

/* After every plugin declared its keys: records one message per [plugin.NAME]
 * section that no plugin claimed ("PATH:LINE: [plugin.x] no plugin named 'x'
 * is loaded"), so a misspelt plugin name does not go unnoticed. Returns
 * ARIA_OK when there was none, else ARIA_ERR_NOT_FOUND. */
aria_err ari_config_check_unclaimed(ari_config *cfg);

/* [consent] schedule: true when minute_of_day (0..1439, local time) falls in
 * one of its windows ("always", or "HH:MM-HH:MM,..." where a window whose
 * end is before its start crosses midnight). False for an invalid schedule,
 * so a value that somehow escaped validation grants nothing. */
int ari_config_schedule_allows(const char *schedule, int minute_of_day);

/* The path last loaded, or NULL. */
const char *ari_config_path(const ari_config *cfg);

#endif
