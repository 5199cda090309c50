#include "lib/ingest/follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/ingest/archive.h"
#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/hash.h"
#include "lib/base/logline.h"
#include "lib/ingest/logscan.h"

#define CHUNK (64 * 1024)

/* Where a reader stands in a file's life. A reader starts FOLLOWING (the
 * current file, or a file not yet placed); the current one alternates with
 * AT_END as it reads; a reader that becomes draining turns ORPHAN or FINITE
 * and stays so until it is let go. */
enum reader_state {
	READER_FOLLOWING, /* the file under the source's name, more may be there */
	READER_AT_END,	  /* the same, read to its end when last asked: look at
			   * the name again before reading on */
	READER_ORPHAN,	  /* renamed away or deleted: its writer may still append
			   * a little; held until orphan_let_go() */
	READER_FINITE,	  /* nothing will be appended: read to the end, let go */
};

struct reader {
	struct follow_position pos;  /* pos.offset: first byte not handed out */
	int fd;			     /* plain file, or -1 */
	struct archive_stream *arch; /* compressed file, or NULL */
	char *buf;		     /* bytes read from file offset `base` on */
	size_t len, cap, consumed;
	uint64_t base;
	/* Fingerprints kept while reading: the head hash grows while we read
	 * the file's first FOLLOW_HEAD_BYTES; the last bytes read let us tell
	 * a truncated-and-regrown file from one that only grew. */
	uint64_t head_hash;
	uint32_t head_len;
	int head_complete; /* head_len is final (restored, or reached the limit) */
	char last[FOLLOW_TAIL_BYTES];
	size_t last_len;
	int skipping;	     /* inside an over-long line */
	uint64_t skipped;    /* its bytes so far */
	uint64_t skip_start; /* its offset */
	enum reader_state state;
	int64_t idle_since; /* orphan: when it was last found with nothing new */
};

struct source {
	char name[256];
	char path[FOLLOW_PATH_MAX];
	struct reader *current;
	struct reader *draining[FOLLOW_MAX_DRAINING];
	size_t n_draining;
	struct follow_done done[FOLLOW_MAX_DONE];
	size_t n_done;
	int dirty;		/* an event named it: re-examine before reading */
	int rotated_written;	/* an event says one of its rotated files was written to */
	int refused;		/* what holds the name is not a regular file, and was said */
	struct stat refused_st; /* that thing, to say it again only when it changes */
};

struct follow {
	char dir[FOLLOW_PATH_MAX];
	int ifd, wd, polling;
	struct follow_options opt;
	size_t n;
	struct source src[FOLLOW_MAX_SOURCES];
	char pathbuf[FOLLOW_PATH_MAX]; /* line->path for FOLLOW_TAIL after release */
};

/* One line for the operator through opt.log (logline.h). */
#define say(f, ...) logline_say((f)->opt.log, (f)->opt.log_ctx, __VA_ARGS__)

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mtime_us(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000 + st->st_mtim.tv_nsec / 1000;
}

/* ---- readers ---------------------------------------------------------- */

static void reader_free(struct reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	archive_stream_free(r->arch);
	free(r->buf);
	free(r);
}

static struct reader *reader_alloc(const char *path)
{
	struct reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->fd = -1;
	r->state = READER_FOLLOWING;
	r->head_hash = HASH_FNV1A64_INIT;
	snprintf(r->pos.path, sizeof r->pos.path, "%s", path);
	return r;
}

/* Opens a plain file from its start. */
static struct reader *reader_open_plain(const char *path, struct err *err)
{
	struct stat st;
	struct reader *r = reader_alloc(path);
	if (!r)
		return NULL;
	r->fd = archive_open_regular(path, &st, err);
	if (r->fd < 0) {
		reader_free(r);
		return NULL;
	}
	r->pos.dev = st.st_dev;
	r->pos.ino = st.st_ino;
	r->pos.size = (uint64_t)st.st_size;
	r->pos.mtime_us = mtime_us(&st);
	return r;
}

/* Opens the file at s's name as its current file. Only a regular file is
 * followed: anything else there (a FIFO, a device, a folder) is said once,
 * and again only when another takes its place, and left alone until a
 * regular file takes the name. */
static struct reader *open_named(struct follow *f, struct source *s, struct err *err)
{
	struct stat st;
	struct reader *r = reader_open_plain(s->path, err);
	if (r) {
		s->refused = 0;
		return r;
	}
	if (err->code != EINVAL || stat(s->path, &st) != 0 || S_ISREG(st.st_mode))
		return NULL;
	if (!s->refused || st.st_dev != s->refused_st.st_dev || st.st_ino != s->refused_st.st_ino ||
	    st.st_mode != s->refused_st.st_mode || st.st_rdev != s->refused_st.st_rdev)
		say(f, "%s: ignored until a regular file takes its name", err->msg);
	s->refused = 1;
	s->refused_st = st;
	return NULL;
}

static int reader_grow(struct reader *r, size_t want)
{
	if (r->consumed > 0 && (r->consumed == r->len || r->cap - r->len < want)) {
		memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
		r->len -= r->consumed;
		r->base += r->consumed;
		r->consumed = 0;
	}
	return BUF_ARRAY_GROW(r->buf, r->len + want, r->cap);
}

/* Notes newly read bytes at file offset at: the growing head hash and the
 * window of last bytes. */
static void reader_saw(struct reader *r, uint64_t at, const char *data, size_t n)
{
	if (!r->head_complete && at == r->head_len) {
		size_t take = FOLLOW_HEAD_BYTES - r->head_len;
		if (take > n)
			take = n;
		r->head_hash = hash_fnv1a64(r->head_hash, data, take);
		r->head_len += (uint32_t)take;
		if (r->head_len == FOLLOW_HEAD_BYTES)
			r->head_complete = 1;
	}
	if (n >= FOLLOW_TAIL_BYTES) {
		memcpy(r->last, data + n - FOLLOW_TAIL_BYTES, FOLLOW_TAIL_BYTES);
		r->last_len = FOLLOW_TAIL_BYTES;
	} else {
		size_t keep =
		    r->last_len + n > FOLLOW_TAIL_BYTES ? FOLLOW_TAIL_BYTES - n : r->last_len;
		memmove(r->last, r->last + r->last_len - keep, keep);
		memcpy(r->last + keep, data, n);
		r->last_len = keep + n;
	}
}

