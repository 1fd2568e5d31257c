/* Base64 with strict decoding: a value that is not exactly what etcd encodes is refused
 * rather than read as something else. */
#include "b64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_size(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

void b64_encode(const void *src, size_t n, char *out)
{
	const unsigned char *s = src;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

static int sextet(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

int b64_decode(const char *text, char **ret, size_t *ret_len)
{
	size_t len = strlen(text);
	if (len % 4)
		return -EINVAL;
	size_t pad = len && text[len - 1] == '=' ? (text[len - 2] == '=' ? 2 : 1) : 0;
	char *out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		int last = i + 4 == len;
		unsigned v = 0;
		for (int k = 0; k < 4; k++) {
			int padded = last && k >= 4 - (int)pad;
			int s = padded ? 0 : sextet(text[i + k]);
			if (s < 0) {
				free(out);
				return -EINVAL;
			}
			v = v << 6 | (unsigned)s;
		}
		out[o++] = (char)(v >> 16);
		if (!last || pad < 2)
			out[o++] = (char)(v >> 8 & 255);
		if (!last || pad < 1)
			out[o++] = (char)(v & 255);
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}
