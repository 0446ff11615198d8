/* sysfs.h — bounded reads of sysfs and /dev for the NPU detectors.
 *
 * Detectors read files they do not control (and tests feed them junk on
 * purpose), so every read here is bounded by the caller's buffer, every
 * result is NUL-terminated and printable, and nothing follows a path that
 * does not fit. Compiled into each NPU plugin, like ffi_call.c. */
#ifndef NPU_SYSFS_H
#define NPU_SYSFS_H

#include <aria/common.h>

#include <stddef.h>

/* Copies src into dst (cap bytes), cut at cap - 1, control characters and
 * DEL turned into '?'. A NULL src gives "". */
void npu_copy(char *dst, size_t cap, const char *src);

/* printf into dst without a warning about what it cuts: the fields of
 * aria_device are fixed-size and a long value is cut, not an error.
 * Returns 0, or -1 when the text did not fit. */
int npu_fmt(char *dst, size_t cap, const char *fmt, ...) ARIA_PRINTF(3, 4);

/* root followed by the formatted rest ("/sys" + "/class/accel/%s").
 * Returns -1 (and dst "") when the path does not fit: never a cut path. */
int npu_path(char *dst, size_t cap, const char *root, const char *fmt, ...) ARIA_PRINTF(4, 5);

/* The first line of a small text file, without its trailing white space,
 * cut to cap - 1 bytes and cleaned as by npu_copy. Returns the length, or
 * -1 (buf "") when the file cannot be read. */
int npu_read_line(const char *path, char *buf, size_t cap);

/* A sysfs number like "0x7d1d\n": hexadecimal, with or without 0x, at most
 * max. Returns 0, or -1 (and *out 0) for a missing file or anything else. */
int npu_read_hex(const char *path, unsigned long max, unsigned long *out);

/* The last component of the symlink at path ("intel_vpu" for
 * .../drivers/intel_vpu). Returns 0, or -1 (buf "") when it is not a
 * readable link or its target does not fit. */
int npu_link_name(const char *path, char *buf, size_t cap);

/* Whether path exists (any type, symlinks followed). */
int npu_exists(const char *path);

/* Opens path read-write and closes it again: what using the device will
 * need. Returns 0, else the errno, with a short reason in err. */
int npu_try_open_rw(const char *path, char *err, size_t cap);

#endif
