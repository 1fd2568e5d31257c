/* Internal to the heads: the end-to-end forms (enum inf_e2e_form), which select their
 * detections inside the graph (a top-k over queries or anchors) and so need no grid, no
 * objectness and, by default, no NMS. heads.c owns the class tables and dispatches here. */
#ifndef INF_HEADS_E2E_H
#define INF_HEADS_E2E_H

#include "heads.h"

typedef struct head_e2e head_e2e;

/* form: what inf_e2e_form_of gave for sig (it re-finds the tensors). Logs and returns
 * VP_EMODEL when the shapes do not fit, -ENOMEM. */
int e2e_new(const inf_head_cfg *cfg, const inf_head_sig *sig, int form, head_e2e **ret);
int e2e_num_classes(const head_e2e *e);
int e2e_form(const head_e2e *e);
/* Borrowed per-class tables (NULL = none), num_classes entries each. */
void e2e_use_classes(head_e2e *e, const float *class_thr, const uint8_t *allow);
int e2e_size_input(const head_e2e *e);
void e2e_fill_sizes(const head_e2e *e, void *input, int b, const krn_xform *xf);
int e2e_decode(head_e2e *e, const void *const *outs, int b, const krn_xform *xf, vp_det *dets,
               int cap);
int64_t e2e_dropped(const head_e2e *e);
void e2e_free(head_e2e **e);

#endif
