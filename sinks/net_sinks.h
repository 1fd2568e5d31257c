/* The network sinks' rows for the sink registry (sinks/registry.c). */
#ifndef SINK_NET_SINKS_H
#define SINK_NET_SINKS_H

#include "sink.h"

/* address: tcp://, tcp-listen://, udp://, unix://, unix-listen:// */
extern const sink_ops sink_socket_ops;
/* broker: mqtt:// or mqtts://; topic template with {stream} and {pipeline} */
extern const sink_ops sink_mqtt_ops;

#endif
