/* See LICENSE file for copyright and license details. */
/*
 * warn() for the targets whose code must not report: ipc_parse()
 * and the line framing return their errors.  A call aborts, and libFuzzer
 * keeps the input that made it.
 */
#include <stdlib.h>

#include "nodesockd.h"

void
warn(const char *fmt, ...)
{
	(void)fmt;
	abort();
}
