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

#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *archive_file_kind(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a folder";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	default:
		return "not a file";
	}
}

int archive_open_regular(const char *path, struct stat *st, struct err *err)
{
	struct stat own;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (!st)
		st = &own;
	if (fd < 0)
		return err_fail(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, st) != 0) {
		err_fail(err, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return err_set(err, EINVAL, "%s: is %s, not a regular file", path,
			       archive_file_kind((unsigned)st->st_mode));
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		err_fail(err, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct archive_stream {
	struct archive *archive; /* the decompressed bytes */
	struct archive *outer;	 /* the archive holding the member, or NULL */
	char *path;
	int fd; /* the file, when the stream opened it itself (archive_stream_fd) */
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

static struct archive_stream *stream_alloc(const char *path, struct err *err)
{
	struct archive_stream *s = calloc(1, sizeof(*s));
	if (s) {
		s->fd = -1;
		s->path = strdup(path);
		s->archive = archive_read_new();
	}
	if (!s || !s->path || !s->archive) {
		errno = ENOMEM;
		err_fail(err, "open %s: %s", path, strerror(errno));
		archive_stream_free(s);
		return NULL;
	}
	return s;
}

/* Every compression filter libarchive knows, and the "raw" format: the
 * decompressed bytes as one entry, with no archive format expected inside.
 * A file with no recognised compression goes through the "none" filter, so
 * a plain log reads unchanged. "empty" lets a zero-byte file read as empty
 * instead of failing. */
static int support_raw(struct archive_stream *s, struct err *err)
{
	if (archive_read_support_filter_all(s->archive) != ARCHIVE_OK ||
	    archive_read_support_format_raw(s->archive) != ARCHIVE_OK ||
	    archive_read_support_format_empty(s->archive) != ARCHIVE_OK)
		return fail_from(s->archive, err, "open", s->path);
	return 0;
}

/* The first (only) entry of the raw format. */
static int first_entry(struct archive_stream *s, struct err *err)
{
	struct archive_entry *entry;
	int rc = archive_read_next_header(s->archive, &entry);
	if (rc == ARCHIVE_EOF)
		s->at_end = 1;
	else if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
		return fail_from(s->archive, err, "read", s->path);
	return 0;
}

static la_ssize_t member_read(struct archive *inner, void *ctx, const void **buf);

/* Opens s's decompressed bytes: those of the member when s->outer is set
 * (archive_stream_member), else of the file open at s->fd, else of the file
 * at s->path; and goes to its first (only) entry. */
static int raw_open(struct archive_stream *s, struct err *err)
{
	int rc;
	if (support_raw(s, err))
		return -1;
	if (!s->outer && s->fd < 0 && (s->fd = archive_open_regular(s->path, NULL, err)) < 0)
		return -1;
	if (s->outer)
		rc = archive_read_open(s->archive, s, NULL, member_read, NULL);
	else
		rc = archive_read_open_fd(s->archive, s->fd, 64 * 1024);
	if (rc != ARCHIVE_OK)
		return fail_from(s->archive, err, "open", s->path);
	return first_entry(s, err);
}

/* A stream of the file at path, or (fd >= 0) of the file open at fd,
 * which the stream then owns. */
static struct archive_stream *open_stream(const char *path, int fd, struct err *err)
{
	struct archive_stream *s = stream_alloc(path, err);
	if (!s) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	s->fd = fd;
	if (raw_open(s, err)) {
		archive_stream_free(s);
		return NULL;
	}
	return s;
}

struct archive_stream *archive_stream_new(const char *path, struct err *err)
{
	return open_stream(path, -1, err);
}

struct archive_stream *archive_stream_fd(const char *path, int fd, struct err *err)
{
	return open_stream(path, fd, err);
}

/* Opens path as an archive of any format libarchive reads (tar, and the
 * others it knows), under any compression; *fd is the file's descriptor,
 * for the caller to close after archive_read_free. */
static struct archive *open_archive(const char *path, int *fd, struct err *err)
{
	struct archive *a = archive_read_new();
	*fd = -1;
	if (!a) {
		errno = ENOMEM;
		err_fail(err, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (archive_read_support_filter_all(a) != ARCHIVE_OK ||
	    archive_read_support_format_all(a) != ARCHIVE_OK) {
		fail_from(a, err, "open", path);
		archive_read_free(a);
		return NULL;
	}
	*fd = archive_open_regular(path, NULL, err);
	if (*fd < 0) {
		archive_read_free(a);
		return NULL;
	}
	if (archive_read_open_fd(a, *fd, 64 * 1024) != ARCHIVE_OK) {
		fail_from(a, err, "open", path);
		archive_read_free(a);
		close(*fd);
		*fd = -1;
		return NULL;
	}
	return a;
}

int archive_list_members(const char *path, archive_member_fn fn, void *ctx, struct err *err)
{
	int fd, rc, ret = 0;
	struct archive *a = open_archive(path, &fd, err);
	struct archive_entry *entry;

	if (!a)
		return -1;
	while ((rc = archive_read_next_header(a, &entry)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(entry);
		if (archive_entry_filetype(entry) != AE_IFREG || !name)
			continue;
		int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
		ret = fn(ctx, name, size > 0 ? (uint64_t)size : 0);
		if (ret)
			break;
	}
	if (!ret && rc != ARCHIVE_EOF)
		ret = fail_from(a, err, "read", path);
	archive_read_free(a);
	close(fd);
	return ret;
}

/* The member's stored bytes, block by block, for the stream that
 * decompresses them. */
static la_ssize_t member_read(struct archive *inner, void *ctx, const void **buf)
{
	struct archive_stream *s = ctx;
	size_t size;
	la_int64_t offset;
	int rc = archive_read_data_block(s->outer, buf, &size, &offset);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		const char *msg = archive_error_string(s->outer);
		archive_set_error(inner,
				  archive_errno(s->outer) > 0 ? archive_errno(s->outer) : EIO, "%s",
				  msg ? msg : "damaged member");
		return -1;
	}
	return (la_ssize_t)size;
}

struct archive_stream *archive_stream_member(const char *path, const char *member, struct err *err)
{
	struct archive_stream *s = stream_alloc(path, err);
	struct archive_entry *entry;
	int rc;

	if (!s)
		return NULL;
	/* The archive's descriptor is the stream's to close. */
	s->outer = open_archive(path, &s->fd, err);
	if (!s->outer)
		goto fail;
	while ((rc = archive_read_next_header(s->outer, &entry)) == ARCHIVE_OK ||
	       rc == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(entry);
		if (archive_entry_filetype(entry) == AE_IFREG && name && strcmp(name, member) == 0)
			break;
	}
	if (rc == ARCHIVE_EOF) {
		err_set(err, ENOENT, "%s: no member %s", path, member);
		goto fail;
	}
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		fail_from(s->outer, err, "read", path);
		goto fail;
	}
	/* The member may itself be compressed (attribution.jsonl.3.gz in a
	 * tar): its bytes go through the same filters as a file's. */
	if (raw_open(s, err))
		goto fail;
	return s;
fail:
	archive_stream_free(s);
	return NULL;
}

uint64_t archive_stream_bytes_in(const struct archive_stream *s)
{
	la_int64_t n = archive_filter_bytes(s->outer ? s->outer : s->archive, -1);
	return n > 0 ? (uint64_t)n : 0;
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
	if (s->outer)
		archive_read_free(s->outer);
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
	errno = saved;
}

/* 1 when name ends in one of the n suffixes (and is more than it). */
static int has_suffix(const char *name, const char *const *suffixes, size_t n)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++) {
		size_t suffix_len = strlen(suffixes[i]);
		if (len > suffix_len && strcmp(name + len - suffix_len, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

int archive_is_compressed_name(const char *name)
{
	static const char *const suffixes[] = {".gz", ".zst", ".xz", ".bz2", ".lz4", ".Z"};
	return has_suffix(name, suffixes, sizeof suffixes / sizeof suffixes[0]);
}

int archive_is_archive_name(const char *name)
{
	static const char *const suffixes[] = {".tar",	".tar.gz",  ".tgz", ".tar.zst",
					       ".tzst", ".tar.xz",  ".txz", ".tar.bz2",
					       ".tbz2", ".tar.lz4", ".zip"};
	return has_suffix(name, suffixes, sizeof suffixes / sizeof suffixes[0]);
}
