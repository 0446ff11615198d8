/* aria/aria.h — everything a plugin needs, in one include.
 *
 * A plugin includes this, fills a static const aria_plugin_desc listing its
 * interfaces, and ends with ARIA_PLUGIN(desc). See docs/plugins.md and
 * sdk/examples/hello-backend. */
#ifndef ARIA_ARIA_H
#define ARIA_ARIA_H

#include "common.h"
#include "cpu.h"
#include "host.h"
#include "plugin.h"
#include "backend.h"
#include "transport.h"
#include "ledger.h"
#include "detector.h"
#include "kernel.h"

#define ARIA_VERSION_STRING "0.1.0"

#endif /* ARIA_ARIA_H */
