#include "lib/ingest/archive.h"

#include <archive.h>
#ifndef ARCHIVE_VERSION_NUMBER
/* libarchive's header is called archive.h too, and a build that puts lib/ on
 * the <...> search path (-Ilib rather than -iquote lib) finds this module's
 * header again above. Reach libarchive's through its own include folder:
 * "<dir>/../include/archive.h" is "<dir>/archive.h" for the usual
 * /usr/include, /usr/local/include, <prefix>/include. */
#include <../include/archive.h>
#endif
#ifndef ARCHIVE_VERSION_NUMBER
#error "libarchive's archive.h not found (shadowed by lib/archive.h?)"
#endif

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct archive_stream {
	struct archive *archive;
	char *path;
	int at_end;
};

/* Reports a libarchive failure: its message, and the system's when it has
 * an errno (a missing file, a read error), which also becomes errno; damage
 * it finds itself has none and reads as EIO. */
static int fail_from(struct archive *a, struct err *err, const char *what, const char *path)
{
	const char *msg = archive_error_string(a);
	int e = archive_errno(a);

	if (!msg)
		msg = "unknown libarchive error";
	errno = e > 0 ? e : EIO;
	if (e > 0)
		return err_fail(err, "%s %s: %s: %s", what, path, msg, strerror(e));
	return err_fail(err, "%s %s: %s", what, path, msg);
}

struct archive_stream *archive_stream_new(const char *path, struct err *err)
{
	struct archive_stream *s = calloc(1, sizeof(*s));
	struct archive_entry *entry;
	int rc;

	if (!s) {
		err_fail(err, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	s->path = strdup(path);
	s->archive = archive_read_new();
	if (!s->path || !s->archive) {
		errno = ENOMEM;
		err_fail(err, "open %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Every compression filter libarchive knows, and the "raw" format: the
	 * decompressed bytes as one entry, with no archive format expected
	 * inside. A file with no recognised compression goes through the
	 * "none" filter, so a plain log reads unchanged. "empty" lets a
	 * zero-byte file read as empty instead of failing. */
	if (archive_read_support_filter_all(s->archive) != ARCHIVE_OK ||
	    archive_read_support_format_raw(s->archive) != ARCHIVE_OK ||
	    archive_read_support_format_empty(s->archive) != ARCHIVE_OK) {
		fail_from(s->archive, err, "open", path);
		goto fail;
	}
	if (archive_read_open_filename(s->archive, path, 64 * 1024) != ARCHIVE_OK) {
		fail_from(s->archive, err, "open", path);
		goto fail;
	}
	rc = archive_read_next_header(s->archive, &entry);
	if (rc == ARCHIVE_EOF) {
		s->at_end = 1;
	} else if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		fail_from(s->archive, err, "read", path);
		goto fail;
	}
	return s;
fail:
	archive_stream_free(s);
	return NULL;
}

ssize_t archive_stream_read(struct archive_stream *s, void *buf, size_t len, struct err *err)
{
	la_ssize_t n;

	if (s->at_end || len == 0)
		return 0;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	do {
		n = archive_read_data(s->archive, buf, len);
	} while (n == ARCHIVE_RETRY);
	/* ARCHIVE_WARN and ARCHIVE_FATAL alike: no bytes came with them, and
	 * the stream cannot be trusted past this point. */
	if (n < 0)
		return fail_from(s->archive, err, "read", s->path);
	if (n == 0)
		s->at_end = 1;
	return (ssize_t)n;
}

void archive_stream_free(struct archive_stream *s)
{
	if (!s)
		return;
	int saved = errno;
	if (s->archive)
		archive_read_free(s->archive);
	free(s->path);
	free(s);
	errno = saved;
}

int archive_is_compressed_name(const char *name)
{
	static const char *const suffixes[] = {".gz", ".zst", ".xz", ".bz2", ".lz4", ".Z"};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t suffix_len = strlen(suffixes[i]);
		if (len > suffix_len && strcmp(name + len - suffix_len, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}
