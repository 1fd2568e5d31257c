#include "detector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/preprocess.h"
#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "detector_gpu.h"
#include "engine.h"
#include "infer/heads/heads.h"
#include "labels.h"
#include "../pipeline/vp_time.h"

_Static_assert((int)PIPE_FAM_YOLOX == (int)INF_FAM_YOLOX && (int)PIPE_FAM_YOLOV8 == (int)INF_FAM_YOLOV8 &&
               (int)PIPE_FAM_YOLOV5 == (int)INF_FAM_YOLOV5 && (int)PIPE_FAM_YOLOV10 == (int)INF_FAM_YOLOV10 &&
               (int)PIPE_FAM_DETR == (int)INF_FAM_DETR && (int)PIPE_FAM_AUTO == (int)INF_FAM_AUTO,
               "enum pipe_family and enum inf_family in the same order");

/* A submitted batch until it is collected. */
typedef struct det_batch {
	int n, n_dev, rc;
	int slot;                 /* GPU result slot of its device frames; -1 when none */
	uint8_t *on_dev;          /* per frame: its results come from the GPU slot */
	vp_det *dets;             /* results of its host frames, at their frame index */
	int *counts;
	int64_t t[3];             /* preprocess, inference, wait + postprocess (ns) */
} det_batch;

struct inf_detector {
	const pipe_model_cfg *cfg;
	inf_engine *engine;
	inf_head *head;
	krn_pre_params pre;
	int max_batch, max_dets, num_classes;
	int family;               /* enum inf_family, never AUTO */
	int img_in;               /* the image input (NCHW float); others are filled by the head */
	int size_in;              /* input of source frame sizes (DETR post-processor), -1 = none */
	inf_tensor_info *ins, *outs;   /* the model's signature at max batch */
	int n_in, n_out;
	const void **out_ptrs;    /* host outputs of the last run, for the head */
	char **labels;
	int n_labels;
	float *class_threshold;   /* what messages carry, per class */
	float *head_threshold;    /* what the head keeps: lower with a tracker's candidates */
	uint8_t *class_allow;
	krn_xform *xf;
	inf_detector_gpu *gpu;    /* NULL unless the engine runs on the GPU */
	/* scratch for splitting a batch into its device and host frames */
	vp_frame **part;
	int *part_idx, *part_counts;
	vp_det *part_dets;
	det_batch q[INF_DETECTOR_DEPTH];   /* submitted, oldest at q_head */
	int q_head, q_len;
	inf_detector_times times;
};

int inf_detector_resolve_class(const inf_detector *d, const pipe_class_ref *c, const char *file,
                               const char *key)
{
	if (!c->name) {
		if (c->id >= 0 && c->id < d->num_classes)
			return c->id;
		fprintf(stderr, "%s:%d:%d: %s: class id %d out of range (the model has %d classes)\n",
		        file, c->pos.line, c->pos.col, key, c->id, d->num_classes);
		return VP_ECONFIG;
	}
	for (int i = 0; i < d->n_labels && i < d->num_classes; i++)
		if (strcmp(d->labels[i], c->name) == 0)
			return i;
	fprintf(stderr, "%s:%d:%d: %s: unknown class '%s'%s\n", file, c->pos.line, c->pos.col, key,
	        c->name, d->labels ? " (not in the labels file)" : " (names need model.labels)");
	return VP_ECONFIG;
}

static int setup_classes(inf_detector *d, const pipe_model_cfg *cfg, const char *file)
{
	int nc = d->num_classes;
	d->class_threshold = malloc((size_t)nc * sizeof(float));
	d->head_threshold = malloc((size_t)nc * sizeof(float));
	if (!d->class_threshold || !d->head_threshold)
		return -ENOMEM;
	for (int i = 0; i < nc; i++)
		d->class_threshold[i] = cfg->threshold;
	for (int k = 0; k < cfg->n_class_thresholds; k++) {
		int id = inf_detector_resolve_class(d, &cfg->class_thresholds[k], file, "model.class_thresholds");
		if (id < 0)
			return id;
		d->class_threshold[id] = cfg->class_thresholds[k].threshold;
	}
	float cand = cfg->candidate_threshold;
	for (int i = 0; i < nc; i++)
		d->head_threshold[i] = cand > 0 && cand < d->class_threshold[i] ? cand : d->class_threshold[i];
	if (cfg->n_classes == 0)
		return 0;
	d->class_allow = calloc((size_t)nc, 1);
	if (!d->class_allow)
		return -ENOMEM;
	for (int k = 0; k < cfg->n_classes; k++) {
		int id = inf_detector_resolve_class(d, &cfg->classes[k], file, "model.classes");
		if (id < 0)
			return id;
		d->class_allow[id] = 1;
	}
	return 0;
}

