/* Base64 (RFC 4648, standard alphabet, padded): etcd's JSON gateway carries keys and values
 * as base64 strings. Internal to fleet/. */
#ifndef FLEET_B64_H
#define FLEET_B64_H

#include <stddef.h>

/* Bytes b64_encode writes for n input bytes, including the NUL. */
size_t b64_encoded_size(size_t n);
/* Writes the encoding of src[0..n) and a NUL into out (b64_encoded_size(n) bytes). */
void b64_encode(const void *src, size_t n, char *out);
/* Decodes the NUL-terminated text into a malloc'ed buffer with a NUL after its *ret_len
 * bytes. -EINVAL for a length that is not a multiple of 4, a character outside the
 * alphabet or padding anywhere but the end; -ENOMEM. */
int b64_decode(const char *text, char **ret, size_t *ret_len);

#endif
