/* The command-line pipeline is written as YAML and loaded through the same parser and
 * checks as a file, so it cannot accept what a file would refuse. */
#include "quick.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vp_err.h"

enum { QUICK_TEXT_MAX = 16384, QUICK_ID_MAX = 64 };

/* A double-quoted YAML scalar. */
static int quoted(FILE *f, const char *v)
{
	fputc('"', f);
	for (const char *p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
	return 0;
}

/* The stream id: the source's file name without extension, in the id alphabet. */
static void stream_id(const char *uri, char *id)
{
	const char *base = strrchr(uri, '/');
	base = base && base[1] ? base + 1 : uri;
	size_t n = 0;
	for (const char *p = base; *p && *p != '.' && *p != '?' && n < QUICK_ID_MAX - 1; p++) {
		unsigned char ch = (unsigned char)*p;
		id[n++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		          ch == '-' || ch == '_' ? (char)ch : '_';
	}
	id[n] = '\0';
	if (n == 0)
		strcpy(id, "cam1");
}

static char *beside_model(const char *model)
{
	char *copy = strdup(model);
	if (!copy)
		return NULL;
	size_t len = strlen(copy) + 16;
	char *path = malloc(len);
	if (path)
		snprintf(path, len, "%s/coco.names", dirname(copy));
	free(copy);
	if (path && access(path, R_OK) != 0) {
		free(path);
		return NULL;
	}
	return path;
}

static int write_yaml(FILE *f, const pipe_quick_opts *o, const char *labels)
{
	char id[QUICK_ID_MAX];
	stream_id(o->source, id);
	bool net = strstr(o->source, "://") && strncmp(o->source, "file://", 7) != 0;
	fputs("http: { listen: ", f);
	quoted(f, o->http ? o->http : "127.0.0.1:9464");
	fputs(" }\nsources:\n  - id: ", f);
	quoted(f, id);
	fputs("\n    uri: ", f);
	quoted(f, o->source);
	/* A file plays at its own speed, as a person watching it expects. */
	fprintf(f, "\n    realtime: %s\nmodel:\n  path: ", net ? "false" : "true");
	quoted(f, o->model);
	fputs("\n  family: auto\n", f);
	if (labels) {
		fputs("  labels: ", f);
		quoted(f, labels);
		fputc('\n', f);
	}
	fputs("tracker: {}\nsinks:\n  - type: stdout\n", f);
	return ferror(f) ? -EIO : 0;
}

int pipe_quick_config(const pipe_quick_opts *o, FILE *err, pipe_config **ret)
{
	char *labels = o->labels ? strdup(o->labels) : beside_model(o->model);
	char *text = NULL;
	size_t len = 0;
	int rc = -ENOMEM;
	FILE *f = open_memstream(&text, &len);
	if (!f || (o->labels && !labels))
		goto out;
	rc = write_yaml(f, o, labels);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	f = NULL;
	if (rc == 0)
		rc = pipe_config_load_text("command line", text, err, ret);
out:
	if (f)
		fclose(f);
	free(text);
	free(labels);
	return rc;
}