/* Family preset first, then whatever the user wrote in model.preprocess. */
static void setup_preprocess(inf_detector *d, const pipe_model_cfg *cfg, int in_w, int in_h)
{
	const pipe_preprocess_cfg *p = &cfg->preprocess;
	krn_pre_params *k = &d->pre;
	inf_family_preset(d->family, k);
	k->dst_w = in_w;
	k->dst_h = in_h;
	if (p->set & PIPE_PRE_RESIZE)
		k->resize = p->resize == PIPE_RESIZE_STRETCH ? KRN_STRETCH : KRN_LETTERBOX;
	if (p->set & PIPE_PRE_PLACEMENT)
		k->placement = p->placement == PIPE_PLACE_CENTER ? KRN_CENTER : KRN_TOP_LEFT;
	if (p->set & PIPE_PRE_PAD)
		k->pad_value = p->pad_value;
	if (p->set & PIPE_PRE_ORDER)
		k->bgr = p->channel_order == PIPE_BGR;
	if (p->set & PIPE_PRE_MEAN)
		memcpy(k->mean, p->mean, sizeof(k->mean));
	if (p->set & PIPE_PRE_SCALE)
		memcpy(k->scale, p->scale, sizeof(k->scale));
}

static int open_engine(inf_detector *d, const pipe_model_cfg *cfg)
{
	inf_engine_opts o = {
		.backend = "cpu",
		.max_batch = cfg->batch_max_size,
		.input_w = cfg->input_w,
		.input_h = cfg->input_h,
		.threads = cfg->threads,
		.fp16 = cfg->precision == PIPE_PREC_FP16,
		.gpu = cfg->gpu,
	};
	if (cfg->backend != PIPE_BACKEND_CPU) {
		o.backend = "cuda";
		int rc = inf_engine_open(cfg->path, &o, &d->engine);
		if (rc == 0 || cfg->backend == PIPE_BACKEND_CUDA)
			return rc;
		vp_info("model", NULL, "backend auto: cuda not usable (%s), using cpu", vp_strerror(rc));
		o.backend = "cpu";
	}
	return inf_engine_open(cfg->path, &o, &d->engine);
}

/* The head settings; the class arrays are NULL until the class count is known. */
static inf_head_cfg head_cfg(const inf_detector *d, const pipe_model_cfg *cfg, int in_w, int in_h)
{
	return (inf_head_cfg){
		.family = d->family,
		.box_format = (int)cfg->box_format,
		.input_w = in_w,
		.input_h = in_h,
		.threshold = cfg->candidate_threshold > 0 && cfg->candidate_threshold < cfg->threshold ?
		             cfg->candidate_threshold : cfg->threshold,
		.class_threshold = d->head_threshold,
		.class_allow = d->class_allow,
		.nms_iou = cfg->nms_iou,
		.nms_explicit = (cfg->preprocess.set & PIPE_SET_NMS_IOU) != 0,
		.max_detections = cfg->max_detections,
		.num_classes = d->n_labels,
	};
}

static inf_head_sig signature(const inf_detector *d)
{
	return (inf_head_sig){ .in = d->ins, .n_in = d->n_in, .out = d->outs, .n_out = d->n_out };
}

/* The model's inputs and outputs; the image input is the first NCHW one (a DETR export
 * with its post-processor also takes the frame sizes). */
