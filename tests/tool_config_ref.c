/* Prints the config key reference: markdown table (default, as in docs/config-reference.md)
 * or, with --text, the aligned plain form of vapd --help-config. */
#include "pipeline/config.h"

#include <string.h>

int main(int argc, char **argv)
{
	int markdown = !(argc > 1 && strcmp(argv[1], "--text") == 0);
	pipe_config_print_reference(stdout, markdown);
	return fflush(stdout) == 0 ? 0 : 1;
}
