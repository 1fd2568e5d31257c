/* Process start-up: descriptors 0-2 are the standard streams before anything opens a file. */
#ifndef VP_STDIO_H
#define VP_STDIO_H

/* Opens /dev/null onto each of descriptors 0, 1 and 2 that is closed, so the next open()
 * (a file sink, an output file) cannot become stdout or stderr and receive printf and log
 * lines. Call first thing in main. Returns 0 or -errno (/dev/null cannot be opened). */
int vp_stdio_reserve(void);

#endif
