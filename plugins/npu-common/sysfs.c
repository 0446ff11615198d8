/* sysfs.c — bounded, cleaned reads for the NPU detectors. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, readlink, strnlen: also when built out of tree */
#endif
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

void npu_copy(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    clean(dst);
}

static int vfmt(char *dst, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, cap, fmt, ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int npu_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfmt(dst, cap, fmt, ap);
    va_end(ap);
    return rc;
}

int npu_path(char *dst, size_t cap, const char *root, const char *fmt, ...)
{
    size_t lr = strlen(root);
    if (lr >= cap) {
        dst[0] = '\0';
        return -1;
    }
    memcpy(dst, root, lr + 1);
    va_list ap;
    va_start(ap, fmt);
    int rc = vfmt(dst + lr, cap - lr, fmt, ap);
    va_end(ap);
    if (rc)
        dst[0] = '\0';
    return rc;
}

int npu_read_line(const char *path, char *buf, size_t cap)
{
    if (!cap)
        return -1;
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    /* A sysfs attribute is one read; a regular file may come in pieces. */
    size_t got = 0;
    while (got < cap - 1) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0 && got == 0) {
                close(fd);
                return -1;
            }
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    char *nl = memchr(buf, '\n', got);
    if (nl) {
        *nl = '\0';
        got = (size_t)(nl - buf);
    }
    /* An embedded NUL ends the text where C would see it end. */
    got = strlen(buf);
    while (got && (buf[got - 1] == ' ' || buf[got - 1] == '\t' || buf[got - 1] == '\r'))
        buf[--got] = '\0';
    clean(buf);
    return (int)got;
}

int npu_read_hex(const char *path, unsigned long max, unsigned long *out)
{
    *out = 0;
    char buf[32];
    if (npu_read_line(path, buf, sizeof buf) <= 0)
        return -1;
    const char *s = buf;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (!*s || strspn(s, "0123456789abcdefABCDEF") != strlen(s) || strlen(s) > 16)
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, NULL, 16);
    if (errno || v > max)
        return -1;
    *out = v;
    return 0;
}

int npu_link_name(const char *path, char *buf, size_t cap)
{
    char target[512];
    buf[0] = '\0';
    ssize_t n = readlink(path, target, sizeof target);
    if (n <= 0 || (size_t)n >= sizeof target)
        return -1;
    target[n] = '\0';
    while (n > 1 && target[n - 1] == '/')
        target[--n] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (!*base || strlen(base) >= cap)
        return -1;
    npu_copy(buf, cap, base);
    return 0;
}

int npu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int npu_try_open_rw(const char *path, char *err, size_t cap)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        close(fd);
        if (cap)
            err[0] = '\0';
        return 0;
    }
    int e = errno;
    npu_copy(err, cap, strerror(e));
    return e;
}
