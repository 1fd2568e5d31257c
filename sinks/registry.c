/* Every sink type, looked up by the name used in the config's `type:`. One row per type;
 * each row is the one object its sink_<type>.c exports. */
#include "sink.h"

#include <string.h>

extern const sink_ops sink_stdout_ops;
extern const sink_ops sink_file_ops;
extern const sink_ops sink_socket_ops;
extern const sink_ops sink_mqtt_ops;

static const sink_ops *const sink_registry[] = {
	&sink_stdout_ops,
	&sink_file_ops,
	&sink_socket_ops,
	&sink_mqtt_ops,
};

static const char *const type_names[] = {
	[PIPE_SINK_STDOUT] = "stdout",
	[PIPE_SINK_FILE] = "file",
	[PIPE_SINK_SOCKET] = "socket",
	[PIPE_SINK_MQTT] = "mqtt",
};

const sink_ops *sink_ops_find(const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < sizeof(sink_registry) / sizeof(sink_registry[0]); i++)
		if (strcmp(sink_registry[i]->type, type) == 0)
			return sink_registry[i];
	return NULL;
}

const char *sink_type_name(enum pipe_sink_type type)
{
	if ((unsigned)type >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[type];
}