static int read_signature(inf_detector *d, const pipe_model_cfg *cfg)
{
	d->n_in = inf_engine_n_inputs(d->engine);
	d->n_out = inf_engine_n_outputs(d->engine);
	d->ins = calloc((size_t)d->n_in, sizeof(*d->ins));
	d->outs = calloc((size_t)d->n_out, sizeof(*d->outs));
	d->out_ptrs = calloc((size_t)d->n_out, sizeof(*d->out_ptrs));
	if (!d->ins || !d->outs || !d->out_ptrs)
		return -ENOMEM;
	int rc = 0;
	d->img_in = -1;
	for (int i = 0; i < d->n_in && rc == 0; i++)
		if ((rc = inf_engine_input_info(d->engine, i, &d->ins[i])) == 0 && d->img_in < 0 &&
		    d->ins[i].ndim == 4)
			d->img_in = i;
	for (int i = 0; i < d->n_out && rc == 0; i++)
		rc = inf_engine_output_info(d->engine, i, &d->outs[i]);
	if (rc == 0 && d->img_in < 0) {
		vp_err("model", NULL, "%s: no input is an NCHW image (input '%s' has %d dims)", cfg->path,
		       d->ins[0].name, d->ins[0].ndim);
		rc = VP_EMODEL;
	}
	return rc;
}

/* family: auto takes the family the signature gives, once, with one info line. */
static int resolve_family(inf_detector *d, const pipe_model_cfg *cfg, int in_w, int in_h)
{
	char why[768];
	inf_head_sig sig = signature(d);
	d->family = (int)cfg->family;
	int shape_family = inf_family_of_sig(&sig, in_w, in_h, why, sizeof(why));
	if (d->family == INF_FAM_YOLOV8 && shape_family == INF_FAM_YOLOX)
		vp_info("model", NULL, "%s: %s: read as a transposed YOLOv8 export (a YOLOX output has "
		        "this shape too)", cfg->path, why);
	if (d->family != INF_FAM_AUTO)
		return 0;
	if ((d->family = shape_family) < 0) {
		vp_err("model", NULL, "%s: family auto: %s", cfg->path, why);
		return VP_EMODEL;
	}
	vp_info("model", NULL, "%s: family auto: %s (%s)", cfg->path, inf_family_name(d->family), why);
	return 0;
}

/* Per-class settings need the class count, which only the head knows: a first head
 * tells it, finish_head() builds the real one. */
static int setup_head(inf_detector *d, const pipe_model_cfg *cfg, int in_w, int in_h)
{
	inf_head_cfg hc = head_cfg(d, cfg, in_w, in_h);
	inf_head_sig sig = signature(d);
	int rc = inf_head_new_sig(&hc, &sig, &d->head);
	if (rc < 0)
		return rc;
	d->num_classes = inf_head_num_classes(d->head);
	return 0;
}

static int finish_head(inf_detector *d, const pipe_model_cfg *cfg, const char *file, int in_w,
                       int in_h)
{
	int rc = setup_classes(d, cfg, file);
	if (rc < 0)
		return rc;
	inf_head_cfg hc = head_cfg(d, cfg, in_w, in_h);
	inf_head_sig sig = signature(d);
	inf_head_free(&d->head);
	if ((rc = inf_head_new_sig(&hc, &sig, &d->head)) < 0)
		return rc;
	d->size_in = inf_head_size_input(d->head);
	if (strcmp(inf_engine_backend_name(d->engine), "cuda") != 0)
		return 0;
	/* The GPU heads (heads_cuda) decode the grid families only; the end-to-end ones run on
	 * the engine's host outputs, which the cuda engine copies back after every run. */
	if (d->family == INF_FAM_YOLOV10 || d->family == INF_FAM_DETR) {
		vp_info("model", NULL, "%s: family %s is decoded by the CPU head on host copies of the "
		        "outputs (no GPU head yet): NVDEC frames are not used", cfg->path,
		        inf_family_name(d->family));
		return 0;
	}
	rc = inf_detector_gpu_new(d->engine, &hc, d->max_batch, d->max_dets, cfg->gpu, &d->gpu);
	if (rc < 0)
		vp_warn("model", NULL, "GPU preprocessing/heads unavailable (%s): NVDEC frames are "
		        "not used", vp_strerror(rc));
	return 0;
}

