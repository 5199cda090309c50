#include "lib/store/framelog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "lib/base/buf.h"
#include "lib/base/durable.h"

struct framelog {
	char *path;
	int fd;
	ZSTD_CCtx *cctx;
	char *lines; /* buffered lines, each ending in '\n' */
	size_t lines_len;
	size_t lines_cap;
	size_t pending;
	char *frame; /* compressed output, reused across flushes */
	size_t frame_cap;
	uint64_t length;
};

struct framelog *framelog_new(const char *path, int level, struct err *err)
{
	struct framelog *log = calloc(1, sizeof(*log));
	struct stat st;
	size_t rc;

	if (!log) {
		err_fail(err, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	log->fd = -1;
	log->path = strdup(path);
	log->cctx = ZSTD_createCCtx();
	if (!log->path || !log->cctx) {
		errno = ENOMEM;
		err_fail(err, "open %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Level 0 is zstd's "default level", as the header promises. The
	 * content checksum costs 4 bytes a frame and lets the reader tell a
	 * frame damaged inside (a crash that left zeros, bit rot) from a good
	 * one, so it stops there instead of handing out garbage lines. */
	rc = ZSTD_CCtx_setParameter(log->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(log->cctx, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(rc)) {
		errno = EINVAL;
		err_fail(err, "open %s: zstd level %d: %s", path, level, ZSTD_getErrorName(rc));
		goto fail;
	}
	log->fd = durable_open_append(path, err);
	if (log->fd < 0)
		goto fail;
	if (fstat(log->fd, &st) != 0) {
		err_fail(err, "stat %s: %s", path, strerror(errno));
		goto fail;
	}
	log->length = (uint64_t)st.st_size;
	return log;
fail:
	framelog_free(log);
	return NULL;
}

int framelog_add(struct framelog *log, const char *line, size_t len, struct err *err)
{
	if (len > SIZE_MAX - 1 - log->lines_len ||
	    BUF_ARRAY_GROW(log->lines, log->lines_len + len + 1, log->lines_cap))
		return err_set(err, ENOMEM, "%s: out of memory buffering a line", log->path);
	if (len)
		memcpy(log->lines + log->lines_len, line, len);
	log->lines[log->lines_len + len] = '\n';
	log->lines_len += len + 1;
	log->pending++;
	return 0;
}

size_t framelog_pending(const struct framelog *log)
{
	return log->pending;
}

void framelog_discard(struct framelog *log)
{
	log->lines_len = 0;
	log->pending = 0;
}

uint64_t framelog_length(const struct framelog *log)
{
	return log->length;
}

/* Truncates the file back to the last flushed length. 0, or -1 with errno. */
static int roll_back(struct framelog *log)
{
	if (ftruncate(log->fd, (off_t)log->length) != 0 || fdatasync(log->fd) != 0)
		return -1;
	return 0;
}

/* On failure the lines stay buffered, so the caller may retry the flush or
 * discard them. */
int framelog_flush(struct framelog *log, struct err *err)
{
	struct stat st;

	if (log->lines_len == 0)
		return 0;

	size_t bound = ZSTD_compressBound(log->lines_len);
	if (ZSTD_isError(bound) || BUF_ARRAY_GROW(log->frame, bound, log->frame_cap)) {
		errno = ENOMEM;
		return err_fail(err, "compress for %s: %s", log->path, strerror(errno));
	}
	size_t frame_len =
	    ZSTD_compress2(log->cctx, log->frame, log->frame_cap, log->lines, log->lines_len);
	if (ZSTD_isError(frame_len)) {
		errno = EIO;
		return err_fail(err, "compress for %s: %s", log->path,
				ZSTD_getErrorName(frame_len));
	}

	/* O_APPEND writes land at the end of the file, whatever it is: a tail
	 * left by an earlier failed flush whose roll-back failed too must go
	 * first, or framelog_length() would no longer be where this frame
	 * ends. */
	if (fstat(log->fd, &st) != 0)
		return err_fail(err, "stat %s: %s", log->path, strerror(errno));
	if ((uint64_t)st.st_size != log->length) {
		if ((uint64_t)st.st_size < log->length) {
			errno = ERANGE;
			return err_fail(
			    err, "%s shrank to %" PRIu64 " bytes below its %" PRIu64 " flushed",
			    log->path, (uint64_t)st.st_size, log->length);
		}
		if (roll_back(log) != 0)
			return err_fail(err, "cut back %s to %" PRIu64 ": %s", log->path,
					log->length, strerror(errno));
	}

	/* fdatasync covers the data and the new file size, which is all an
	 * append changes; the lengths recorded by the commit that follows
	 * must never count bytes that are not yet on disk. */
	if (durable_write_all(log->fd, log->frame, frame_len, NULL) != 0 ||
	    fdatasync(log->fd) != 0) {
		int failed = errno;
		int cut = roll_back(log);
		errno = failed;
		if (cut != 0)
			return err_fail(err, "append to %s: %s (and cutting back failed)",
					log->path, strerror(failed));
		return err_fail(err, "append to %s: %s", log->path, strerror(failed));
	}
	log->length += frame_len;
	framelog_discard(log);
	return 0;
}

void framelog_free(struct framelog *log)
{
	if (!log)
		return;
	int saved = errno;
	if (log->fd >= 0)
		close(log->fd);
	ZSTD_freeCCtx(log->cctx);
	free(log->lines);
	free(log->frame);
	free(log->path);
	free(log);
	errno = saved;
}

/* The reader's state: a window of the file, the decoder, and the output of
 * the frame being decoded. */
struct frame_reader {
	int fd;
	uint64_t limit;	   /* bytes of the file that may be read */
	uint64_t read_end; /* file offset just past in[in_len - 1] */
	int eof;	   /* nothing more below limit */
	char *in;
	size_t in_pos; /* start of the next frame in in[] */
	size_t in_len;
	size_t in_cap;
	ZSTD_DCtx *dctx;
	char *out;
	size_t out_cap;
};

/* Reads more of the file into the window, moving the unread part to the
 * front and growing the window when it is full (a frame longer than the
 * window). 0, or -1 on a read or allocation failure. */
static int reader_fill(struct frame_reader *r)
{
	if (r->in_pos > 0) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	if (r->in_len == r->in_cap && BUF_ARRAY_GROW(r->in, r->in_cap + 1, r->in_cap))
		return -1;
	while (!r->eof && r->in_len < r->in_cap) {
		size_t want = r->in_cap - r->in_len;
		if (r->limit - r->read_end < want)
			want = (size_t)(r->limit - r->read_end);
		if (want == 0) {
			r->eof = 1;
			break;
		}
		ssize_t n = read(r->fd, r->in + r->in_len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			r->eof = 1;
			break;
		}
		r->in_len += (size_t)n;
		r->read_end += (uint64_t)n;
	}
	return 0;
}

/* Decodes one whole frame of src into r->out. Returns its decoded length,
 * -1 when the frame is damaged, -2 on allocation failure. */
static long long reader_decode(struct frame_reader *r, const void *src, size_t src_len)
{
	ZSTD_inBuffer in = {src, src_len, 0};
	ZSTD_outBuffer out = {r->out, r->out_cap, 0};

	/* Start from the declared size when it is there and plausible; the
	 * output still grows as needed, so a lying header costs nothing. */
	unsigned long long declared = ZSTD_getFrameContentSize(src, src_len);
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR &&
	    declared < (64u << 20)) {
		if (BUF_ARRAY_GROW(r->out, (size_t)declared + 1, r->out_cap))
			return -2;
		out.dst = r->out;
		out.size = r->out_cap;
	}

	ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
	for (;;) {
		if (out.pos == out.size) {
			if (BUF_ARRAY_GROW(r->out, out.size + ZSTD_DStreamOutSize(), r->out_cap))
				return -2;
			out.dst = r->out;
			out.size = r->out_cap;
		}
		size_t in_before = in.pos;
		size_t out_before = out.pos;
		size_t rc = ZSTD_decompressStream(r->dctx, &out, &in);
		if (ZSTD_isError(rc))
			return -1;
		if (rc == 0)
			break;
		/* Room to write and nothing consumed or produced: the frame ends
		 * before the decoder thinks it does. */
		if (out.pos < out.size && in.pos == in_before && out.pos == out_before)
			return -1;
	}
	if (in.pos != in.size)
		return -1;
	return (long long)out.pos;
}

/* Hands each line of a decoded frame to fn. Returns lines delivered, and
 * sets *stop when fn asked to stop. */
static long deliver_lines(const char *text, size_t len, framelog_line_fn fn, void *ctx, int *stop)
{
	long delivered = 0;
	const char *p = text;
	const char *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		/* A frame from another writer may end without a newline: its
		 * last line is still a line. */
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		delivered++;
		if (fn && fn(ctx, p, line_len) != 0) {
			*stop = 1;
			break;
		}
		p += line_len + (nl ? 1 : 0);
	}
	return delivered;
}

long framelog_read(const char *path, uint64_t limit, framelog_line_fn fn, void *ctx,
		   uint64_t *valid_length, struct err *err)
{
	long ret = -1;
	long lines = 0;
	uint64_t valid = 0;
	int stop = 0;
	struct frame_reader r = {.fd = -1, .limit = limit};

	if (valid_length)
		*valid_length = 0;
	r.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0) {
		if (errno == ENOENT) {
			ret = 0;
			goto out;
		}
		err_fail(err, "open %s: %s", path, strerror(errno));
		goto out;
	}
	r.dctx = ZSTD_createDCtx();
	if (!r.dctx || BUF_ARRAY_GROW(r.in, 256 * 1024, r.in_cap)) {
		errno = ENOMEM;
		err_fail(err, "read %s: %s", path, strerror(errno));
		goto out;
	}

	while (!stop) {
		size_t avail = r.in_len - r.in_pos;
		size_t frame_len = 0;
		int need_more = avail == 0;

		if (!need_more) {
			frame_len = ZSTD_findFrameCompressedSize(r.in + r.in_pos, avail);
			/* srcSize_wrong: the frame goes on past what we hold. Any
			 * other error is a damaged frame: stop before it. */
			if (ZSTD_isError(frame_len)) {
				if (ZSTD_getErrorCode(frame_len) != ZSTD_error_srcSize_wrong)
					break;
				need_more = 1;
			}
		}
		if (need_more) {
			/* At the end of the file (or of the limit), nothing held is
			 * a clean end and a frame still incomplete is the
			 * truncated tail. */
			if (r.eof)
				break;
			if (reader_fill(&r) != 0) {
				err_fail(err, "read %s: %s", path, strerror(errno));
				goto out;
			}
			continue;
		}
		long long text_len = reader_decode(&r, r.in + r.in_pos, frame_len);
		if (text_len == -2) {
			errno = ENOMEM;
			err_fail(err, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (text_len < 0)
			break;
		r.in_pos += frame_len;
		valid += frame_len;
		lines += deliver_lines(r.out, (size_t)text_len, fn, ctx, &stop);
	}
	if (valid_length)
		*valid_length = valid;
	ret = lines;
out:
	if (r.fd >= 0) {
		int saved = errno;
		close(r.fd);
		errno = saved;
	}
	ZSTD_freeDCtx(r.dctx);
	free(r.in);
	free(r.out);
	return ret;
}
