/* Dispatcher entry point with explicit ops, for sinks that are not in the registry
 * (tests' slow or failing sinks). Internal to sinks/ and its tests. */
#ifndef SINK_DISPATCH_INTERNAL_H
#define SINK_DISPATCH_INTERNAL_H

#include "sink.h"

typedef struct sink_spec {
	const sink_ops *ops;
	const pipe_sink_cfg *cfg;     /* borrowed; must outlive the set */
} sink_spec;

/* Like sink_set_open() for n sinks given with their ops; specs may go after the call. */
int sink_set_open_with(const sink_spec *specs, int n, sink_set **ret);
/* sink_set_close() that also hands back each sink's final counters (final[i] for sink i,
 * sink_set_count() entries; NULL: none): where accepted == sent + dropped + failed holds. */
void sink_set_close_counted(sink_set **s, sink_counters *final);

#endif