/* Reads more bytes into the buffer. Returns bytes read, 0 at the end, -1. */
static ssize_t reader_fill(struct reader *r, struct err *err)
{
	ssize_t n;
	uint64_t at;

	if (reader_grow(r, CHUNK))
		return err_fail(err, "out of memory reading %s", r->pos.path);
	at = r->base + r->len;
	if (r->arch) {
		n = archive_stream_read(r->arch, r->buf + r->len, r->cap - r->len, err);
	} else {
		do
			n = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)at);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			err_fail(err, "%s: %s", r->pos.path, strerror(errno));
	}
	if (n > 0) {
		reader_saw(r, at, r->buf + r->len, (size_t)n);
		r->len += (size_t)n;
	}
	return n;
}

/* Hash of len bytes at offset of a plain file; -1 when they cannot be read. */
static int hash_at(int fd, uint64_t offset, uint32_t len, uint64_t *out)
{
	char buf[FOLLOW_HEAD_BYTES];
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(offset + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	*out = hash_fnv1a64(HASH_FNV1A64_INIT, buf, len);
	return 0;
}

/* Does the plain file open at fd hold the saved content up to pos->offset? */
static int plain_matches(int fd, const struct follow_position *pos)
{
	struct stat st;
	uint64_t h;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < pos->offset)
		return 0;
	if (pos->head_len && (hash_at(fd, 0, pos->head_len, &h) || h != pos->head_hash))
		return 0;
	if (pos->tail_len &&
	    (hash_at(fd, pos->offset - pos->tail_len, pos->tail_len, &h) || h != pos->tail_hash))
		return 0;
	return 1;
}

/* Opens a compressed file and streams it up to pos->offset, checking both
 * fingerprints on the way. Returns a reader positioned at the offset, or
 * NULL when the content differs. */
static struct reader *compressed_match(const char *path, const struct follow_position *pos)
{
	struct err err;
	struct reader *r = reader_alloc(path);
	uint64_t head = HASH_FNV1A64_INIT, tail = HASH_FNV1A64_INIT, at = 0;
	char buf[CHUNK];

	if (!r)
		return NULL;
	r->arch = archive_stream_new(path, &err);
	if (!r->arch)
		goto mismatch;
	while (at < pos->offset) {
		size_t want = sizeof buf;
		if (want > pos->offset - at)
			want = (size_t)(pos->offset - at);
		ssize_t n = archive_stream_read(r->arch, buf, want, &err);
		if (n <= 0)
			goto mismatch;
		for (ssize_t i = 0; i < n; i++) {
			uint64_t o = at + (uint64_t)i;
			if (o < pos->head_len)
				head = hash_fnv1a64(head, buf + i, 1);
			if (o >= pos->offset - pos->tail_len)
				tail = hash_fnv1a64(tail, buf + i, 1);
		}
		at += (uint64_t)n;
	}
	/* A head saved longer than the offset (bytes read but not handed out,
	 * no longer at hand to cut it down): those bytes are checked too, and
	 * kept as the start of what is read next. */
	char beyond[FOLLOW_HEAD_BYTES];
	size_t n_beyond = 0;
	while (at + n_beyond < pos->head_len) {
		ssize_t n = archive_stream_read(r->arch, beyond + n_beyond,
						(size_t)(pos->head_len - at - n_beyond), &err);
		if (n <= 0)
			goto mismatch;
		head = hash_fnv1a64(head, beyond + n_beyond, (size_t)n);
		n_beyond += (size_t)n;
	}
	if ((pos->head_len && head != pos->head_hash) || (pos->tail_len && tail != pos->tail_hash))
		goto mismatch;
	r->base = pos->offset;
	r->pos = *pos;
	snprintf(r->pos.path, sizeof r->pos.path, "%s", path);
	r->pos.compressed = 1;
	r->head_hash = pos->head_len ? pos->head_hash : HASH_FNV1A64_INIT;
	r->head_len = pos->head_len;
	r->head_complete = pos->head_len == FOLLOW_HEAD_BYTES || pos->offset != pos->head_len;
	if (n_beyond) {
		if (reader_grow(r, n_beyond))
			goto mismatch;
		memcpy(r->buf, beyond, n_beyond);
		r->len = n_beyond;
	}
	return r;
mismatch:
	reader_free(r);
	return NULL;
}

/* ---- siblings --------------------------------------------------------- */

/* Lists the rotated siblings of a source ("NAME.1", "NAME.2.gz",
 * "NAME-20260101", "NAME.1.zst"…, not NAME itself), oldest first. The
 * caller frees. */
static size_t list_siblings(struct follow *f, struct source *s, struct logscan_file **out)
{
	struct err err;
	size_t n = 0, kept = 0;
	if (logscan_list(f->dir, s->name, out, &n, &err) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(*out)[i].is_named)
			(*out)[kept++] = (*out)[i];
	return kept;
}

/* A reader resumed at an offset has read nothing yet, but the bytes just
 * before the offset are what a truncate-and-regrow is recognised by
 * (examine): take them from the file, whose content up to the offset was
 * just checked. */
static void prime_last(struct reader *r)
{
	uint64_t at = r->base;
	size_t n = at < FOLLOW_TAIL_BYTES ? (size_t)at : FOLLOW_TAIL_BYTES;
	ssize_t got;
	if (r->fd < 0 || n == 0)
		return;
	do
		got = pread(r->fd, r->last, n, (off_t)(at - n));
	while (got < 0 && errno == EINTR);
	r->last_len = got == (ssize_t)n ? n : 0;
}

/* Finds the file holding pos's content (same bytes up to pos->offset) among
 * the path itself and the siblings. Skips files in `skip` (by dev/ino). */
