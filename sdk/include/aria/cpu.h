/* aria/cpu.h — what the host knows of the CPU it runs on.
 *
 * Filled by the CPU detector built into aria-core and handed to plugins through
 * aria_host.cpu; kernel variants score themselves against it. */
#ifndef ARIA_CPU_H
#define ARIA_CPU_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ISA feature bits (aria_cpu_info.features, uint64_t). The values are ABI:
 * never renumber, only add. */
/* x86 */
#define ARIA_CPU_SSE42         (1ull << 0)
#define ARIA_CPU_AVX           (1ull << 1)
#define ARIA_CPU_AVX2          (1ull << 2)
#define ARIA_CPU_FMA           (1ull << 3)
#define ARIA_CPU_F16C          (1ull << 4)
#define ARIA_CPU_AVX512F       (1ull << 5)
#define ARIA_CPU_AVX512BW      (1ull << 6)
#define ARIA_CPU_AVX512VL      (1ull << 7)
#define ARIA_CPU_AVX512VNNI    (1ull << 8)
#define ARIA_CPU_AVX512BF16    (1ull << 9)
#define ARIA_CPU_AVXVNNI       (1ull << 10)
#define ARIA_CPU_AMX_TILE      (1ull << 11)
#define ARIA_CPU_AMX_INT8      (1ull << 12)
#define ARIA_CPU_AMX_BF16      (1ull << 13)
#define ARIA_CPU_SSSE3         (1ull << 14)
#define ARIA_CPU_AVX512DQ      (1ull << 15)
/* ARM */
#define ARIA_CPU_NEON          (1ull << 32)
#define ARIA_CPU_DOTPROD       (1ull << 33)
#define ARIA_CPU_I8MM          (1ull << 34)
#define ARIA_CPU_SVE           (1ull << 35)
#define ARIA_CPU_SVE2          (1ull << 36)
#define ARIA_CPU_FP16          (1ull << 37)

typedef enum aria_arch {
    ARIA_ARCH_UNKNOWN = 0,
    ARIA_ARCH_X86_64 = 1,
    ARIA_ARCH_AARCH64 = 2
} aria_arch;

typedef struct aria_cpu_info {
    aria_vt_hdr hdr;          /* struct_size = sizeof(aria_cpu_info), version 1 */
    uint32_t arch;            /* aria_arch */
    uint32_t cores_physical;  /* distinct (package, core) pairs; 0 if unknown */
    uint32_t cores_logical;   /* online logical CPUs */
    uint32_t reserved0;
    uint64_t features;        /* ARIA_CPU_* bits that the OS also enables */
    uint64_t l1d_bytes;       /* per core; 0 if unknown */
    uint64_t l2_bytes;        /* per core (or per cluster, as sysfs says) */
    uint64_t l3_bytes;        /* per package */
    uint64_t ram_bytes;       /* total physical memory */
    uint64_t ram_avail_bytes; /* MemAvailable when detected */
    char vendor[32];          /* "GenuineIntel", "AuthenticAMD", "ARM", ... */
    char model[96];           /* brand string or /proc/cpuinfo model name */
} aria_cpu_info;

ARIA_PIN(aria_cpu_info, arch, 8);
ARIA_PIN(aria_cpu_info, features, 24);
ARIA_PIN(aria_cpu_info, ram_bytes, 56);
ARIA_PIN(aria_cpu_info, vendor, 72);
ARIA_PIN(aria_cpu_info, model, 104);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_CPU_H */
