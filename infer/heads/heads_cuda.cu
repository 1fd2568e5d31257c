// GPU twin of heads.c / nms.c (see heads_cuda.h). Rounding follows the CPU code: the box
// and IoU arithmetic uses explicit _rn intrinsics so nvcc cannot contract it into FMAs,
// which keeps decoded boxes, scores and NMS decisions identical to the CPU's.
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
}
#include "heads_cuda.h"
#include "kernels/cuda_util.h"
#include "nms_order.h"

namespace {

constexpr int kThreads = 256;
constexpr int kSortThreads = 1024;
constexpr int kScanThreads = 128;
// Suppression masks of at most this many bytes at once; larger batches go in chunks of items.
constexpr size_t kMaskBudget = (size_t)256 << 20;

struct head_dev {
	int n, nc, has_obj, raw, keep, cap;
	long long s_anchor, s_field, item;
	float thr, iou;
	const float *grid;           // raw yolox: gx, gy, stride per anchor
	const float *cls_thr;        // per class or NULL
	const unsigned char *allow;  // per class or NULL
};

__device__ float iou(const float *a, const float *b)
{
	float iw = __fsub_rn(fminf(a[2], b[2]), fmaxf(a[0], b[0]));
	float ih = __fsub_rn(fminf(a[3], b[3]), fmaxf(a[1], b[1]));
	if (iw <= 0.0f || ih <= 0.0f)
		return 0.0f;
	float inter = __fmul_rn(iw, ih);
	float aa = __fmul_rn(__fsub_rn(a[2], a[0]), __fsub_rn(a[3], a[1]));
	float ab = __fmul_rn(__fsub_rn(b[2], b[0]), __fsub_rn(b[3], b[1]));
	float uni = __fsub_rn(__fadd_rn(aa, ab), inter);
	return uni > 0.0f ? __fdiv_rn(inter, uni) : 0.0f;
}

__device__ float unmap(float c, float half, float pad, float scale)
{
	return __fdiv_rn(__fsub_rn(__fsub_rn(c, __fmul_rn(0.5f, half)), pad), scale);
}

__device__ float unmap_end(float c, float half, float pad, float scale)
{
	return __fdiv_rn(__fsub_rn(__fadd_rn(c, __fmul_rn(0.5f, half)), pad), scale);
}

// One thread per anchor: best class, final score, filters, box in frame pixels.
__global__ void score_anchors(const float *out, head_dev h, const krn_xform *xfs, vp_det *cand, int *count)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
	if (i >= h.n)
		return;
	const float *a = out + b * h.item + i * h.s_anchor;
	const long long sf = h.s_field;
	const float *cls = a + (4 + h.has_obj) * sf;
	int best = 0;
	float bv = cls[0];
	for (int c = 1; c < h.nc; c++) {
		float v = cls[c * sf];
		if (v > bv) {
			bv = v;
			best = c;
		}
	}
	float s = h.has_obj ? __fmul_rn(a[4 * sf], bv) : bv;
	// As heads.c: a score that is no probability or a non-finite box is never a detection
	// (dropped here without the CPU head's count and warning).
	if (!(s >= 0.0f && s <= 1.0f))
		return;
	float thr = h.cls_thr ? h.cls_thr[best] : h.thr;
	if (!(s >= thr) || (h.allow && !h.allow[best]))
		return;
	float cx = a[0], cy = a[sf], w = a[2 * sf], ht = a[3 * sf];
	if (h.raw) {
		const float *g = h.grid + i * 3;
		cx = __fmul_rn(__fadd_rn(cx, g[0]), g[2]);
		cy = __fmul_rn(__fadd_rn(cy, g[1]), g[2]);
		w = __fmul_rn(expf(w), g[2]);
		ht = __fmul_rn(expf(ht), g[2]);
	}
	const krn_xform xf = xfs[b];
	vp_det d;
	d.class_id = best;
	d.score = s;
	d.bbox[0] = unmap(cx, w, xf.pad_x, xf.scale_x);
	d.bbox[1] = unmap(cy, ht, xf.pad_y, xf.scale_y);
	d.bbox[2] = unmap_end(cx, w, xf.pad_x, xf.scale_x);
	d.bbox[3] = unmap_end(cy, ht, xf.pad_y, xf.scale_y);
	if (!isfinite(d.bbox[0]) || !isfinite(d.bbox[1]) || !isfinite(d.bbox[2]) || !isfinite(d.bbox[3]))
		return;
	int slot = atomicAdd(&count[b], 1);
	cand[(long long)b * h.n + slot] = d;
}