static struct reader *locate(const struct follow_position *pos, struct logscan_file *sibs,
			     size_t nsibs)
{
	struct err err;
	struct reader *r;

	/* Same path, same inode: the common case of a restart. Nothing read
	 * means no fingerprint: then only an unchanged modification time
	 * tells the file from a new one that was given the freed inode. */
	r = reader_open_plain(pos->path, &err);
	if (r && r->pos.dev == pos->dev && r->pos.ino == pos->ino && plain_matches(r->fd, pos) &&
	    (pos->offset > 0 || r->pos.mtime_us == pos->mtime_us))
		goto found_plain;
	reader_free(r);
	/* Nothing read from it yet: nothing to finish, and an empty head
	 * would match any file. */
	if (pos->offset == 0)
		return NULL;
	/* Renamed: the same inode under another name first, then a copy
	 * (copytruncate), then compressed copies. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < nsibs; i++) {
			struct logscan_file *sb = &sibs[i];
			if ((pass == 2) != sb->compressed)
				continue;
			if (pass == 0 && (sb->st.st_dev != pos->dev || sb->st.st_ino != pos->ino))
				continue;
			if (pass == 2) {
				r = compressed_match(sb->path, pos);
				if (r)
					return r;
				continue;
			}
			r = reader_open_plain(sb->path, &err);
			if (r && plain_matches(r->fd, pos))
				goto found_plain;
			reader_free(r);
		}
	}
	return NULL;
found_plain:
	r->base = pos->offset;
	r->pos.offset = pos->offset;
	r->head_hash = pos->head_hash;
	r->head_len = pos->head_len;
	r->head_complete = pos->head_len == FOLLOW_HEAD_BYTES || pos->offset > pos->head_len;
	prime_last(r);
	return r;
}

/* Is this sibling one of the finished files in list (same size, same
 * head)? */
static int is_finished(const struct follow_done *list, size_t n, struct logscan_file *sb)
{
	for (size_t i = 0; i < n; i++) {
		const struct follow_done *d = &list[i];
		if (sb->compressed) {
			struct follow_position p = {
			    .offset = d->size, .head_len = d->head_len, .head_hash = d->head_hash};
			struct reader *r = compressed_match(sb->path, &p);
			if (r) {
				char c;
				struct err err;
				ssize_t more = archive_stream_read(r->arch, &c, 1, &err);
				reader_free(r);
				if (more == 0)
					return 1;
			}
		} else if ((uint64_t)sb->st.st_size == d->size) {
			int fd = archive_open_regular(sb->path, NULL, NULL);
			uint64_t h;
			int same =
			    fd >= 0 && hash_at(fd, 0, d->head_len, &h) == 0 && h == d->head_hash;
			if (fd >= 0)
				close(fd);
			if (same)
				return 1;
		}
	}
	return 0;
}

/* A reader of the plain file at path from where the finished file d
 * ended, when path starts like d; else NULL. */
static struct reader *resume_plain(const char *path, const struct follow_done *d)
{
	struct err err;
	uint64_t h;
	struct reader *r = reader_open_plain(path, &err);
	if (r && (hash_at(r->fd, 0, d->head_len, &h) != 0 || h != d->head_hash)) {
		reader_free(r);
		return NULL;
	}
	if (r) {
		r->base = d->size;
		r->pos.offset = d->size;
		r->head_hash = d->head_hash;
		r->head_len = d->head_len;
		r->head_complete = 1;
		prime_last(r);
	}
	return r;
}

/* Is this sibling one of the finished files in list, grown since it was
 * let go (its writer appended after we read its end)? Then a reader at the
 * end of what was read, else NULL. */
static struct reader *resume_finished(const struct follow_done *list, size_t n,
				      struct logscan_file *sb)
{
	/* Largest first: a file finished twice may be there twice (a state
	 * written before entries were replaced). */
	const struct follow_done *order[FOLLOW_MAX_DONE];
	size_t m = 0;
	for (size_t i = 0; i < n && m < FOLLOW_MAX_DONE; i++) {
		size_t k = m++;
		while (k > 0 && order[k - 1]->size < list[i].size) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = &list[i];
	}
	for (size_t i = 0; i < m; i++) {
		const struct follow_done *d = order[i];
		struct follow_position p = {
		    .offset = d->size, .head_len = d->head_len, .head_hash = d->head_hash};
		struct reader *r = NULL;
		struct err err;
		if (d->size == 0)
			continue;
		if (sb->compressed) {
			r = compressed_match(sb->path, &p);
			if (r && reader_fill(r, &err) <= 0 && r->len == 0) {
				reader_free(r);
				r = NULL;
			}
		} else if ((uint64_t)sb->st.st_size > d->size) {
			r = resume_plain(sb->path, d);
		}
		if (r)
			return r;
	}
	return NULL;
}

/* The size and head of a whole file, as the ring of finished files keeps
 * them; -1 when it cannot be read. */
static int whole_file_signature(struct logscan_file *sb, struct follow_done *out)
{
	struct err err;
	struct archive_stream *a;
	char buf[CHUNK];
	ssize_t n;

	out->size = 0;
	out->head_len = 0;
	out->head_hash = HASH_FNV1A64_INIT;
	if (!sb->compressed) {
		int fd = archive_open_regular(sb->path, NULL, NULL);
		struct stat st;
		int rc = -1;
		if (fd < 0)
			return -1;
		if (fstat(fd, &st) == 0) {
			out->size = (uint64_t)st.st_size;
			out->head_len =
			    out->size < FOLLOW_HEAD_BYTES ? (uint32_t)out->size : FOLLOW_HEAD_BYTES;
			rc = hash_at(fd, 0, out->head_len, &out->head_hash);
		}
		close(fd);
		return rc;
	}
	a = archive_stream_new(sb->path, &err);
	if (!a)
		return -1;
	while ((n = archive_stream_read(a, buf, sizeof buf, &err)) > 0) {
		if (out->head_len < FOLLOW_HEAD_BYTES) {
			size_t take = FOLLOW_HEAD_BYTES - out->head_len;
			if (take > (size_t)n)
				take = (size_t)n;
			out->head_hash = hash_fnv1a64(out->head_hash, buf, take);
			out->head_len += (uint32_t)take;
		}
		out->size += (uint64_t)n;
	}
	archive_stream_free(a);
	return n < 0 ? -1 : 0;
}

/* Does the sibling start like a file we are still reading? Then it is a
 * copytruncate copy of it (caught between the copy and the truncate, or
 * still being written), whose lines we read — or will read — from that
 * file: never an unseen file. */
static int is_copy_of_followed(struct source *s, struct logscan_file *sb)
{
	for (size_t i = 0; i <= s->n_draining; i++) {
		struct reader *r = i < s->n_draining ? s->draining[i] : s->current;
		if (!r || r->head_len == 0)
			continue;
		if (sb->compressed) {
			struct follow_position p = {.offset = r->head_len,
						    .head_len = r->head_len,
						    .head_hash = r->head_hash};
			struct reader *c = compressed_match(sb->path, &p);
			if (c) {
				reader_free(c);
				return 1;
			}
			continue;
		}
		int fd = archive_open_regular(sb->path, NULL, NULL);
		uint64_t h;
		int same = fd >= 0 && hash_at(fd, 0, r->head_len, &h) == 0 && h == r->head_hash;
		if (fd >= 0)
			close(fd);
		if (same)
			return 1;
	}
	return 0;
}

static void remember_done(struct source *s, struct reader *r)
{
	struct follow_done d = {.head_len = r->head_len,
				.head_hash = r->head_hash,
				.size = r->base + r->len,
				.dev = r->fd >= 0 ? r->pos.dev : 0,
				.ino = r->fd >= 0 ? r->pos.ino : 0};
	/* A file finished again (it grew after it was let go) replaces what
	 * was known of it. */
	for (size_t i = 0; i < s->n_done;)
		if (s->done[i].head_len == d.head_len && s->done[i].head_hash == d.head_hash) {
			memmove(&s->done[i], &s->done[i + 1],
				(s->n_done - i - 1) * sizeof *s->done);
			s->n_done--;
		} else {
			i++;
		}
	if (s->n_done == FOLLOW_MAX_DONE) {
		memmove(s->done, s->done + 1, (FOLLOW_MAX_DONE - 1) * sizeof *s->done);
		s->n_done--;
	}
	s->done[s->n_done++] = d;
}

static int add_draining(struct follow *f, struct source *s, struct reader *r)
{
	if (s->n_draining == FOLLOW_MAX_DRAINING) {
		say(f, "%s: more than %d rotated files waiting to be read; dropping %s", s->name,
		    FOLLOW_MAX_DRAINING, r->pos.path);
		reader_free(r);
		return -1;
	}
	s->draining[s->n_draining++] = r;
	return 0;
}

/* ---- setup -------------------------------------------------------------- */

const char *follow_network_fs(unsigned long f_type)
{
	/* Magic numbers from statfs(2) and linux/magic.h. */
	switch (f_type) {
	case 0x6969UL:
		return "NFS";
	case 0x517BUL:
		return "SMB";
	case 0xFF534D42UL:
		return "CIFS";
	case 0xFE534D42UL:
		return "SMB2";
	case 0x01021997UL:
		return "9P";
	case 0x00C36400UL:
		return "Ceph";
	case 0x5346414FUL:
		return "AFS";
	case 0x6B414653UL:
		return "kAFS";
	case 0x47504653UL:
		return "GPFS";
	case 0x0BD00BD0UL:
		return "Lustre";
	default:
		return NULL;
	}
}

struct follow *follow_new(const char *dir, const char *const *files, size_t n,
			  const struct follow_options *opt, struct err *err)
{
	struct follow *f;

	if (n > FOLLOW_MAX_SOURCES) {
		err_set(err, EINVAL, "at most %d sources", FOLLOW_MAX_SOURCES);
		return NULL;
	}
	f = calloc(1, sizeof *f);
	if (!f) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(f->dir, sizeof f->dir, "%s", dir);
	if (opt)
		f->opt = *opt;
	if (!f->opt.max_line)
		f->opt.max_line = 1 << 20;
	if (!f->opt.orphan_grace_us)
		f->opt.orphan_grace_us = 1000000;
	if (!f->opt.orphan_max_idle_us)
		f->opt.orphan_max_idle_us = 300000000;
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(f->src[i].name, sizeof f->src[i].name, "%s", files[i]);
		snprintf(f->src[i].path, sizeof f->src[i].path, "%s/%s", dir, files[i]);
	}
	f->ifd = f->wd = -1;
	struct statfs sf;
	const char *remote =
	    statfs(dir, &sf) == 0 ? follow_network_fs((unsigned long)sf.f_type) : NULL;
	if (remote && !f->opt.force_poll) {
		say(f,
		    "the logs folder %s is on %s, where inotify does not see writes made "
		    "by other machines: polling instead",
		    dir, remote);
		f->opt.force_poll = 1;
	}
	if (!f->opt.force_poll) {
		f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (f->ifd >= 0)
			f->wd = inotify_add_watch(f->ifd, dir,
						  IN_MODIFY | IN_CREATE | IN_DELETE |
						      IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |
						      IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
		if (f->ifd < 0 || f->wd < 0) {
			say(f, "inotify unavailable on %s (%s): polling instead", dir,
			    strerror(errno));
			if (f->ifd >= 0)
				close(f->ifd);
			f->ifd = -1;
		}
	}
	f->polling = f->ifd < 0;
	return f;
}

int follow_fd(const struct follow *f)
{
	return f->ifd;
}

int follow_is_polling(const struct follow *f)
{
	return f->polling;
}

static int same_file(const struct reader *r, const struct stat *st)
{
	return r && r->fd >= 0 && r->pos.dev == (uint64_t)st->st_dev &&
	       r->pos.ino == (uint64_t)st->st_ino;
}

/* Drops what an attempt at restoring a source built. */
static void restore_undo(struct source *s)
{
	reader_free(s->current);
	s->current = NULL;
	for (size_t k = 0; k < s->n_draining; k++)
		reader_free(s->draining[k]);
	s->n_draining = 0;
	s->n_done = 0;
}

/* Restores a source against one listing of its siblings. */
static void restore_from(struct follow *f, struct source *s, const struct follow_saved *saved,
			 int64_t committed_at_us, struct logscan_file *sibs, size_t nsibs,
			 struct err *err)
{
	struct stat st;
	struct reader *r;
	struct follow_done *unseen = NULL;
	size_t n_unseen = 0;

	if (saved) {
		s->n_done = saved->n_done;
		memcpy(s->done, saved->done, saved->n_done * sizeof *s->done);
		for (size_t i = 0; i < saved->n_draining + (size_t)saved->has_current; i++) {
			const struct follow_position *pos =
			    i < saved->n_draining ? &saved->draining[i] : &saved->current;
			int is_current = i == saved->n_draining;
			r = locate(pos, sibs, nsibs);
			if (!r) {
				if (pos->offset > 0 && pos->offset < pos->size)
					say(f,
					    "%s: %s is gone with %llu unread bytes (rotated away "
					    "while tradelearn was down)",
					    s->name, pos->path,
					    (unsigned long long)(pos->size - pos->offset));
				else if (pos->offset > 0)
					say(f, "%s: %s was read to its end and is gone", s->name,
					    pos->path);
				continue;
			}
			/* Read ahead a little: the fingerprints then describe the
			 * file as it is, so a copy of it taken since (copytruncate
			 * under way) is recognised below, and a truncation is
			 * recognised later even before anything is handed out. */
			if (!r->arch && reader_fill(r, err) < 0)
				say(f, "%s: %s", s->name, err->msg);
			if (is_current && !r->arch && strcmp(r->pos.path, s->path) == 0) {
				s->current = r;
			} else if (!r->arch && (pos->growing || is_current)) {
				/* Renamed away (before, or while we were down): its
				 * writer may not have reopened its log yet. */
				r->state = READER_ORPHAN;
				add_draining(f, s, r);
			} else {
				r->state = READER_FINITE;
				add_draining(f, s, r);
			}
		}
	}
	/* The file the name designates now, before the siblings are judged:
	 * a sibling that starts like it is its copy, not an unseen file. */
	if (!s->current && stat(s->path, &st) == 0) {
		int taken = 0;
		for (size_t k = 0; k < s->n_draining; k++)
			taken |= same_file(s->draining[k], &st);
		if (!taken) {
			s->current = open_named(f, s, err);
			if (s->current && reader_fill(s->current, err) < 0)
				say(f, "%s: %s", s->name, err->msg);
		}
	}
	if (saved) {
		if (nsibs)
			unseen = calloc(nsibs, sizeof *unseen);
		/* Files rotated while we were down that we never saw: changed
		 * after our last commit, and matching nothing we know. */
		for (size_t i = 0; i < nsibs; i++) {
			struct logscan_file *sb = &sibs[i];
			int known = 0;
			if (mtime_us(&sb->st) < committed_at_us - 2000000)
				continue;
			for (size_t k = 0; k < s->n_draining && !known; k++)
				known = strcmp(s->draining[k]->pos.path, sb->path) == 0 ||
					(!sb->compressed && same_file(s->draining[k], &sb->st));
			if (known || is_finished(s->done, s->n_done, sb) ||
			    is_copy_of_followed(s, sb))
				continue;
			/* The same unseen file can be there twice: NAME.1 and
			 * NAME.2.gz between its compression and its removal. */
			if (unseen && is_finished(unseen, n_unseen, sb))
				continue;
			r = resume_finished(s->done, s->n_done, sb);
			if (r) {
				say(f,
				    "%s: reading the end of %s, written after it was read to "
				    "its end and let go",
				    s->name, sb->path);
				/* A plain one may still be written to: held like a
				 * file renamed away. */
				r->state = r->arch ? READER_FINITE : READER_ORPHAN;
				if (unseen && whole_file_signature(sb, &unseen[n_unseen]) == 0)
					n_unseen++;
				add_draining(f, s, r);
				continue;
			}
			say(f, "%s: reading %s, rotated while tradelearn was down", s->name,
			    sb->path);
			if (sb->compressed) {
				struct follow_position p = {0};
				r = compressed_match(sb->path, &p);
			} else {
				r = reader_open_plain(sb->path, err);
			}
			if (r) {
				r->state = READER_FINITE;
				if (unseen && whole_file_signature(sb, &unseen[n_unseen]) == 0)
					n_unseen++;
				add_draining(f, s, r);
			}
		}
		free(unseen);
	}
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Does the folder still hold the same files under the same names? The
 * inode alone does not say: a file removed in a rotation frees its inode
 * for the next one created, under the same name. A rename changes the
 * status change time, a write the size and the times. */
static int same_listing(const struct logscan_file *a, size_t na, const struct logscan_file *b,
			size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		const struct stat *x = &a[i].st, *y;
		size_t k = 0;
		while (k < nb && strcmp(a[i].path, b[k].path) != 0)
			k++;
		if (k == nb)
			return 0;
		y = &b[k].st;
		if (x->st_dev != y->st_dev || x->st_ino != y->st_ino || x->st_size != y->st_size ||
		    !same_time(&x->st_mtim, &y->st_mtim) || !same_time(&x->st_ctim, &y->st_ctim))
			return 0;
	}
	return 1;
}

static int same_name(int had_a, const struct stat *a, int had_b, const struct stat *b)
{
	return had_a == had_b && (!had_a || (a->st_dev == b->st_dev && a->st_ino == b->st_ino));
}

#define RESTORE_ATTEMPTS 50

void follow_restore(struct follow *f, size_t source, const struct follow_saved *saved,
		    int64_t committed_at_us)
{
	struct source *s = &f->src[source];
	struct err err = {0}; /* what goes wrong is said, in restore_from */

	/* Everything below looks files up by name, one after the other; a
	 * rotation under way (logrotate, or the bot itself) renames, copies,
	 * compresses and removes them meanwhile, so one file can be seen twice
	 * under two names, or not at all. The outcome counts only if the
	 * folder held the same files under the same names before and after;
	 * otherwise it is built again (a rotation takes milliseconds). */
	for (int attempt = 1;; attempt++) {
		struct logscan_file *sibs, *again;
		struct stat before, after;
		int had_before = stat(s->path, &before) == 0;
		size_t nsibs = saved ? list_siblings(f, s, &sibs) : 0;
		if (!saved)
			sibs = NULL;
		restore_from(f, s, saved, committed_at_us, sibs, nsibs, &err);
		size_t nagain = saved ? list_siblings(f, s, &again) : 0;
		if (!saved)
			again = NULL;
		int had_after = stat(s->path, &after) == 0;
		int stable = same_listing(sibs, nsibs, again, nagain) &&
			     same_name(had_before, &before, had_after, &after);
		free(sibs);
		free(again);
		if (stable)
			break;
		if (attempt == RESTORE_ATTEMPTS) {
			say(f,
			    "%s: the rotated files kept changing while resuming; resuming anyway",
			    s->name);
			break;
		}
		restore_undo(s);
		struct timespec pause = {0, 2000000};
		nanosleep(&pause, NULL);
	}
}

/* ---- events ------------------------------------------------------------ */

static void orphan_current(struct follow *f, struct source *s)
{
	struct reader *r = s->current;
	struct logscan_file *sibs;
	size_t n;
	if (!r)
		return;
	/* Lines still read from it must name the file they are in now
	 * (quarantine entries point at file and offset): look for its new
	 * name; a deleted file keeps its last one. */
	n = list_siblings(f, s, &sibs);
	for (size_t i = 0; i < n; i++)
		if (same_file(r, &sibs[i].st)) {
			if (strlen(sibs[i].path) < sizeof r->pos.path)
				memcpy(r->pos.path, sibs[i].path, strlen(sibs[i].path) + 1);
			break;
		}
	free(sibs);
	s->current = NULL;
	r->state = READER_ORPHAN;
	r->idle_since = 0;
	add_draining(f, s, r);
}

/* Has the file under r been cut since r read it: shorter than what was
 * read, or other bytes just before the read position? Asked of the open
 * descriptor, so it holds whatever name the file has now. */
static int cut_since_read(struct reader *r)
{
	struct stat st;
	uint64_t read_to = r->base + r->len;
	if (r->fd < 0 || fstat(r->fd, &st) != 0)
		return 0;
	if ((uint64_t)st.st_size < read_to)
		return 1;
	if (r->last_len && read_to > 0) {
		char now[FOLLOW_TAIL_BYTES];
		ssize_t n = pread(r->fd, now, r->last_len, (off_t)(read_to - r->last_len));
		if (n == (ssize_t)r->last_len && memcmp(now, r->last, r->last_len) != 0)
			return 1;
	}
	return 0;
}

/* The current file was cut under us: a copytruncate (or a truncate and
 * rewrite). The part we had not read yet lives on in the copy, if there is
 * one: finish the copy from our position, then read the file again from 0:
 * under its name, or, when it was renamed away or deleted too (a second
 * rotation before we looked), as a rotated file. */
static void handle_truncation(struct follow *f, struct source *s, int renamed)
{
	struct reader *r = s->current;
	uint64_t read_to = r->base + r->len;
	struct follow_position want = {0};
	struct logscan_file *sibs;
	size_t nsibs = list_siblings(f, s, &sibs);
	struct reader *copy = NULL;
	struct err err;
	int cut_fd = r->fd; /* the file that was cut, to read again from 0 */

	want.offset = read_to;
	want.head_len = r->head_len;
	want.head_hash = r->head_hash;
	want.tail_len = (uint32_t)r->last_len;
	want.tail_hash = hash_fnv1a64(HASH_FNV1A64_INIT, r->last, r->last_len);
	snprintf(want.path, sizeof want.path, "%s", s->path);
	for (size_t i = nsibs; i-- > 0 && !copy;) {
		struct logscan_file *sb = &sibs[i];
		if (sb->compressed) {
			copy = compressed_match(sb->path, &want);
			continue;
		}
		if (sb->st.st_dev == (dev_t)r->pos.dev && sb->st.st_ino == (ino_t)r->pos.ino)
			continue;
		copy = reader_open_plain(sb->path, &err);
		if (copy && !plain_matches(copy->fd, &want)) {
			reader_free(copy);
			copy = NULL;
		}
	}
	free(sibs);
	s->current = NULL;
	if (copy) {
		/* The reader keeps its buffer (the copy holds the same bytes) and
		 * continues in the copy. */
		if (copy->arch) {
			r->arch = copy->arch;
			copy->arch = NULL;
			r->fd = -1;
			r->pos.compressed = 1;
		} else {
			r->fd = copy->fd;
			copy->fd = -1;
			r->pos.dev = copy->pos.dev;
			r->pos.ino = copy->pos.ino;
		}
		snprintf(r->pos.path, sizeof r->pos.path, "%s", copy->pos.path);
		reader_free(copy);
		r->state = READER_FINITE;
		add_draining(f, s, r);
	} else {
		say(f,
		    "%s: truncated at %llu bytes read, and no rotated copy holds the rest; "
		    "reading it again from its start",
		    s->name, (unsigned long long)read_to);
		r->fd = -1;
		reader_free(r);
	}
	if (!renamed) {
		close(cut_fd);
		s->current = open_named(f, s, &err);
		return;
	}
	/* What it holds now, from its start, as the file renamed away it is. */
	struct reader *again = reader_alloc(s->path);
	struct stat st;
	if (!again || fstat(cut_fd, &st) != 0) {
		close(cut_fd);
		reader_free(again);
		return;
	}
	again->fd = cut_fd;
	again->pos.dev = st.st_dev;
	again->pos.ino = st.st_ino;
	again->pos.size = (uint64_t)st.st_size;
	again->pos.mtime_us = mtime_us(&st);
	s->current = again;
	orphan_current(f, s);
}

static int is_followed(const struct source *s, const struct stat *st)
{
	if (same_file(s->current, st))
		return 1;
	for (size_t k = 0; k < s->n_draining; k++)
		if (same_file(s->draining[k], st))
			return 1;
	return 0;
}

/* A rotated file read to its end and let go that was written to since (a
 * writer that had not reopened its log yet, or appends to it after a
 * pause): read on from where it was left, and hold it again. */
static void take_up_grown(struct follow *f, struct source *s)
{
	struct logscan_file *sibs;
	size_t n = list_siblings(f, s, &sibs);
	s->rotated_written = 0;
	for (size_t i = 0; i < n; i++) {
		struct logscan_file *sb = &sibs[i];
		for (size_t k = 0; k < s->n_done && !sb->compressed; k++) {
			struct follow_done *d = &s->done[k];
			if (!d->ino || d->dev != (uint64_t)sb->st.st_dev ||
			    d->ino != (uint64_t)sb->st.st_ino ||
			    (uint64_t)sb->st.st_size <= d->size)
				continue;
			struct reader *r =
			    is_followed(s, &sb->st) ? NULL : resume_plain(sb->path, d);
			if (r) {
				say(f,
				    "%s: %s was written to after it was read to its end; reading "
				    "the rest",
				    s->name, sb->path);
				r->state = READER_ORPHAN;
				memmove(d, d + 1, (s->n_done - k - 1) * sizeof *d);
				s->n_done--;
				add_draining(f, s, r);
			}
			break;
		}
	}
	free(sibs);
}

/* Re-examines one source: has its name moved to another file, vanished,
 * appeared, or been truncated? Has a rotated file it let go grown? */
static void examine(struct follow *f, struct source *s)
{
	struct stat st;
	struct err err;
	int named;

	if (s->rotated_written)
		take_up_grown(f, s);
	named = stat(s->path, &st) == 0;
	s->dirty = 0;
	if (s->current && (!named || !same_file(s->current, &st))) {
		/* Renamed away or deleted; cut first if a copytruncate came
		 * before that, since we last looked. */
		if (cut_since_read(s->current))
			handle_truncation(f, s, 1);
		else
			orphan_current(f, s);
	}
	if (!named)
		return;
	if (!s->current) {
		for (size_t k = 0; k < s->n_draining; k++)
			if (same_file(s->draining[k], &st))
				return; /* the old file came back under the name: rare */
		s->current = open_named(f, s, &err);
		return;
	}
	if (cut_since_read(s->current))
		handle_truncation(f, s, 0);
}

void follow_refresh(struct follow *f)
{
	for (size_t i = 0; i < f->n; i++) {
		f->src[i].rotated_written = 1;
		examine(f, &f->src[i]);
	}
}

void follow_handle_events(struct follow *f)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int overflow = 0;

	if (f->ifd < 0)
		return;
	for (;;) {
		ssize_t n = read(f->ifd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = 1;
				continue;
			}
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				say(f, "the logs folder %s was removed or moved; polling", f->dir);
				close(f->ifd);
				f->ifd = -1;
				f->polling = 1;
				overflow = 1;
				break;
			}
			if (!ev->len)
				continue;
			for (size_t i = 0; i < f->n; i++)
				if ((ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) &&
				    logscan_is_rotation(f->src[i].name, ev->name)) {
					f->src[i].rotated_written = 1;
					f->src[i].dirty = 1;
				} else if (strcmp(ev->name, f->src[i].name) == 0) {
					/* A rename away must be seen before the new file
					 * of the same name is: act on it at once. */
					if (ev->mask & (IN_MOVED_FROM | IN_DELETE))
						examine(f, &f->src[i]);
					else
						f->src[i].dirty = 1;
				}
		}
		if (f->ifd < 0)
			break;
	}
	if (overflow) {
		say(f, "inotify queue overflowed; re-examining every file");
		follow_refresh(f);
	}
	for (size_t i = 0; i < f->n; i++)
		if (f->src[i].dirty)
			examine(f, &f->src[i]);
}

