/* cmds.h — the subcommands of aria-core. Each takes its own argv (argv[0] is
 * the subcommand's name) and returns the process exit status: 0 success,
 * 1 failure, 2 bad usage. */
#ifndef ARI_CMDS_H
#define ARI_CMDS_H

#include <aria/detector.h>
#include <stdio.h>

#include "node.h"

int ari_cmd_plugins(int argc, char **argv, const ari_opts *o);
int ari_cmd_hardware(int argc, char **argv, const ari_opts *o);
int ari_cmd_config(int argc, char **argv, const ari_opts *o);
int ari_cmd_run(int argc, char **argv, const ari_opts *o);
int ari_cmd_model(int argc, char **argv, const ari_opts *o);
int ari_cmd_tokenize(int argc, char **argv);
int ari_cmd_quantize(int argc, char **argv);
int ari_cmd_bench(int argc, char **argv, const ari_opts *o);
int ari_cmd_profile(int argc, char **argv, const ari_opts *o);
int ari_cmd_ledger(int argc, char **argv, const ari_opts *o);

/* Prints the CPU and every device the detectors report (text or JSON). */
int ari_hardware_print(FILE *out, int json, const aria_detect_env *env,
                       const aria_detector_vt *const *dets, void *const *ctxs,
                       size_t n_dets);

#endif
