/* vapd --source URI --model PATH [--http ADDR]: a one-source pipeline without writing YAML. */
#ifndef PIPE_QUICK_H
#define PIPE_QUICK_H

#include <stdio.h>

#include "config.h"

typedef struct pipe_quick_opts {
	const char *source;   /* file path or URI */
	const char *model;    /* ONNX file; family chosen from its outputs */
	const char *labels;   /* NULL: coco.names beside the model, when there */
	const char *http;     /* NULL: 127.0.0.1:9464 */
} pipe_quick_opts;

/* The pipeline those options describe, validated as a file would be (errors to err name
 * "command line" and the option's key). Returns 0, VP_ECONFIG or -ENOMEM. */
int pipe_quick_config(const pipe_quick_opts *o, FILE *err, pipe_config **ret);

#endif
