/* MQTT topic templates such as "vapd/{pipeline}/{stream}/{kind}": checked once at
 * start-up, expanded per message into a caller buffer without allocating. */
#ifndef SINK_NET_TOPIC_H
#define SINK_NET_TOPIC_H

#include <stddef.h>

#define NET_TOPIC_MAX_PARTS 16

typedef struct net_topic {
	char text[256];               /* the template */
	struct { int var; unsigned short off, len; } part[NET_TOPIC_MAX_PARTS];
	int n_parts;
} net_topic;

enum { NET_TOPIC_LITERAL = 0, NET_TOPIC_STREAM, NET_TOPIC_PIPELINE, NET_TOPIC_KIND };

/* -EINVAL with the reason in err for an empty or too long template, an unknown or
 * unclosed {placeholder}, or MQTT wildcards (+ #) that a publish topic may not hold. */
int net_topic_parse(const char *tpl, net_topic *t, char *err, size_t errlen);
/* Writes the topic for one message into out ({kind}: "frames", "events" or "eos");
 * -ENAMETOOLONG when it does not fit, -EINVAL when a substituted value holds a wildcard
 * or is empty. */
int net_topic_expand(const net_topic *t, const char *stream, const char *pipeline, const char *kind,
                     char *out, size_t outlen);

#endif