/* ---- reading ------------------------------------------------------------ */

/* Looks for the next line in r's buffer; 1 when one was handed out. */
static int take_line(struct follow *f, struct source *s, size_t source, struct reader *r,
		     struct follow_line *line)
{
	char *start = r->buf + r->consumed;
	size_t avail = r->len - r->consumed;
	/* memchr(NULL, c, 0) is undefined: the buffer is allocated on first read. */
	char *nl = avail ? memchr(start, '\n', avail) : NULL;

	if (r->skipping) {
		if (!nl) {
			r->skipped += avail;
			r->consumed = r->len;
			return 0;
		}
		size_t n = (size_t)(nl - start) + 1;
		line->kind = FOLLOW_LONG;
		line->data = NULL;
		line->len = r->skipped + n - 1;
		line->offset = r->skip_start;
		r->consumed += n;
		r->pos.offset = r->base + r->consumed;
		r->skipping = 0;
		goto out;
	}
	if (!nl) {
		if (avail > f->opt.max_line) {
			/* Over the limit and still no newline: stop buffering it. */
			r->skipping = 1;
			r->skip_start = r->base + r->consumed;
			r->skipped = avail;
			r->consumed = r->len;
		}
		return 0;
	}
	size_t n = (size_t)(nl - start);
	line->offset = r->base + r->consumed;
	if (n > f->opt.max_line) {
		line->kind = FOLLOW_LONG;
		line->data = NULL;
	} else {
		line->kind = FOLLOW_LINE;
		line->data = start;
	}
	line->len = n;
	r->consumed += n + 1;
	r->pos.offset = r->base + r->consumed;
out:
	line->source = source;
	line->path = r->pos.path;
	(void)s;
	return 1;
}

