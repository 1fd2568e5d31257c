/* Reads the pipeline file into libyaml's document tree; syntax errors are reported with their
 * position. The file is read into memory first: it is parsed twice (a nesting check, then the
 * load), also when it is a pipe. */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bigger than any pipeline; a hostile or mistaken file (a video) is refused before parsing. */
#define CFG_FILE_MAX (16u << 20)

/* libyaml's reader (bad UTF-8, control characters) gives a byte offset, not a mark. Lines end at
 * \n, \r\n or \r as in libyaml; columns count characters. */
static pipe_pos offset_pos(const unsigned char *text, size_t len, size_t offset)
{
	pipe_pos p = { 1, 1 };
	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n')))
			p.line++, p.col = 1;
		else if (text[i] != '\r' && (text[i] & 0xc0) != 0x80)
			p.col++;
	}
	return p;
}

static void syntax_error(cfg_ctx *c, yaml_parser_t *parser, const unsigned char *text, size_t len)
{
	if (parser->error == YAML_READER_ERROR) {
		char value[16] = "";
		if (parser->problem_value >= 0)
			snprintf(value, sizeof(value), " (#x%02X)", (unsigned)parser->problem_value);
		cfg_error(c, offset_pos(text, len, parser->problem_offset), "(syntax)", "%s%s",
		          parser->problem ? parser->problem : "invalid input", value);
		return;
	}
	char where[64] = "";
	if (parser->context)
		snprintf(where, sizeof(where), " at line %d", (int)parser->context_mark.line + 1);
	cfg_error(c, cfg_mark_pos(parser->problem_mark), "(syntax)", "%s%s%s%s%s",
	          parser->problem ? parser->problem : "invalid YAML", parser->context ? " (" : "",
	          parser->context ? parser->context : "", where, parser->context ? ")" : "");
}

/* A second "---" document would be ignored silently: the file is meant to hold one pipeline. */
static int no_second_document(cfg_ctx *c, yaml_parser_t *parser, const unsigned char *text,
                              size_t len)
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next)) {
		syntax_error(c, parser, text, len);
		return parser->error == YAML_MEMORY_ERROR ? (c->oom = 1, -ENOMEM) : -EINVAL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&next);
	if (root)
		cfg_error(c, cfg_mark_pos(next.start_mark), "(syntax)", "only one YAML document per file");
	yaml_document_delete(&next);
	return root ? -EINVAL : 0;
}

/* libyaml's scanner rechecks every open flow level at each token, so its time grows with the
 * square of the nesting (a 200 KB file of 100k "[" took 45 s), and no key of the table is nested
 * more than a few levels. A first pass over the events stops at the first collection deeper than
 * CFG_MAX_DEPTH; its syntax errors are left to the load, which reports them. */
static int check_depth(cfg_ctx *c, const unsigned char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	if (!yaml_parser_initialize(&parser))
		return c->oom = 1, -ENOMEM;
	yaml_parser_set_input_string(&parser, text, len);
	int depth = 0, r = 0, done = 0;
	while (!done && r == 0 && yaml_parser_parse(&parser, &ev)) {
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		if (depth > CFG_MAX_DEPTH) {
			cfg_error(c, cfg_mark_pos(ev.start_mark), "(syntax)", "nested deeper than %d levels",
			          CFG_MAX_DEPTH);
			r = -EINVAL;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return r;
}

static int read_all(cfg_ctx *c, FILE *f, unsigned char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	unsigned char *buf = NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 64 << 10;
			unsigned char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				return c->oom = 1, -ENOMEM;
			}
			buf = b;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > CFG_FILE_MAX || (n == 0 && ferror(f))) {
			cfg_error(c, (pipe_pos){ 1, 1 }, "(file)", "cannot read: %s",
			          len > CFG_FILE_MAX ? "larger than 16 MiB" : strerror(errno));
			free(buf);
			return -EINVAL;
		}
		if (n == 0)
			break;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int load(cfg_ctx *c, const unsigned char *text, size_t len, yaml_document_t *doc)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return c->oom = 1, -ENOMEM;
	yaml_parser_set_input_string(&parser, text, len);
	int r = 0;
	if (!yaml_parser_load(&parser, doc)) {
		syntax_error(c, &parser, text, len);
		r = parser.error == YAML_MEMORY_ERROR ? (c->oom = 1, -ENOMEM) : -EINVAL;
	} else {
		r = no_second_document(c, &parser, text, len);
		if (r < 0)
			yaml_document_delete(doc);
	}
	yaml_parser_delete(&parser);
	return r;
}

int cfg_parse_file(cfg_ctx *c, const char *path, yaml_document_t *doc)
{
	FILE *f = c->text ? fmemopen((void *)c->text, strlen(c->text), "rb") : fopen(path, "rb");
	if (!f) {
		cfg_error(c, (pipe_pos){ 1, 1 }, "(file)", "cannot open: %s", strerror(errno));
		return -EINVAL;
	}
	unsigned char *text;
	size_t len;
	int r = read_all(c, f, &text, &len);
	fclose(f);
	if (r < 0)
		return r;
	r = check_depth(c, text, len);
	if (r == 0)
		r = load(c, text, len, doc);
	free(text);
	return r;
}