// One block per item: bitonic sort of the candidate slots in the CPU order (nms_order.h,
// the network of heads_cuda_ref.c), over the next power of two above the item's own count,
// in shared memory when it fits (scratch == NULL), else in scratch (pow2 slots per item).
__global__ void sort_candidates(const vp_det *cand, vp_det *sorted, const int *count, int n, int pow2n, int *scratch)
{
	extern __shared__ int sidx[];
	int b = blockIdx.x, m = count[b];
	const vp_det *c = cand + (long long)b * n;
	int *idx = scratch ? scratch + (long long)b * pow2n : sidx;
	int p = nms_pow2(m);
	for (int i = threadIdx.x; i < p; i += blockDim.x)
		idx[i] = i;
	__syncthreads();
	for (int k = 2; k <= p; k <<= 1)
		for (int j = k >> 1; j > 0; j >>= 1) {
			for (int i = threadIdx.x; i < p; i += blockDim.x)
				nms_bitonic_step(c, m, idx, i, j, k);
			__syncthreads();
		}
	for (int i = threadIdx.x; i < m; i += blockDim.x)
		sorted[(long long)b * n + i] = c[idx[i]];
}

// Suppression mask of item item0 + blockIdx.y: block x owns the column block of sorted
// boxes x*64.. and fills, for every earlier-or-same row block, one word per row: bit k set
// when the row's box suppresses box x*64+k (same class, later, IoU > thr).
__global__ void nms_mask(const vp_det *sorted, const int *count, int n, int words, float thr, int item0,
                         unsigned long long *mask)
{
	__shared__ float box[NMS_WORD][4];
	__shared__ int cls[NMS_WORD];
	int b = item0 + blockIdx.y, m = count[b], cb = blockIdx.x, t = threadIdx.x;
	if (cb * NMS_WORD >= m)
		return;
	const vp_det *s = sorted + (long long)b * n;
	int cn = min(NMS_WORD, m - cb * NMS_WORD);
	if (t < cn) {
		const vp_det d = s[cb * NMS_WORD + t];
		for (int k = 0; k < 4; k++)
			box[t][k] = d.bbox[k];
		cls[t] = d.class_id;
	}
	__syncthreads();
	unsigned long long *mk = mask + (long long)blockIdx.y * n * words;
	for (int rb = 0; rb <= cb; rb++) {
		int row = rb * NMS_WORD + t;
		if (row >= m)
			break;
		const vp_det r = s[row];
		unsigned long long bits = 0;
		for (int k = rb == cb ? t + 1 : 0; k < cn; k++)
			if (cls[k] == r.class_id && iou(r.bbox, box[k]) > thr)
				bits |= 1ull << k;
		mk[(long long)row * words + cb] = bits;
	}
}

__device__ float clampf(float v, float hi)
{
	return v < 0.0f ? 0.0f : (v > hi ? hi : v);
}