/* Lets a draining reader go; an unterminated last line is handed out as
 * FOLLOW_TAIL first. Returns 1 when it produced such a line. */
static int release(struct follow *f, struct source *s, size_t idx, size_t source,
		   struct follow_line *line)
{
	struct reader *r = s->draining[idx];
	int tail = 0;
	size_t left = r->len - r->consumed;
	if (left || r->skipping) {
		line->kind = FOLLOW_TAIL;
		line->source = source;
		line->data = NULL;
		line->len = r->skipping ? r->skipped : left;
		line->offset = r->skipping ? r->skip_start : r->base + r->consumed;
		snprintf(f->pathbuf, sizeof f->pathbuf, "%s", r->pos.path);
		line->path = f->pathbuf;
		r->consumed = r->len;
		r->skipping = 0;
		tail = 1;
	}
	remember_done(s, r);
	reader_free(r);
	memmove(&s->draining[idx], &s->draining[idx + 1],
		(s->n_draining - idx - 1) * sizeof *s->draining);
	s->n_draining--;
	return tail;
}

/* Hands out r's next line: 1, 0 at its end, -1 on an error. With
 * check_cut, 2 instead of reading on when the file was cut since r read it
 * (a copytruncate not heard of yet: the bytes at r's position are no
 * longer the ones that follow what it read). */
