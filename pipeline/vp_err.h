/* Error codes shared by every module: 0 or positive is success, a negative errno
 * (-ENOMEM, -EINVAL, ...) or one of the VP_E* codes below is failure. */
#ifndef VP_ERR_H
#define VP_ERR_H

#include <errno.h>

/* Project codes live far below the errno range so they never collide. */
#define VP_EOF      (-0x10000)   /* stream drained: flow control, not a failure */
#define VP_EAGAIN   (-EAGAIN)    /* backpressure: serve the other side first */
#define VP_ECONFIG  (-0x10001)   /* invalid configuration (already reported) */
#define VP_EMODEL   (-0x10002)   /* malformed or unsupported model */
#define VP_EDECODE  (-0x10003)   /* undecodable input */
#define VP_EUNSUP   (-0x10004)   /* valid but unsupported (codec, operator, dtype) */
#define VP_ENODEV   (-0x10005)   /* no GPU / driver / library */
#define VP_ECLOSED  (-0x10006)   /* queue or peer closed */

/* Human-readable text for any code above or a negative errno. */
const char *vp_strerror(int err);

#endif