// One block per item: the greedy scan in score order. A box is kept unless an earlier kept
// box's mask row marks it; keeping one ORs its row into the removed set (words from its own
// block on). Every thread reads the same removed bit, so the branch is uniform.
__global__ void nms_scan(const vp_det *sorted, const int *count, const unsigned long long *mask, int n, int words,
                         int keep, int cap, int item0, const krn_xform *xfs, vp_det *out, int *nout)
{
	extern __shared__ unsigned long long removed[];
	int bz = blockIdx.x, b = item0 + bz, m = count[b], kept = 0;
	int mw = (m + NMS_WORD - 1) / NMS_WORD;
	const vp_det *s = sorted + (long long)b * n;
	const unsigned long long *mk = mask + (long long)bz * n * words;
	for (int w = threadIdx.x; w < mw; w += blockDim.x)
		removed[w] = 0;
	__syncthreads();
	for (int i = 0; i < m && kept < keep; i++) {
		if (removed[i / NMS_WORD] >> (i % NMS_WORD) & 1)
			continue;
		// Clip a copy: like the CPU, suppression compared the unclipped boxes.
		if (threadIdx.x == 0) {
			vp_det o = s[i];
			if (xfs) {
				float w = (float)xfs[b].src_w, h = (float)xfs[b].src_h;
				o.bbox[0] = clampf(o.bbox[0], w);
				o.bbox[1] = clampf(o.bbox[1], h);
				o.bbox[2] = clampf(o.bbox[2], w);
				o.bbox[3] = clampf(o.bbox[3], h);
			}
			out[(long long)b * cap + kept] = o;
		}
		for (int w = i / NMS_WORD + threadIdx.x; w < mw; w += blockDim.x)
			removed[w] |= mk[(long long)i * words + w];
		kept++;
		__syncthreads();
	}
	if (threadIdx.x == 0)
		nout[b] = kept;
}

int rt(cudaError_t e, const char *what)
{
	if (e == cudaSuccess)
		return 0;
	vp_err("head", "cuda", "%s: %s", what, cudaGetErrorString(e));
	return e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ? VP_ENODEV
	       : e == cudaErrorMemoryAllocation ? -ENOMEM : -EIO;
}

} // namespace

// Two result slots alternate so that decoding batch k+1 on the engine stream never
// writes the device or pinned buffers that batch k's copy to the host still uses.
constexpr int kSlots = 2;

struct head_slot {
	vp_det *out;                   // survivors, cap per item (device)
	int *nout;
	krn_xform *d_xf, *h_xf;        // transforms and their pinned staging copy
	vp_det *h_out;                 // pinned copies of out / nout
	int *h_nout;
	int batch;
	cudaEvent_t decoded;           // on the decode stream: NMS of this slot finished
	cudaEvent_t done;              // on the copy stream: the host copies landed
};

struct inf_head_cuda {
	inf_head_cfg cfg;
	head_dev h;
	int max_batch, auto_format, grid_ok, next;
	float *grid, *cls_thr;
	unsigned char *allow;
	vp_det *cand, *sorted;
	int *count;
	int pow2n;                     // sorting network size for n candidates
	size_t sort_smem;              // dynamic shared memory of sort_candidates; 0: sort_idx
	int *sort_idx;                 // global sort scratch when the network does not fit in shared memory
	int words, mask_items;         // mask words per row; items per mask chunk
	unsigned long long *mask;      // suppression masks of mask_items items
	head_slot slot[kSlots];
	float *h_col;                  // first column of item 0, for the AUTO box format
	cudaStream_t stream;           // the caller's decode stream (the engine's)
	cudaStream_t copy;             // ours: device-to-host copies of the survivors
};

static void grid_fill(float *g, int w, int h)
{
	static const int strides[3] = { 8, 16, 32 };
	for (int i = 0; i < 3; i++)
		for (int y = 0; y < h / strides[i]; y++)
			for (int x = 0; x < w / strides[i]; x++) {
				*g++ = (float)x;
				*g++ = (float)y;
				*g++ = (float)strides[i];
			}
}

static int grid_count(int w, int h)
{
	return (w / 8) * (h / 8) + (w / 16) * (h / 16) + (w / 32) * (h / 32);
}