static int read_from(struct follow *f, struct source *s, size_t source, struct reader *r,
		     struct follow_line *line, int check_cut, struct err *err)
{
	for (;;) {
		if (take_line(f, s, source, r, line)) {
			if (r->state == READER_AT_END)
				r->state = READER_FOLLOWING;
			return 1;
		}
		if (check_cut && cut_since_read(r))
			return 2;
		ssize_t n = reader_fill(r, err);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (r->state == READER_FOLLOWING)
				r->state = READER_AT_END;
			return 0;
		}
	}
}

/* May a file renamed away or deleted, read to its end, be let go? Its
 * writer may still append to it until it reopens its log (logrotate's
 * postrotate, or never: a bot that opens its log once). It is held while
 * it keeps growing, and let go once it has had nothing new for the grace
 * period and the writer has moved on: the file now under the name is
 * another one, with bytes in it. */
static int orphan_let_go(struct follow *f, struct source *s, struct reader *r)
{
	struct stat st;
	int64_t t = now_us();
	if (!r->idle_since)
		r->idle_since = t;
	int64_t idle = t - r->idle_since;
	if (idle < f->opt.orphan_grace_us)
		return 0;
	if (idle >= f->opt.orphan_max_idle_us || r->fd < 0)
		return 1;
	if (!s->current || s->current->fd < 0 || fstat(s->current->fd, &st) != 0)
		return 0;
	return !same_file(r, &st) && st.st_size > 0;
}