static int alloc_queue(inf_detector *d)
{
	size_t b = (size_t)d->max_batch;
	for (int i = 0; i < INF_DETECTOR_DEPTH; i++) {
		det_batch *q = &d->q[i];
		q->on_dev = calloc(b, 1);
		q->counts = calloc(b, sizeof(*q->counts));
		q->dets = calloc(b * (size_t)d->max_dets, sizeof(*q->dets));
		if (!q->on_dev || !q->counts || !q->dets)
			return -ENOMEM;
	}
	return 0;
}

int inf_detector_new(const pipe_model_cfg *cfg, const char *cfg_file, inf_detector **ret)
{
	inf_detector *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->max_batch = cfg->batch_max_size;
	d->max_dets = cfg->max_detections;
	int rc = -ENOMEM;
	if (cfg->labels && (rc = inf_labels_load(cfg->labels, &d->labels, &d->n_labels)) < 0)
		goto fail;
	if ((rc = open_engine(d, cfg)) < 0) {
		vp_err("model", NULL, "%s: cannot load (%s)", cfg->path, vp_strerror(rc));
		goto fail;
	}
	if ((rc = read_signature(d, cfg)) < 0)
		goto fail;
	inf_tensor_info in = d->ins[d->img_in];
	if (in.ndim != 4 || in.dims[1] != 3) {
		vp_err("model", NULL, "%s: input '%s' is not an NCHW 3-channel image", cfg->path, in.name);
		rc = VP_EMODEL;
		goto fail;
	}
	/* Preprocessing writes float32 pixels; any other input type would read them as garbage. */
	if (in.dtype != INF_DT_FLOAT) {
		vp_err("model", NULL, "%s: input '%s' is %s; vapd needs a FLOAT (float32) NCHW image input",
		       cfg->path, in.name, inf_dtype_name(in.dtype));
		rc = VP_EMODEL;
		goto fail;
	}
	int in_h = (int)in.dims[2], in_w = (int)in.dims[3];
	if ((rc = resolve_family(d, cfg, in_w, in_h)) < 0 || (rc = setup_head(d, cfg, in_w, in_h)) < 0)
		goto fail;
	/* Fewer names leave classes unnamed, more say the file belongs to another model. */
	if (d->labels && d->n_labels != d->num_classes) {
		vp_err("model", NULL, "labels file %s has %d labels but the model has %d classes (read "
		       "as family %s)", cfg->labels, d->n_labels, d->num_classes, inf_family_name(d->family));
		rc = VP_ECONFIG;
		goto fail;
	}
	if ((rc = finish_head(d, cfg, cfg_file, in_w, in_h)) < 0)
		goto fail;
	setup_preprocess(d, cfg, in_w, in_h);
	size_t b = (size_t)d->max_batch;
	d->xf = calloc(b, sizeof(*d->xf));
	d->part = calloc(b, sizeof(*d->part));
	d->part_idx = calloc(b, sizeof(*d->part_idx));
	d->part_counts = calloc(b, sizeof(*d->part_counts));
	d->part_dets = calloc(b * (size_t)d->max_dets, sizeof(*d->part_dets));
	if (!d->xf || !d->part || !d->part_idx || !d->part_counts || !d->part_dets ||
	    alloc_queue(d) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	vp_info("model", NULL, "%s: %dx%d input, %d classes, batch %d, backend %s, %.1f MB",
	        cfg->path, in_w, in_h, d->num_classes, d->max_batch,
	        inf_engine_backend_name(d->engine), inf_engine_peak_bytes(d->engine) / 1e6);
	*ret = d;
	return 0;
fail:
	inf_detector_free(&d);
	return rc;
}

int inf_detector_max_batch(const inf_detector *d) { return d->max_batch; }
int inf_detector_max_dets(const inf_detector *d) { return d->max_dets; }
const char *inf_detector_backend(const inf_detector *d) { return inf_engine_backend_name(d->engine); }

void inf_detector_engine_stats(const inf_detector *d, inf_engine_stats *ret) { inf_engine_stats_get(d->engine, ret); }

int inf_detector_takes_device_frames(const inf_detector *d) { return d->gpu != NULL; }

const char *const *inf_detector_labels(const inf_detector *d, int *ret_n)
{
	*ret_n = d->n_labels;
	return (const char *const *)d->labels;
}

void inf_detector_get_times(const inf_detector *d, inf_detector_times *ret) { *ret = d->times; }

/* Host frames: CPU preprocessing into the engine's host input, the CPU head. */
static int run_host(inf_detector *d, vp_frame *const *frames, int n, vp_det *dets, int *counts,
                    int64_t t[3])
{
	int64_t t0 = vp_mono_ns();
	int rc = krn_preprocess_cpu((const vp_frame *const *)frames, n, &d->pre,
	                            inf_engine_input(d->engine, d->img_in), d->xf);
	if (rc < 0)
		return rc;
	for (int i = 0; d->size_in >= 0 && i < n; i++)
		inf_head_fill_sizes(d->head, inf_engine_input(d->engine, d->size_in), i, &d->xf[i]);
	int64_t t1 = vp_mono_ns();
	if ((rc = inf_engine_run(d->engine, n)) < 0)
		return rc;
	int64_t t2 = vp_mono_ns();
	for (int k = 0; k < d->n_out; k++)
		d->out_ptrs[k] = inf_engine_output(d->engine, k);
	for (int i = 0; i < n; i++) {
		rc = inf_head_decode_outputs(d->head, d->out_ptrs, i, &d->xf[i],
		                             dets + (size_t)i * d->max_dets, d->max_dets);
		if (rc < 0)
			return rc;
		counts[i] = rc;
	}
	t[0] += t1 - t0;
	t[1] += t2 - t1;
	t[2] += vp_mono_ns() - t2;
	return 0;
}

/* Gathers the frames of one memory kind into d->part (their indices in d->part_idx). */
static int gather(inf_detector *d, vp_frame *const *frames, int n, vp_memtype mem)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		if (frames[i]->mem == mem) {
			d->part[m] = frames[i];
			d->part_idx[m++] = i;
		}
	return m;
}