/* The layout rules of heads.c's parse_shape / setup_grid (inf_head_new has validated them). */
static void layout(inf_head_cuda *g, const inf_tensor_info *out, int nc)
{
	int fam = g->cfg.family, anchors_last = fam == INF_FAM_YOLOV8;
	int fields_first = anchors_last && !(out->dims[2] < out->dims[1]);
	int fields = (int)(fields_first ? out->dims[1] : out->dims[2]);
	g->h.n = (int)(fields_first ? out->dims[2] : out->dims[1]);
	g->h.nc = nc;
	g->h.has_obj = fam != INF_FAM_YOLOV8;
	g->h.s_anchor = fields_first ? 1 : fields;
	g->h.s_field = fields_first ? g->h.n : 1;
	g->h.item = (long long)fields * g->h.n;
	g->h.thr = g->cfg.threshold;
	g->h.iou = g->cfg.nms_iou;
	int iw = g->cfg.input_w, ih = g->cfg.input_h;
	g->grid_ok = fam == INF_FAM_YOLOX && iw % 32 == 0 && ih % 32 == 0 && grid_count(iw, ih) == g->h.n;
	int format = fam == INF_FAM_YOLOX ? g->cfg.box_format : INF_BOX_DECODED;
	if (!g->grid_ok)
		format = INF_BOX_DECODED;
	g->auto_format = format == INF_BOX_AUTO;
	g->h.raw = format == INF_BOX_RAW;
}

static int alloc_slot(head_slot *sl, size_t mb, size_t cap)
{
	int rc = 0;
	if (!rc) rc = rt(cudaMalloc(&sl->nout, mb * sizeof(int)), "counts");
	if (!rc) rc = rt(cudaMalloc(&sl->out, mb * cap * sizeof(vp_det)), "detections");
	if (!rc) rc = rt(cudaMalloc(&sl->d_xf, mb * sizeof(krn_xform)), "transforms");
	if (!rc) rc = rt(cudaHostAlloc(&sl->h_xf, mb * sizeof(krn_xform), cudaHostAllocDefault), "pinned");
	if (!rc) rc = rt(cudaHostAlloc(&sl->h_out, mb * cap * sizeof(vp_det), cudaHostAllocDefault), "pinned");
	if (!rc) rc = rt(cudaHostAlloc(&sl->h_nout, mb * sizeof(int), cudaHostAllocDefault), "pinned");
	if (!rc) rc = rt(cudaEventCreateWithFlags(&sl->decoded, cudaEventDisableTiming), "event");
	// the host waits on done once per batch (the engine thread's collect): blocking, not spinning
	if (!rc) rc = rt(cudaEventCreateWithFlags(&sl->done, KRN_EVENT_WAIT_FLAGS), "event");
	return rc;
}

/* The sorting network in shared memory when the device allows that much per block (an
 * opt-in above 48 KB), else in a global scratch of pow2 slots per item. */
static int sort_setup(inf_head_cuda *g)
{
	int dev = 0, optin = 0;
	g->pow2n = nms_pow2(g->h.n);
	size_t bytes = (size_t)g->pow2n * sizeof(int);
	if (cudaGetDevice(&dev) == cudaSuccess &&
	    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) == cudaSuccess &&
	    bytes <= (size_t)optin &&
	    cudaFuncSetAttribute(sort_candidates, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes) == cudaSuccess) {
		g->sort_smem = bytes;
		return 0;
	}
	cudaGetLastError();
	g->sort_smem = 0;
	return rt(cudaMalloc(&g->sort_idx, (size_t)g->max_batch * bytes), "sort scratch");
}

static int alloc_dev(inf_head_cuda *g)
{
	size_t n = (size_t)g->h.n, mb = (size_t)g->max_batch, cap = (size_t)g->h.cap;
	int rc = 0;
	if (!rc) rc = rt(cudaMalloc(&g->cand, mb * n * sizeof(vp_det)), "candidates");
	if (!rc) rc = rt(cudaMalloc(&g->sorted, mb * n * sizeof(vp_det)), "candidates");
	if (!rc) rc = sort_setup(g);
	g->words = (int)((n + NMS_WORD - 1) / NMS_WORD);
	size_t per_item = n * (size_t)g->words * sizeof(unsigned long long);
	g->mask_items = (int)(per_item * mb <= kMaskBudget ? mb : (kMaskBudget / per_item > 0 ? kMaskBudget / per_item : 1));
	if (!rc) rc = rt(cudaMalloc(&g->mask, per_item * (size_t)g->mask_items), "suppression masks");
	if (!rc) rc = rt(cudaMalloc(&g->count, mb * sizeof(int)), "counts");
	for (int s = 0; s < kSlots && !rc; s++)
		rc = alloc_slot(&g->slot[s], mb, cap);
	if (!rc) rc = rt(cudaStreamCreateWithFlags(&g->copy, cudaStreamNonBlocking), "copy stream");
	return rc;
}