int follow_next(struct follow *f, size_t source, struct follow_line *line, struct err *err)
{
	struct source *s = &f->src[source];

	/* Events only say when to look; a caller busy with another source may
	 * not hear them for a while, during which the file may be renamed
	 * away, or cut and regrown, under a reader that reached its end, or
	 * the name may be created again after a rename. Look again before
	 * reading on from there. */
	if (s->dirty || !s->current || s->current->state == READER_AT_END)
		examine(f, s);
	for (int look = 0;; look++) {
		for (size_t k = 0; k < s->n_draining;) {
			struct reader *r = s->draining[k];
			int rc = read_from(f, s, source, r, line, 0, err);
			if (rc == 1)
				r->idle_since = 0;
			if (rc != 0)
				return rc;
			if (r->state == READER_ORPHAN && !orphan_let_go(f, s, r)) {
				k++;
				continue;
			}
			if (release(f, s, k, source, line))
				return 1;
		}
		/* An orphan still held does not hold up the files after it:
		 * order across two files of a rotation is not promised,
		 * once-only is. */
		if (!s->current)
			return 0;
		int rc = read_from(f, s, source, s->current, line, 1, err);
		if (rc != 2)
			return rc;
		if (look == 1)
			return 0; /* cut again at once: next call */
		examine(f, s);
	}
}

