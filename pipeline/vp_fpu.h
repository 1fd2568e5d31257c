/* Denormal floats in CPU inference: flush-to-zero and denormals-are-zero, per thread. */
#ifndef VP_FPU_H
#define VP_FPU_H

#include <stdbool.h>

/* Sets the calling thread's MXCSR FTZ and DAZ bits (x86; nothing elsewhere): a result too
 * small for a normal float becomes 0 and a denormal operand reads as 0. An x86 core takes
 * a microcode assist (~100 cycles) for each denormal operand or result, and activations
 * of inputs far outside the training range fill with them: YOLOv8n took 985 ms per image
 * against 68 ms on a Xeon. MXCSR is per thread, copied into threads created afterwards;
 * every thread that runs kernels calls this (engine thread, task pool, OpenMP team). */
void vp_fpu_flush_denormals(void);

/* Whether the calling thread has both bits set (always false off x86). */
bool vp_fpu_flushes_denormals(void);

#endif