static int upload_tables(inf_head_cuda *g)
{
	int rc = 0, nc = g->h.nc;
	if (g->grid_ok) {
		size_t bytes = (size_t)g->h.n * 3 * sizeof(float);
		float *host = (float *)malloc(bytes);
		if (!host)
			return -ENOMEM;
		grid_fill(host, g->cfg.input_w, g->cfg.input_h);
		if (!(rc = rt(cudaMalloc(&g->grid, bytes), "grid")))
			rc = rt(cudaMemcpy(g->grid, host, bytes, cudaMemcpyHostToDevice), "grid");
		free(host);
		g->h.grid = g->grid;
	}
	if (!rc && g->cfg.class_threshold) {
		if (!(rc = rt(cudaMalloc(&g->cls_thr, nc * sizeof(float)), "class thresholds")))
			rc = rt(cudaMemcpy(g->cls_thr, g->cfg.class_threshold, nc * sizeof(float), cudaMemcpyHostToDevice),
			        "class thresholds");
		g->h.cls_thr = g->cls_thr;
	}
	if (!rc && g->cfg.class_allow) {
		if (!(rc = rt(cudaMalloc(&g->allow, nc), "class filter")))
			rc = rt(cudaMemcpy(g->allow, g->cfg.class_allow, nc, cudaMemcpyHostToDevice), "class filter");
		g->h.allow = g->allow;
	}
	g->cfg.class_threshold = NULL;
	g->cfg.class_allow = NULL;
	/* cudaMemcpy from pageable memory may return before its DMA lands, and the decode runs
	 * on a non-blocking stream that would not wait for it */
	if (!rc)
		rc = rt(cudaDeviceSynchronize(), "table upload");
	return rc;
}

extern "C" int inf_head_cuda_new(const inf_head_cfg *cfg, const inf_tensor_info *out, int max_batch, int cap,
                                 inf_head_cuda **ret)
{
	inf_head *cpu = NULL;
	int count = 0;
	*ret = NULL;
	if (max_batch < 1 || cap < 1)
		return -EINVAL;
	/* The grid families only: the end-to-end ones (yolov10, detr) read several outputs and
	 * are decoded by the CPU head on the host (the detector does so). */
	if (cfg->family == INF_FAM_YOLOV10 || cfg->family == INF_FAM_DETR)
		return VP_EUNSUP;
	if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
		cudaGetLastError();
		return VP_ENODEV;
	}
	int rc = inf_head_new(cfg, out, &cpu);
	if (rc < 0)
		return rc;
	if (inf_head_e2e_form(cpu) >= 0) {     /* auto resolved to an end-to-end family */
		inf_head_free(&cpu);
		return VP_EUNSUP;
	}
	int nc = inf_head_num_classes(cpu);
	inf_head_free(&cpu);
	inf_head_cuda *g = (inf_head_cuda *)calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	g->max_batch = max_batch;
	layout(g, out, nc);
	g->h.cap = cap;
	g->h.keep = cfg->max_detections > 0 && cfg->max_detections < cap ? cfg->max_detections : cap;
	if ((rc = alloc_dev(g)) < 0 || (rc = upload_tables(g)) < 0) {
		inf_head_cuda_free(&g);
		return rc;
	}
	*ret = g;
	return 0;
}

