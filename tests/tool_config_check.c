/* Validates pipeline files as vapd --check does: prints every problem, exits 2 when any file
 * is invalid, 0 when all load. */
#include "pipeline/config.h"
#include "pipeline/vp_err.h"

int main(int argc, char **argv)
{
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		pipe_config *cfg = NULL;
		int r = pipe_config_load(argv[i], stderr, &cfg);
		if (r < 0) {
			rc = r == VP_ECONFIG ? 2 : 1;
			continue;
		}
		printf("%s: ok (%d sources, %d sinks, model %s)\n", argv[i], cfg->n_sources, cfg->n_sinks,
		       cfg->model.present ? cfg->model.path : "none");
		pipe_config_free(&cfg);
	}
	return argc < 2 ? 1 : rc;
}
