/* Class names files (model.labels): UTF-8 text, one name per line. */
#ifndef INF_LABELS_H
#define INF_LABELS_H

/* Reads path into *ret_names (*ret_n malloc'd names; a trailing empty line is not a name).
 * What is not a names file is refused with one logged line: not a regular file, over 1 MiB
 * or not UTF-8 text (control bytes other than tab, CR and LF count as binary): VP_ECONFIG;
 * -errno when it cannot be read. Nothing is left to free on failure. */
int inf_labels_load(const char *path, char ***ret_names, int *ret_n);
/* Frees the n names and the array; *names becomes NULL. */
void inf_labels_free(char ***names, int n);

#endif
