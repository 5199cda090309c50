/*
 * logscan — every file of a source, read from its start.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"
#include "lib/ingest/archive.h"
#include "lib/ingest/logscan.h"

static void set_err(struct err *err, const char *fmt, const char *a, const char *b)
{
	if (err)
		snprintf(err->msg, sizeof err->msg, fmt, a, b);
}

/* Oldest first by modification time; equal times put the higher rotation
 * number (NAME.2 before NAME.1) first, which sorts before the live name. */
static int file_cmp(const void *a, const void *b)
{
	const struct logscan_file *x = a, *y = b;
	if (x->st.st_mtim.tv_sec != y->st.st_mtim.tv_sec)
		return x->st.st_mtim.tv_sec < y->st.st_mtim.tv_sec ? -1 : 1;
	if (x->st.st_mtim.tv_nsec != y->st.st_mtim.tv_nsec)
		return x->st.st_mtim.tv_nsec < y->st.st_mtim.tv_nsec ? -1 : 1;
	return strcmp(y->path, x->path);
}

int logscan_is_rotation(const char *name, const char *candidate)
{
	size_t nlen = strlen(name);
	return strncmp(candidate, name, nlen) == 0 &&
	       (candidate[nlen] == '.' || candidate[nlen] == '-') && candidate[nlen + 1] &&
	       !strstr(candidate + nlen, ".tmp");
}

int logscan_list(const char *dir, const char *name, struct logscan_file **out, size_t *n,
		 struct err *err)
{
	size_t count = 0, cap = 0;
	struct logscan_file *list = NULL;
	DIR *d = opendir(dir);
	struct dirent *de;

	*out = NULL;
	*n = 0;
	if (!d) {
		set_err(err, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		int named = strcmp(de->d_name, name) == 0;
		int sibling = logscan_is_rotation(name, de->d_name);
		if (!named && !sibling)
			continue;
		if (BUF_ARRAY_GROW(list, count + 1, cap)) {
			closedir(d);
			free(list);
			set_err(err, "%s: %s", dir, strerror(ENOMEM));
			return -1;
		}
		struct logscan_file *e = &list[count];
		snprintf(e->path, sizeof e->path, "%s/%s", dir, de->d_name);
		if (stat(e->path, &e->st) != 0 || !S_ISREG(e->st.st_mode))
			continue;
		e->compressed = archive_is_compressed_name(de->d_name);
		e->is_named = named;
		count++;
	}
	closedir(d);
	if (count > 1)
		qsort(list, count, sizeof *list, file_cmp);
	*out = list;
	*n = count;
	return 0;
}

int logscan_read(const char *path, logscan_line_fn fn, void *ctx, struct err *err)
{
	struct archive_stream *s = archive_stream_new(path, err);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t at = 0; /* offset of buf[0] in the uncompressed content */
	int rc = 0;

	if (!s)
		return -1;
	for (;;) {
		/* Reads of 64 KiB at least, into a window of 1 MiB at least. */
		size_t want = len + 65536 > 1 << 20 ? len + 65536 : 1 << 20;
		if (BUF_ARRAY_GROW(buf, want, cap)) {
			set_err(err, "%s: %s", path, strerror(ENOMEM));
			rc = -1;
			break;
		}
		ssize_t got = archive_stream_read(s, buf + len, cap - len, err);
		if (got < 0) {
			rc = -1;
			break;
		}
		len += (size_t)got;
		size_t start = 0;
		char *nl;
		while (rc == 0 && (nl = memchr(buf + start, '\n', len - start))) {
			size_t llen = (size_t)(nl - (buf + start));
			rc = fn(ctx, buf + start, llen, at + start, 1);
			start += llen + 1;
		}
		if (rc)
			break;
		memmove(buf, buf + start, len - start);
		len -= start;
		at += start;
		if (got == 0) {
			if (len)
				rc = fn(ctx, buf, len, at, 0);
			break;
		}
	}
	free(buf);
	archive_stream_free(s);
	return rc;
}
