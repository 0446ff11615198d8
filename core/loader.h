/* loader.h — finds plugin .so files, dlopens them, checks their ABI and
 * slots, runs their init and registers them. A file that fails any check is
 * reported in one line naming the file and the reason, and skipped. */
#ifndef ARI_LOADER_H
#define ARI_LOADER_H

#include "config.h"
#include "registry.h"

/* Loads one file. On refusal returns an error with the reason in *why (the
 * caller reports it); the library is closed again. cfg may be NULL (then no
 * enable/disable filter and no plugin config schema). */
aria_err ari_load_file(ari_registry *reg, const char *path,
                       const aria_host *host, ari_config *cfg, aria_msg *why);

/* Loads every *.so under dir, recursively, in sorted path order. Each
 * refusal is logged as a warning "PATH: reason" and recorded in reg. Returns
 * the number of plugins loaded, or -1 if dir itself cannot be read (with the
 * reason in *why). */
int ari_load_dir(ari_registry *reg, const char *dir, const aria_host *host,
                 ari_config *cfg, aria_msg *why);

#endif