/* AUTO: the rule of heads.c's decide_box_format on item 0 of the first output. */
static int decide_format(inf_head_cuda *g, const float *d_output)
{
	size_t n = (size_t)g->h.n;
	if (!g->h_col && rt(cudaHostAlloc(&g->h_col, n * sizeof(float), cudaHostAllocDefault), "pinned") < 0)
		return -ENOMEM;
	int rc = rt(cudaMemcpy2DAsync(g->h_col, sizeof(float), d_output, (size_t)g->h.s_anchor * sizeof(float),
	                              sizeof(float), n, cudaMemcpyDeviceToHost, g->stream), "box format probe");
	if (!rc)
		rc = rt(cudaStreamSynchronize(g->stream), "box format probe");
	if (rc < 0)
		return rc;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += g->h_col[i];
	double mean = sum / (double)n;
	g->h.raw = !(mean > 8.0);
	g->auto_format = 0;
	vp_info("head", inf_family_name(g->cfg.family), "boxes look %s (mean x %.2f); set box_format to override",
	        g->h.raw ? "raw (grid decoding on)" : "decoded", mean);
	return 0;
}

/* Ranking (one bitonic sort per item), then per chunk of items the suppression masks and
 * the scan. Grids are sized for n candidates; blocks past an item's count return at once. */
static int run_nms(inf_head_cuda *g, head_slot *sl, int batch, const krn_xform *d_xf)
{
	int n = g->h.n;
	sort_candidates<<<batch, kSortThreads, g->sort_smem, g->stream>>>(g->cand, g->sorted, g->count, n, g->pow2n,
	                                                                  g->sort_smem ? NULL : g->sort_idx);
	for (int i0 = 0; i0 < batch; i0 += g->mask_items) {
		int items = batch - i0 < g->mask_items ? batch - i0 : g->mask_items;
		nms_mask<<<dim3(g->words, items), NMS_WORD, 0, g->stream>>>(g->sorted, g->count, n, g->words, g->h.iou, i0,
		                                                            g->mask);
		nms_scan<<<items, kScanThreads, g->words * sizeof(unsigned long long), g->stream>>>(
			g->sorted, g->count, g->mask, n, g->words, g->h.keep, g->h.cap, i0, d_xf, sl->out, sl->nout);
	}
	return rt(cudaGetLastError(), "NMS kernels");
}

/* Survivors of slot sl to the host on the copy stream, once the decode stream passed NMS. */
static int copy_out(inf_head_cuda *g, head_slot *sl)
{
	int rc = rt(cudaEventRecord(sl->decoded, g->stream), "event");
	if (!rc)
		rc = rt(cudaStreamWaitEvent(g->copy, sl->decoded, 0), "copy stream wait");
	if (!rc)
		rc = rt(cudaMemcpyAsync(sl->h_nout, sl->nout, (size_t)sl->batch * sizeof(int), cudaMemcpyDeviceToHost,
		                        g->copy), "detections");
	if (!rc)
		rc = rt(cudaMemcpyAsync(sl->h_out, sl->out, (size_t)sl->batch * g->h.cap * sizeof(vp_det),
		                        cudaMemcpyDeviceToHost, g->copy), "detections");
	if (!rc)
		rc = rt(cudaEventRecord(sl->done, g->copy), "event");
	return rc;
}

