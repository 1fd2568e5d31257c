#include "net_topic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const vars[] = { [NET_TOPIC_STREAM] = "stream", [NET_TOPIC_PIPELINE] = "pipeline",
                                    [NET_TOPIC_KIND] = "kind" };

static int add_part(net_topic *t, int var, size_t off, size_t len, char *err, size_t errlen)
{
	if (t->n_parts == NET_TOPIC_MAX_PARTS) {
		snprintf(err, errlen, "topic '%s' has more than %d parts", t->text,
		         NET_TOPIC_MAX_PARTS);
		return -EINVAL;
	}
	t->part[t->n_parts].var = var;
	t->part[t->n_parts].off = (unsigned short)off;
	t->part[t->n_parts].len = (unsigned short)len;
	t->n_parts++;
	return 0;
}

static int parse_var(net_topic *t, size_t at, size_t *next, char *err, size_t errlen)
{
	const char *s = t->text;
	const char *close = strchr(s + at, '}');
	if (!close) {
		snprintf(err, errlen, "topic '%s': unclosed '{' at offset %zu", s, at);
		return -EINVAL;
	}
	size_t len = (size_t)(close - (s + at + 1));
	for (int v = NET_TOPIC_STREAM; v <= NET_TOPIC_KIND; v++) {
		if (strlen(vars[v]) == len && strncmp(s + at + 1, vars[v], len) == 0) {
			*next = (size_t)(close - s) + 1;
			return add_part(t, v, 0, 0, err, errlen);
		}
	}
	snprintf(err, errlen, "topic '%s': unknown placeholder '{%.*s}' (known: {stream}, "
	         "{pipeline}, {kind})", s, (int)len, s + at + 1);
	return -EINVAL;
}

int net_topic_parse(const char *tpl, net_topic *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (!tpl || !*tpl) {
		snprintf(err, errlen, "empty topic");
		return -EINVAL;
	}
	if (strlen(tpl) >= sizeof(t->text)) {
		snprintf(err, errlen, "topic '%.40s...' longer than %zu bytes", tpl, sizeof(t->text) - 1);
		return -EINVAL;
	}
	strcpy(t->text, tpl);
	size_t i = 0, lit = 0;
	while (t->text[i]) {
		char c = t->text[i];
		if (c == '+' || c == '#') {
			snprintf(err, errlen, "topic '%s': wildcard '%c' is not allowed when publishing",
			         tpl, c);
			return -EINVAL;
		}
		if (c == '}') {
			snprintf(err, errlen, "topic '%s': '}' without '{' at offset %zu", tpl, i);
			return -EINVAL;
		}
		if (c != '{') {
			i++;
			continue;
		}
		int rc = 0;
		if (i > lit)
			rc = add_part(t, NET_TOPIC_LITERAL, lit, i - lit, err, errlen);
		if (rc == 0)
			rc = parse_var(t, i, &i, err, errlen);
		if (rc < 0)
			return rc;
		lit = i;
	}
	if (i > lit)
		return add_part(t, NET_TOPIC_LITERAL, lit, i - lit, err, errlen);
	return 0;
}

int net_topic_expand(const net_topic *t, const char *stream, const char *pipeline, const char *kind,
                     char *out, size_t outlen)
{
	size_t n = 0;
	for (int i = 0; i < t->n_parts; i++) {
		const char *p = t->text + t->part[i].off;
		size_t len = t->part[i].len;
		if (t->part[i].var != NET_TOPIC_LITERAL) {
			p = t->part[i].var == NET_TOPIC_STREAM ? stream :
			    t->part[i].var == NET_TOPIC_PIPELINE ? pipeline : kind;
			if (!p || !*p || strpbrk(p, "+#"))
				return -EINVAL;
			len = strlen(p);
		}
		if (n + len >= outlen)
			return -ENAMETOOLONG;
		memcpy(out + n, p, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}
