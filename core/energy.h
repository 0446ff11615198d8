/* energy.h — "Proof of Sobriety": the energy of one inference.
 *
 * Measured where the machine has RAPL counters that this process may read
 * (the powercap zones intel-rapl:N, one per CPU package, each a cumulative
 * microjoule counter that wraps at max_energy_range_uj); estimated elsewhere
 * from the process's CPU time at a per-busy-core power figure. On many
 * systems the counters are root-only (a side channel), so "estimated" is the
 * common case and every figure says which it is.
 *
 * An ari_energy is filled once by ari_energy_init and only read afterwards:
 * any number of threads may mark and measure with the same one at once.
 * Nothing here logs; the caller decides what to say about *why. */
#ifndef ARI_ENERGY_H
#define ARI_ENERGY_H

#include <aria/common.h>
#include <aria/ledger.h>

#include <stdint.h>

/* The most packages summed; zones beyond it are ignored (with a word in
 * why). Machines with RAPL have 1 to 8. */
#define ARI_ENERGY_MAX_PACKAGES       16
/* Room for ROOT/intel-rapl:N/energy_uj; a longer root gives no zones. */
#define ARI_ENERGY_PATH_MAX           512
/* The per-busy-core figure used when the caller's is negative or not a
 * number (the [ledger] core_watts default). */
#define ARI_ENERGY_DEFAULT_CORE_WATTS 15.0
/* The largest max_energy_range_uj taken (2^58 uJ, a million times today's
 * 262 kJ): the sums of all packages' counters and ranges then stay far below
 * INT64_MAX, so deltas are computed without overflow. */
#define ARI_ENERGY_MAX_RANGE_UJ       ((uint64_t)1 << 58)
/* mark.uj when the counters could not be read at the mark (or are not in
 * use): energy since such a mark is estimated. A real sum never gets near
 * it. */
#define ARI_ENERGY_NO_READING         UINT64_MAX

typedef struct ari_energy_pkg {
    char path[ARI_ENERGY_PATH_MAX]; /* its energy_uj */
    uint64_t range_uj;              /* max_energy_range_uj: the counter wraps to 0 there */
} ari_energy_pkg;

/* Caller-allocated (about 8 KiB); read-only after ari_energy_init. */
typedef struct ari_energy {
    ari_energy_pkg pkg[ARI_ENERGY_MAX_PACKAGES];
    size_t n_pkg;      /* 0: estimating */
    double core_watts; /* for estimates */
} ari_energy;

typedef struct ari_energy_mark {
    uint64_t uj;      /* sum of the packages' counters, or ARI_ENERGY_NO_READING */
    uint64_t cpu_ns;  /* CLOCK_PROCESS_CPUTIME_ID: every thread of the process */
    uint64_t wall_ns; /* CLOCK_MONOTONIC, for the caller's latency */
} ari_energy_mark;

/* Probes RAPL under root (normally "/sys/class/powercap"): every zone
 * directory named intel-rapl:N (top-level packages only, not intel-rapl:N:M
 * subzones, and not a zone whose name file says "psys": that is the whole
 * platform, packages included, and would count them twice) whose energy_uj
 * and max_energy_range_uj hold plain decimal numbers, the range in
 * [1, ARI_ENERGY_MAX_RANGE_UJ] and the counter below it. A zone failing any of this is ignored and
 * why says which and why. core_watts is the per-busy-core figure for estimates (>= 0; negative or
 * not a number: ARI_ENERGY_DEFAULT_CORE_WATTS). Logs nothing; *why (may be NULL) says in one line
 * what was found or why not. */
void ari_energy_init(ari_energy *e, const char *root, double core_watts, aria_msg *why);

/* 1: RAPL counters in use. */
int ari_energy_measured(const ari_energy *e);

/* The RAPL sum over packages (uJ; ARI_ENERGY_NO_READING when not measured
 * or a counter cannot be read now), process CPU time and monotonic wall
 * time. Reads the counter files, so it costs a few syscalls per package. */
void ari_energy_mark_now(const ari_energy *e, ari_energy_mark *m);

/* Energy since m in millijoules (rounded to nearest), with *source (may be
 * NULL) set to ARIA_ENERGY_MEASURED or ARIA_ENERGY_ESTIMATED.
 *
 * share in (0,1] is this inference's part of the machine's work over the
 * interval (the caller passes 1 / concurrent requests); outside it, or NaN,
 * it is taken as 1: charging too much is safer than reporting work as free.
 *
 * Measured (the counters read at m and now): their delta times share. A
 * mark holds only the sum, so a wrap shows as a sum that fell; it is undone
 * by adding the smallest total of the ranges of distinct packages that
 * makes the delta non-negative. That is exact when the packages' ranges are
 * equal (as on any one CPU model) and the interval's energy is below one
 * range (262 kJ on current Intel parts: over 20 minutes of a 200 W
 * package); with unequal ranges a wrap may be undercounted by a difference
 * of two ranges, never overcounted.
 *
 * Estimated (no RAPL, or a counter unreadable at m or now): the process's
 * CPU seconds over the interval (which already counts the busy cores) times
 * core_watts times share.
 *
 * Never negative; no state changes, so any thread may call it. */
uint64_t ari_energy_since(const ari_energy *e, const ari_energy_mark *m, double share,
                          uint32_t *source);

#endif