/* Copies results of part k (d->part_dets / part_counts) to frame part_idx[k]'s place. */
static void scatter(const inf_detector *d, int m, vp_det *dets, int *counts)
{
	for (int k = 0; k < m; k++) {
		int i = d->part_idx[k];
		counts[i] = d->part_counts[k];
		memcpy(dets + (size_t)i * d->max_dets, d->part_dets + (size_t)k * d->max_dets,
		       (size_t)counts[i] * sizeof(*dets));
	}
}

/* Device frames of b start on the GPU (all of them, or those of a mixed batch: NVDEC and
 * software-decoded streams side by side); host frames run now. */
static int start_batch(inf_detector *d, det_batch *b, vp_frame *const *frames)
{
	int n = b->n, rc;
	if (b->n_dev == n)
		return (b->slot = inf_detector_gpu_submit(d->gpu, frames, n, &d->pre, d->xf, b->t));
	if (b->n_dev == 0)
		return run_host(d, frames, n, b->dets, b->counts, b->t);
	int m = gather(d, frames, n, VP_MEM_DEVICE);
	if ((rc = b->slot = inf_detector_gpu_submit(d->gpu, d->part, m, &d->pre, d->xf, b->t)) < 0)
		return rc;
	m = gather(d, frames, n, VP_MEM_HOST);
	if ((rc = run_host(d, d->part, m, d->part_dets, d->part_counts, b->t)) < 0)
		return rc;
	scatter(d, m, b->dets, b->counts);
	return 0;
}

int inf_detector_submit(inf_detector *d, vp_frame *const *frames, int n)
{
	if (n < 1 || n > d->max_batch)
		return -EINVAL;
	if (d->q_len == INF_DETECTOR_DEPTH)
		return -EBUSY;
	det_batch *b = &d->q[(d->q_head + d->q_len) % INF_DETECTOR_DEPTH];
	b->n = n;
	b->n_dev = 0;
	b->slot = -1;
	memset(b->t, 0, sizeof(b->t));
	for (int i = 0; i < n; i++) {
		b->on_dev[i] = frames[i]->mem == VP_MEM_DEVICE;
		b->n_dev += b->on_dev[i];
	}
	d->q_len++;
	if (b->n_dev && !d->gpu) {
		vp_err("model", frames[0]->stream_id, "frames in GPU memory but the model runs on %s",
		       inf_engine_backend_name(d->engine));
		b->rc = -EINVAL;
	} else {
		int rc = start_batch(d, b, frames);
		b->rc = rc < 0 ? rc : 0;
	}
	return b->rc == 0 && b->slot >= 0;
}

