#include "vp_frame.h"
#include "vp_err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct vp_frame_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	vp_frame *slots;
	vp_frame **free_list;
	int n, n_free;
	bool closed, freed;
	vp_frame_release_fn release;
	vp_frame_destroy_fn destroy;
	void *ctx;
};

int vp_frame_pool_new(int n, vp_frame_release_fn release, vp_frame_destroy_fn destroy, void *ctx,
                      vp_frame_pool **ret_pool)
{
	if (n <= 0)
		return -EINVAL;
	vp_frame_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->slots = calloc((size_t)n, sizeof(*p->slots));
	p->free_list = calloc((size_t)n, sizeof(*p->free_list));
	if (!p->slots || !p->free_list) {
		free(p->slots);
		free(p->free_list);
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->n = p->n_free = n;
	p->release = release;
	p->destroy = destroy;
	p->ctx = ctx;
	for (int i = 0; i < n; i++) {
		p->slots[i].pool = p;
		p->free_list[i] = &p->slots[n - 1 - i];
	}
	*ret_pool = p;
	return 0;
}

vp_frame *vp_frame_pool_slot(vp_frame_pool *p, int i) { return &p->slots[i]; }
int vp_frame_pool_size(const vp_frame_pool *p) { return p->n; }

vp_frame *vp_frame_pool_get(vp_frame_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (!p->closed && p->n_free == 0)
		pthread_cond_wait(&p->cond, &p->lock);
	vp_frame *f = NULL;
	if (!p->closed) {
		f = p->free_list[--p->n_free];
		atomic_store_explicit((_Atomic int *)&f->refcount, 1, memory_order_relaxed);
		f->skip = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return f;
}

void vp_frame_pool_close(vp_frame_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->closed = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void pool_destroy(vp_frame_pool *p)
{
	if (p->destroy)
		for (int i = 0; i < p->n; i++)
			p->destroy(p->ctx, &p->slots[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->slots);
	free(p->free_list);
	free(p);
}

void vp_frame_pool_free(vp_frame_pool **pp)
{
	vp_frame_pool *p = *pp;
	if (!p)
		return;
	*pp = NULL;
	pthread_mutex_lock(&p->lock);
	p->closed = true;
	p->freed = true;
	bool all_back = p->n_free == p->n;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (all_back)
		pool_destroy(p);
}

vp_frame *vp_frame_ref(vp_frame *f)
{
	atomic_fetch_add_explicit((_Atomic int *)&f->refcount, 1, memory_order_relaxed);
	return f;
}

void vp_frame_unref(vp_frame **pf)
{
	vp_frame *f = *pf;
	if (!f)
		return;
	*pf = NULL;
	if (atomic_fetch_sub_explicit((_Atomic int *)&f->refcount, 1, memory_order_acq_rel) != 1)
		return;
	vp_frame_pool *p = f->pool;
	if (p->release)
		p->release(p->ctx, f);
	pthread_mutex_lock(&p->lock);
	p->free_list[p->n_free++] = f;
	/* The last frame home finishes a pool whose owner already let go of it. */
	bool destroy = p->freed && p->n_free == p->n;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (destroy)
		pool_destroy(p);
}