extern "C" int inf_head_cuda_decode(inf_head_cuda *g, const float *d_output, int batch, const krn_xform *xf,
                                    void *stream)
{
	if (batch < 1 || batch > g->max_batch || !d_output || !xf)
		return -EINVAL;
	for (int b = 0; b < batch; b++)
		if (!(xf[b].scale_x > 0.0f) || !(xf[b].scale_y > 0.0f))
			return -EINVAL;
	int s_idx = g->next;
	head_slot *sl = &g->slot[s_idx];
	/* The slot's previous batch (two decodes ago) must have left its buffers: its copy to
	 * the host, which also orders after its transforms' upload. */
	int rc = rt(cudaEventSynchronize(sl->done), "previous decode");
	if (rc < 0)
		return rc;
	g->stream = (cudaStream_t)stream;
	if (g->auto_format && (rc = decide_format(g, d_output)) < 0)
		return rc;
	memcpy(sl->h_xf, xf, (size_t)batch * sizeof(krn_xform));
	sl->batch = 0;
	cudaStream_t s = g->stream;
	if ((rc = rt(cudaMemcpyAsync(sl->d_xf, sl->h_xf, (size_t)batch * sizeof(krn_xform), cudaMemcpyHostToDevice, s),
	             "transforms")) < 0 ||
	    (rc = rt(cudaMemsetAsync(g->count, 0, (size_t)batch * sizeof(int), s), "counts")) < 0)
		return rc;
	dim3 grid((g->h.n + kThreads - 1) / kThreads, batch);
	score_anchors<<<grid, kThreads, 0, s>>>(d_output, g->h, sl->d_xf, g->cand, g->count);
	if ((rc = run_nms(g, sl, batch, sl->d_xf)) < 0)
		return rc;
	sl->batch = batch;
	if ((rc = copy_out(g, sl)) < 0) {
		sl->batch = 0;
		return rc;
	}
	g->next = (s_idx + 1) % kSlots;
	return s_idx;
}

extern "C" int inf_head_cuda_result(inf_head_cuda *g, int slot, int b, const vp_det **dets)
{
	if (slot < 0 || slot >= kSlots || b < 0 || b >= g->slot[slot].batch)
		return -EINVAL;
	head_slot *sl = &g->slot[slot];
	int rc = rt(cudaEventSynchronize(sl->done), "decode");
	if (rc < 0)
		return rc;
	*dets = sl->h_out + (size_t)b * g->h.cap;
	return sl->h_nout[b];
}

static void free_slot(head_slot *sl)
{
	if (sl->done) {
		cudaEventSynchronize(sl->done);
		cudaEventDestroy(sl->done);
	}
	if (sl->decoded)
		cudaEventDestroy(sl->decoded);
	cudaFree(sl->nout);
	cudaFree(sl->out);
	cudaFree(sl->d_xf);
	cudaFreeHost(sl->h_xf);
	cudaFreeHost(sl->h_out);
	cudaFreeHost(sl->h_nout);
}

extern "C" void inf_head_cuda_free(inf_head_cuda **pg)
{
	inf_head_cuda *g = *pg;
	if (!g)
		return;
	for (int s = 0; s < kSlots; s++)
		free_slot(&g->slot[s]);
	if (g->copy)
		cudaStreamDestroy(g->copy);
	cudaFree(g->grid);
	cudaFree(g->cls_thr);
	cudaFree(g->allow);
	cudaFree(g->cand);
	cudaFree(g->sorted);
	cudaFree(g->sort_idx);
	cudaFree(g->mask);
	cudaFree(g->count);
	cudaFreeHost(g->h_col);
	free(g);
	*pg = NULL;
}

extern "C" int inf_nms_cuda(vp_det *dets, int n, float iou_thr, int max_keep)
{
	if (n <= 0 || max_keep <= 0)
		return 0;
	inf_head_cuda *g = (inf_head_cuda *)calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->max_batch = 1;
	g->h.n = n;
	g->h.cap = max_keep;
	g->h.keep = max_keep;
	g->h.iou = iou_thr;
	head_slot *sl = &g->slot[0];
	int rc = alloc_dev(g), kept = 0;
	if (!rc)
		rc = rt(cudaMemcpy(g->cand, dets, (size_t)n * sizeof(vp_det), cudaMemcpyHostToDevice), "candidates");
	if (!rc)
		rc = rt(cudaMemcpy(g->count, &n, sizeof(int), cudaMemcpyHostToDevice), "candidates");
	if (!rc)
		rc = run_nms(g, sl, 1, NULL);
	if (!rc)
		rc = rt(cudaMemcpy(&kept, sl->nout, sizeof(int), cudaMemcpyDeviceToHost), "survivors");
	if (!rc)
		rc = rt(cudaMemcpy(dets, sl->out, (size_t)kept * sizeof(vp_det), cudaMemcpyDeviceToHost), "survivors");
	inf_head_cuda_free(&g);
	return rc < 0 ? rc : kept;
}