/* The GPU part of b into dets/counts, at the places of its device frames. */
static int finish_device(inf_detector *d, det_batch *b, vp_det *dets, int *counts)
{
	if (b->n_dev == b->n)
		return inf_detector_gpu_collect(d->gpu, b->slot, b->n, dets, d->max_dets, counts);
	int m = 0;
	for (int i = 0; i < b->n; i++)
		if (b->on_dev[i])
			d->part_idx[m++] = i;
	int rc = inf_detector_gpu_collect(d->gpu, b->slot, m, d->part_dets, d->max_dets, d->part_counts);
	if (rc == 0)
		scatter(d, m, dets, counts);
	return rc;
}

int inf_detector_collect(inf_detector *d, vp_det *dets, int *counts, inf_detector_times *ret)
{
	if (d->q_len == 0)
		return -ENOENT;
	det_batch *b = &d->q[d->q_head];
	d->q_head = (d->q_head + 1) % INF_DETECTOR_DEPTH;
	d->q_len--;
	int64_t t0 = vp_mono_ns();
	int rc = b->rc;
	if (rc == 0 && b->slot >= 0)
		rc = finish_device(d, b, dets, counts);
	for (int i = 0; rc == 0 && i < b->n; i++)
		if (!b->on_dev[i]) {
			counts[i] = b->counts[i];
			memcpy(dets + (size_t)i * d->max_dets, b->dets + (size_t)i * d->max_dets,
			       (size_t)counts[i] * sizeof(*dets));
		}
	b->t[2] += vp_mono_ns() - t0;
	d->times.preprocess_ns += b->t[0];
	d->times.inference_ns += b->t[1];
	d->times.postprocess_ns += b->t[2];
	if (ret)
		*ret = (inf_detector_times){ .preprocess_ns = b->t[0], .inference_ns = b->t[1],
		                             .postprocess_ns = b->t[2], .batches = rc == 0,
		                             .frames = rc == 0 ? b->n : 0 };
	if (rc < 0) {
		/* A batch that failed part-way may still have its device frames read by kernels
		 * enqueued before the failure; the caller releases the frames after this. */
		if (b->n_dev && d->gpu)
			inf_detector_gpu_drain(d->gpu);
		memset(counts, 0, (size_t)b->n * sizeof(*counts));
		return rc;
	}
	d->times.batches++;
	d->times.frames += b->n;
	return b->n;
}

int inf_detector_pending(const inf_detector *d) { return d->q_len; }

int inf_detector_run(inf_detector *d, vp_frame *const *frames, int n, vp_det *dets, int *counts)
{
	if (d->q_len > 0)
		return -EBUSY;
	int rc = inf_detector_submit(d, frames, n);
	if (rc < 0)
		return rc;
	rc = inf_detector_collect(d, dets, counts, NULL);
	return rc < 0 ? rc : 0;
}

void inf_detector_free(inf_detector **pd)
{
	inf_detector *d = *pd;
	if (!d)
		return;
	*pd = NULL;
	inf_detector_gpu_free(&d->gpu);
	inf_head_free(&d->head);
	inf_engine_free(&d->engine);
	inf_labels_free(&d->labels, d->n_labels);
	free(d->ins);
	free(d->outs);
	free(d->out_ptrs);
	free(d->class_threshold);
	free(d->head_threshold);
	free(d->class_allow);
	free(d->xf);
	free(d->part);
	free(d->part_idx);
	free(d->part_counts);
	free(d->part_dets);
	for (int i = 0; i < INF_DETECTOR_DEPTH; i++) {
		free(d->q[i].on_dev);
		free(d->q[i].counts);
		free(d->q[i].dets);
	}
	free(d);
}

int inf_detector_num_classes(const inf_detector *d) { return d->num_classes; }
int inf_detector_family(const inf_detector *d) { return d->family; }

const float *inf_detector_class_thresholds(const inf_detector *d) { return d->class_threshold; }