/* ---- saving ------------------------------------------------------------- */

static void position_of(struct reader *r, struct follow_position *p)
{
	struct stat st;
	*p = r->pos;
	p->growing = r->state == READER_ORPHAN && r->fd >= 0;
	p->head_len = r->head_len;
	p->head_hash = r->head_hash;
	if (r->fd >= 0 && fstat(r->fd, &st) == 0) {
		p->size = (uint64_t)st.st_size;
		p->mtime_us = mtime_us(&st);
	} else {
		p->size = r->base + r->len;
	}
	if (p->head_len > p->offset) {
		/* The head must be bytes we have handed out (they cannot change
		 * without us noticing): shrink it to the offset. */
		uint64_t h = HASH_FNV1A64_INIT;
		int ok = 1;
		if (r->base == 0 && p->offset <= r->len)
			h = hash_fnv1a64(h, r->buf, (size_t)p->offset);
		else
			ok = r->fd >= 0 && hash_at(r->fd, 0, (uint32_t)p->offset, &h) == 0;
		if (ok) {
			p->head_len = (uint32_t)p->offset;
			p->head_hash = h;
		}
	}
	p->tail_len = p->offset < FOLLOW_TAIL_BYTES ? (uint32_t)p->offset : FOLLOW_TAIL_BYTES;
	p->tail_hash = HASH_FNV1A64_INIT;
	if (p->tail_len) {
		/* The bytes before the offset as they were read: still in the
		 * buffer, or the last bytes read when everything read was handed
		 * out. Only then from disk, where a truncation not noticed yet
		 * may have put other bytes (and the copy holding the ones read
		 * would no longer be recognised on restore). */
		uint64_t from = p->offset - p->tail_len;
		if (from >= r->base && p->offset <= r->base + r->len)
			p->tail_hash =
			    hash_fnv1a64(HASH_FNV1A64_INIT, r->buf + (from - r->base), p->tail_len);
		else if (p->offset == r->base + r->len && r->last_len >= p->tail_len)
			p->tail_hash = hash_fnv1a64(
			    HASH_FNV1A64_INIT, r->last + r->last_len - p->tail_len, p->tail_len);
		else if (r->fd < 0 || hash_at(r->fd, from, p->tail_len, &p->tail_hash) != 0)
			p->tail_len = 0;
	}
}

void follow_save(struct follow *f, size_t source, struct follow_saved *out)
{
	struct source *s = &f->src[source];
	memset(out, 0, sizeof *out);
	out->has_current = s->current != NULL;
	if (s->current)
		position_of(s->current, &out->current);
	out->n_draining = s->n_draining;
	for (size_t i = 0; i < s->n_draining; i++)
		position_of(s->draining[i], &out->draining[i]);
	out->n_done = s->n_done;
	memcpy(out->done, s->done, s->n_done * sizeof *s->done);
}

int follow_position_of_fd(int fd, const char *path, uint64_t offset, struct follow_position *out,
			  struct err *err)
{
	struct stat st;
	memset(out, 0, sizeof *out);
	if (fstat(fd, &st) != 0)
		return err_fail(err, "%s: %s", path, strerror(errno));
	snprintf(out->path, sizeof out->path, "%s", path);
	out->dev = (uint64_t)st.st_dev;
	out->ino = (uint64_t)st.st_ino;
	out->offset = offset;
	out->size = (uint64_t)st.st_size;
	out->mtime_us = mtime_us(&st);
	/* As position_of: a head of bytes handed out, the last bytes before
	 * the offset. */
	out->head_len = offset < FOLLOW_HEAD_BYTES ? (uint32_t)offset : FOLLOW_HEAD_BYTES;
	out->tail_len = offset < FOLLOW_TAIL_BYTES ? (uint32_t)offset : FOLLOW_TAIL_BYTES;
	out->head_hash = out->tail_hash = HASH_FNV1A64_INIT;
	if ((out->head_len && hash_at(fd, 0, out->head_len, &out->head_hash)) ||
	    (out->tail_len && hash_at(fd, offset - out->tail_len, out->tail_len, &out->tail_hash)))
		return err_set(err, EIO, "%s: shorter than %llu bytes", path,
			       (unsigned long long)offset);
	return 0;
}

int follow_done_of(const char *path, int compressed, struct follow_done *out, struct err *err)
{
	struct logscan_file sb = {.compressed = compressed};
	memset(out, 0, sizeof *out);
	snprintf(sb.path, sizeof sb.path, "%s", path);
	if (stat(path, &sb.st) != 0)
		return err_fail(err, "%s: %s", path, strerror(errno));
	if (whole_file_signature(&sb, out) != 0)
		return err_set(err, EIO, "%s: cannot be read", path);
	if (!compressed) {
		out->dev = (uint64_t)sb.st.st_dev;
		out->ino = (uint64_t)sb.st.st_ino;
	}
	return 0;
}

uint64_t follow_lag_bytes(struct follow *f, size_t source)
{
	struct source *s = &f->src[source];
	uint64_t lag = 0;
	struct stat st;
	for (size_t i = 0; i <= s->n_draining; i++) {
		struct reader *r = i < s->n_draining ? s->draining[i] : s->current;
		if (r && r->fd >= 0 && fstat(r->fd, &st) == 0 &&
		    (uint64_t)st.st_size > r->pos.offset)
			lag += (uint64_t)st.st_size - r->pos.offset;
	}
	return lag;
}

void follow_free(struct follow *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		reader_free(f->src[i].current);
		for (size_t k = 0; k < f->src[i].n_draining; k++)
			reader_free(f->src[i].draining[k]);
	}
	if (f->ifd >= 0)
		close(f->ifd);
	free(f);
}
