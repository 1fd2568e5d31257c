#include "vp_fpu.h"

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))
#include <pmmintrin.h>
#include <xmmintrin.h>

#define FTZ_DAZ (_MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON)

void vp_fpu_flush_denormals(void)
{
	unsigned int csr = _mm_getcsr();
	if ((csr & FTZ_DAZ) != FTZ_DAZ)
		_mm_setcsr(csr | FTZ_DAZ);
}

bool vp_fpu_flushes_denormals(void)
{
	return (_mm_getcsr() & FTZ_DAZ) == FTZ_DAZ;
}
#else
void vp_fpu_flush_denormals(void)
{
}

bool vp_fpu_flushes_denormals(void)
{
	return false;
}
#endif
