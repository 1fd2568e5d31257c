#include "events.h"

const char *an_event_name(enum an_event_kind kind)
{
	/* The names are the "event" values of output-schema.md; never NULL, so a caller
	 * formatting a message cannot crash on a corrupt kind. */
	switch (kind) {
	case AN_EV_TRACK_START: return "track_start";
	case AN_EV_TRACK_END: return "track_end";
	case AN_EV_ZONE_ENTER: return "zone_enter";
	case AN_EV_ZONE_EXIT: return "zone_exit";
	case AN_EV_LINE_CROSS: return "line_cross";
	}
	return "unknown";
}
