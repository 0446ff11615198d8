/* err.c — aria_strerror and aria_fail: the error vocabulary every component shares. */
#include <aria/common.h>

#include <stdarg.h>
#include <stdio.h>

const char *aria_strerror(aria_err e)
{
    switch (e) {
    case ARIA_OK: return "ok";
    case ARIA_ERR_NOMEM: return "out of memory";
    case ARIA_ERR_INVALID: return "invalid argument";
    case ARIA_ERR_IO: return "I/O error";
    case ARIA_ERR_FORMAT: return "malformed data";
    case ARIA_ERR_UNSUPPORTED: return "not supported";
    case ARIA_ERR_NOT_FOUND: return "not found";
    case ARIA_ERR_RANGE: return "out of range";
    case ARIA_ERR_CANCELLED: return "cancelled";
    case ARIA_ERR_BUSY: return "busy";
    case ARIA_ERR_TIMEOUT: return "timed out";
    case ARIA_ERR_CLOSED: return "closed";
    case ARIA_ERR_PERMISSION: return "permission denied";
    case ARIA_ERR_EXISTS: return "already exists";
    case ARIA_ERR_ABI: return "ABI mismatch";
    case ARIA_ERR_CONTEXT: return "context window full";
    case ARIA_ERR_SIGNATURE: return "bad signature or hash";
    case ARIA_ERR_UNAVAILABLE: return "not available";
    case ARIA_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

aria_err aria_fail(aria_msg *msg, aria_err e, const char *fmt, ...)
{
    if (msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg->text, sizeof msg->text, fmt, ap);
        va_end(ap);
    }
    return e;
}
