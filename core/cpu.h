/* cpu.h — the CPU detector built into aria-core: cpuid on x86, getauxval on
 * ARM, topology, caches and memory from sysfs and procfs under env's roots. */
#ifndef ARI_CPU_H
#define ARI_CPU_H

#include <aria/cpu.h>
#include <aria/detector.h>

/* Fills *out. ISA features come from the running CPU; everything read from
 * files comes from under env's roots (NULL env: the real /sys and /proc). */
aria_err ari_cpu_detect(const aria_detect_env *env, aria_cpu_info *out);

/* The features as space-separated lower-case names ("avx2 fma f16c"). */
const char *ari_cpu_feature_names(uint64_t features, char *buf, size_t cap);

/* The built-in detector (kind ARIA_DEV_CPU), registered like a plugin's. */
extern const aria_detector_vt ari_cpu_detector;

#endif
