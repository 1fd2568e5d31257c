/* Reads the pipeline file into libyaml's document tree; syntax errors are reported with their
 * position. */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void syntax_error(cfg_ctx *c, yaml_parser_t *parser)
{
	char where[64] = "";
	if (parser->context)
		snprintf(where, sizeof(where), " at line %d", (int)parser->context_mark.line + 1);
	cfg_error(c, cfg_mark_pos(parser->problem_mark), "(syntax)", "%s%s%s%s%s",
	          parser->problem ? parser->problem : "invalid YAML", parser->context ? " (" : "",
	          parser->context ? parser->context : "", where, parser->context ? ")" : "");
}

/* A second "---" document would be ignored silently: the file is meant to hold one pipeline. */
static int no_second_document(cfg_ctx *c, yaml_parser_t *parser)
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next)) {
		syntax_error(c, parser);
		return parser->error == YAML_MEMORY_ERROR ? (c->oom = 1, -ENOMEM) : -EINVAL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&next);
	if (root)
		cfg_error(c, cfg_mark_pos(next.start_mark), "(syntax)", "only one YAML document per file");
	yaml_document_delete(&next);
	return root ? -EINVAL : 0;
}

int cfg_parse_file(cfg_ctx *c, const char *path, yaml_document_t *doc)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cfg_error(c, (pipe_pos){ 1, 1 }, "(file)", "cannot open: %s", strerror(errno));
		return -EINVAL;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return c->oom = 1, -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	int r = 0;
	if (!yaml_parser_load(&parser, doc)) {
		syntax_error(c, &parser);
		r = parser.error == YAML_MEMORY_ERROR ? (c->oom = 1, -ENOMEM) : -EINVAL;
	} else {
		r = no_second_document(c, &parser);
		if (r < 0)
			yaml_document_delete(doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return r;
}
