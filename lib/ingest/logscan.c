/*
 * logscan — every file of a source, read from its start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"
#include "lib/base/hash.h"
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
	/* An archive named after the log ("NAME.old.tar.gz") holds files,
	 * not lines: logscan_history lists its members. */
	return strncmp(candidate, name, nlen) == 0 &&
	       (candidate[nlen] == '.' || candidate[nlen] == '-') && candidate[nlen + 1] &&
	       !strstr(candidate + nlen, ".tmp") && !archive_is_archive_name(candidate);
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

/* ---- reading lines ------------------------------------------------------ */

#define READ_CHUNK 65536

struct logscan_reader {
	struct archive_stream *s;
	char *buf;
	size_t cap;	/* max_line + 1 + READ_CHUNK: a whole line and its newline fit */
	size_t start;	/* buf[start..len) is not handed out yet */
	size_t len;	/* bytes in buf */
	size_t scanned; /* buf[start..scanned) holds no newline */
	uint64_t at;	/* content offset of buf[0] */
	uint64_t max_line;
	int eof, done;
	int fd;		    /* a plain file's descriptor (a duplicate), or -1 */
	int skipping;	    /* inside a line over max_line, whose bytes are dropped */
	uint64_t skip_from; /* its offset */
	uint64_t skip_len;  /* its bytes so far */
};

static struct logscan_reader *reader_new(struct archive_stream *s, uint64_t max_line,
					 const char *what, struct err *err)
{
	struct logscan_reader *r;
	if (!s)
		return NULL;
	if (max_line == 0 || max_line > SIZE_MAX / 2)
		max_line = 1 << 20;
	r = calloc(1, sizeof *r);
	if (r)
		r->buf = malloc((size_t)max_line + 1 + READ_CHUNK);
	if (!r || !r->buf) {
		free(r);
		archive_stream_free(s);
		err_set(err, ENOMEM, "%s: out of memory", what);
		return NULL;
	}
	r->s = s;
	r->fd = -1;
	r->cap = (size_t)max_line + 1 + READ_CHUNK;
	r->max_line = max_line;
	return r;
}

struct logscan_reader *logscan_open(const char *path, const char *member, uint64_t max_line,
				    struct err *err)
{
	struct stat st;
	if (member && *member)
		return reader_new(archive_stream_member(path, member, err), max_line, path, err);
	/* Only regular files are read as logs: a FIFO or a device put under
	 * a log's name can neither hang the reader nor feed it forever. */
	int fd = archive_open_regular(path, &st, err);
	if (fd < 0)
		return NULL;
	int keep = dup(fd);
	struct logscan_reader *r =
	    reader_new(archive_stream_fd(path, fd, err), max_line, path, err);
	if (r)
		r->fd = keep;
	else if (keep >= 0)
		close(keep);
	return r;
}

int logscan_fd(const struct logscan_reader *r)
{
	return r->fd;
}

struct logscan_reader *logscan_open_entry(const struct logscan_entry *e, uint64_t max_line,
					  struct err *err)
{
	return logscan_open(e->path, e->member, max_line, err);
}

/* Moves what is not handed out to the front and reads more after it. */
static int reader_more(struct logscan_reader *r, struct err *err)
{
	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->at += r->start;
		r->len -= r->start;
		r->scanned -= r->start;
		r->start = 0;
	}
	size_t room = r->cap - r->len;
	if (room > READ_CHUNK)
		room = READ_CHUNK;
	ssize_t n = archive_stream_read(r->s, r->buf + r->len, room, err);
	if (n < 0)
		return -1;
	if (n == 0)
		r->eof = 1;
	r->len += (size_t)n;
	return 0;
}

int logscan_next(struct logscan_reader *r, struct logscan_line *line, struct err *err)
{
	for (;;) {
		char *nl = r->scanned < r->len
			       ? memchr(r->buf + r->scanned, '\n', r->len - r->scanned)
			       : NULL;
		if (nl) {
			size_t end = (size_t)(nl - r->buf), n = end - r->start;
			line->offset = r->at + r->start;
			line->data = r->buf + r->start;
			line->len = n;
			line->kind = n > r->max_line ? LOGSCAN_LONG : LOGSCAN_LINE;
			if (r->skipping) {
				line->offset = r->skip_from;
				line->len = (size_t)(r->skip_len + n);
				line->kind = LOGSCAN_LONG;
				r->skipping = 0;
			}
			if (line->kind == LOGSCAN_LONG)
				line->data = NULL;
			r->start = r->scanned = end + 1;
			return 1;
		}
		r->scanned = r->len;
		/* No newline in what is held: past max_line the line is long,
		 * and its bytes are dropped as they come. */
		if (r->skipping || r->len - r->start > r->max_line) {
			if (!r->skipping) {
				r->skipping = 1;
				r->skip_from = r->at + r->start;
				r->skip_len = 0;
			}
			r->skip_len += r->len - r->start;
			r->start = r->scanned = r->len;
		}
		if (r->eof) {
			if (r->done || (!r->skipping && r->len == r->start))
				return 0;
			r->done = 1;
			line->kind = LOGSCAN_TAIL;
			line->offset = r->skipping ? r->skip_from : r->at + r->start;
			line->len = r->skipping ? (size_t)r->skip_len : r->len - r->start;
			line->data = r->skipping ? NULL : r->buf + r->start;
			r->skipping = 0;
			r->start = r->scanned = r->len;
			return 1;
		}
		if (reader_more(r, err))
			return -1;
	}
}

int logscan_skip(struct logscan_reader *r, uint64_t offset, struct err *err)
{
	while (r->at + r->len < offset) {
		r->start = r->scanned = r->len;
		if (reader_more(r, err))
			return -1;
		if (r->eof && r->at + r->len < offset)
			return err_set(err, EIO, "the content is shorter (%llu bytes) than %llu",
				       (unsigned long long)(r->at + r->len),
				       (unsigned long long)offset);
	}
	r->start = r->scanned = (size_t)(offset - r->at);
	return 0;
}

uint64_t logscan_bytes_in(const struct logscan_reader *r)
{
	return archive_stream_bytes_in(r->s);
}

void logscan_close(struct logscan_reader *r)
{
	if (!r)
		return;
	archive_stream_free(r->s);
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}

int logscan_read(const char *path, uint64_t max_line, logscan_line_fn fn, void *ctx,
		 struct err *err)
{
	struct logscan_reader *r = logscan_open(path, NULL, max_line, err);
	struct logscan_line line;
	int rc, got;

	if (!r)
		return -1;
	while ((got = logscan_next(r, &line, err)) > 0) {
		rc = fn(ctx, line.data, line.len, line.offset, line.kind != LOGSCAN_TAIL);
		if (rc) {
			logscan_close(r);
			return rc;
		}
	}
	logscan_close(r);
	return got < 0 ? -1 : 0;
}

/* ---- history ----------------------------------------------------------- */

#define PROBE_BYTES (1u << 20) /* read at most this much of an entry for its first time */

struct history {
	const char *dir, *name;
	uint64_t max_line;
	logscan_time_fn time_fn;
	void *ctx;
	void (*warn)(void *ctx, const char *msg);
	struct logscan_entry *list;
	size_t n, cap;
	const char *archive; /* the archive being listed */
	struct stat archive_st;
	int oom;
};

static void history_warn(struct history *h, const struct err *e)
{
	if (h->warn)
		h->warn(h->ctx, e->msg);
}

static struct logscan_entry *history_add(struct history *h)
{
	if (BUF_ARRAY_GROW(h->list, h->n + 1, h->cap)) {
		h->oom = 1;
		return NULL;
	}
	struct logscan_entry *e = &h->list[h->n];
	memset(e, 0, sizeof *e);
	e->first_ts = INT64_MIN;
	return e;
}

/* Reads the entry's head and the time of its first line that has one.
 * 0, or -1 (said through warn) when it cannot be read. */
static int probe(struct history *h, struct logscan_entry *e)
{
	struct err err = {0};
	struct logscan_reader *r = logscan_open_entry(e, h->max_line, &err);
	struct logscan_line line;
	int got = 0;

	if (!r) {
		history_warn(h, &err);
		return -1;
	}
	while (r->at + r->len < LOGSCAN_HEAD_BYTES && !r->eof)
		if (reader_more(r, &err))
			break;
	e->head_len = (uint32_t)(r->len < LOGSCAN_HEAD_BYTES ? r->len : LOGSCAN_HEAD_BYTES);
	memcpy(e->head, r->buf, e->head_len);
	e->head_hash = hash_fnv1a64(HASH_FNV1A64_INIT, e->head, e->head_len);
	while (!err.code && e->first_ts == INT64_MIN && r->at + r->start < PROBE_BYTES &&
	       (got = logscan_next(r, &line, &err)) > 0)
		if (line.kind == LOGSCAN_LINE && h->time_fn)
			e->first_ts = h->time_fn(h->ctx, line.data, line.len);
	logscan_close(r);
	if (err.code) {
		err_prefix(&err, "%s%s%s", e->path, e->member[0] ? ": " : "", e->member);
		history_warn(h, &err);
		return -1;
	}
	return 0;
}

static int is_source_name(const char *name, const char *base, int *named)
{
	*named = strcmp(base, name) == 0;
	return *named || logscan_is_rotation(name, base);
}

static int member_found(void *ctx, const char *member, uint64_t size)
{
	struct history *h = ctx;
	const char *base = strrchr(member, '/');
	int named;
	base = base ? base + 1 : member;
	if (!is_source_name(h->name, base, &named))
		return 0;
	struct logscan_entry *e = history_add(h);
	if (!e)
		return -1;
	snprintf(e->path, sizeof e->path, "%s", h->archive);
	snprintf(e->member, sizeof e->member, "%s", member);
	e->st = h->archive_st;
	e->compressed = archive_is_compressed_name(base);
	e->bytes = size;
	if (probe(h, e) == 0)
		h->n++;
	return 0;
}

/* Hash of the first len bytes of an entry's content (within its head):
 * of the whole head, kept, as entries are compared with many others. */
static uint64_t head_hash(const struct logscan_entry *e, uint32_t len)
{
	return len == e->head_len ? e->head_hash : hash_fnv1a64(HASH_FNV1A64_INIT, e->head, len);
}

int logscan_entry_starts_with(const struct logscan_entry *e, uint32_t len, uint64_t hash)
{
	return len <= e->head_len && head_hash(e, len) == hash;
}

/* Two entries whose heads agree as far as the shorter goes may be copies. */
static int heads_agree(const struct logscan_entry *a, const struct logscan_entry *b)
{
	uint32_t n = a->head_len < b->head_len ? a->head_len : b->head_len;
	return n > 0 && memcmp(a->head, b->head, n) == 0;
}

/* Length, FNV-1a hash and end of the last complete line of an entry's
 * whole content. -1 when it cannot be read. */
struct content {
	uint64_t length, hash, lines_end;
};

static int measure(const struct logscan_entry *e, struct content *c, const uint64_t *at,
		   uint64_t *hash_at, size_t n_at)
{
	struct err err;
	struct archive_stream *s = e->member[0] ? archive_stream_member(e->path, e->member, &err)
						: archive_stream_new(e->path, &err);
	char buf[READ_CHUNK];
	ssize_t got;
	size_t k = 0;

	if (!s)
		return -1;
	c->length = c->lines_end = 0;
	c->hash = HASH_FNV1A64_INIT;
	while ((got = archive_stream_read(s, buf, sizeof buf, &err)) > 0) {
		size_t from = 0;
		/* The hash of the first at[k] bytes, for each k on the way. */
		while (k < n_at && at[k] <= c->length + (uint64_t)got) {
			size_t upto = (size_t)(at[k] - c->length);
			c->hash = hash_fnv1a64(c->hash, buf + from, upto - from);
			from = upto;
			hash_at[k++] = c->hash;
		}
		c->hash = hash_fnv1a64(c->hash, buf + from, (size_t)got - from);
		char *nl = memrchr(buf, '\n', (size_t)got);
		if (nl)
			c->lines_end = c->length + (uint64_t)(nl - buf) + 1;
		c->length += (uint64_t)got;
	}
	archive_stream_free(s);
	for (; k < n_at; k++)
		hash_at[k] = 0; /* beyond its end: it holds no such prefix */
	return got < 0 ? -1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The entries of one group (heads that agree) are read whole: those whose
 * content is a prefix of the longest one's are covered by it. */
static int judge_group(struct logscan_entry *list, const size_t *member, size_t n)
{
	struct content *c = calloc(n, sizeof *c);
	uint64_t *at = calloc(n, sizeof *at), *hash_at = calloc(n, sizeof *hash_at);
	int *ok = calloc(n, sizeof *ok);
	size_t longest = 0, n_at = 0;
	int rc = -1;

	if (!c || !at || !hash_at || !ok)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct logscan_entry *e = &list[member[i]];
		ok[i] = measure(e, &c[i], NULL, NULL, 0) == 0;
		/* The longest; of equal ones, the live file, then a plain one. */
		const struct logscan_entry *b = &list[member[longest]];
		if (ok[i] && (!ok[longest] || c[i].length > c[longest].length ||
			      (c[i].length == c[longest].length &&
			       (e->is_named > b->is_named ||
				(e->is_named == b->is_named && e->compressed < b->compressed)))))
			longest = i;
	}
	if (!ok[longest]) {
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (i != longest && ok[i])
			at[n_at++] = c[i].length;
	qsort(at, n_at, sizeof *at, cmp_u64);
	struct content whole;
	if (measure(&list[member[longest]], &whole, at, hash_at, n_at) != 0) {
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (i == longest || !ok[i])
			continue;
		for (size_t k = 0; k < n_at; k++)
			if (at[k] == c[i].length && hash_at[k] == c[i].hash) {
				list[member[i]].covered = 1;
				list[member[i]].covered_length = c[i].lines_end;
				break;
			}
	}
	rc = 0;
out:
	free(c);
	free(at);
	free(hash_at);
	free(ok);
	return rc;
}

/* Marks the entries that are copies of another's start. Entries with a
 * whole head are grouped by its hash; the few shorter than a head (files
 * under 4 KiB) are compared with every other. */
static int find_copies(struct logscan_entry *list, size_t n)
{
	size_t *group = malloc(n * sizeof *group), *member = malloc(n * sizeof *member);
	int rc = 0;
	if (!group || !member) {
		free(group);
		free(member);
		return n ? -1 : 0;
	}
	for (size_t i = 0; i < n; i++)
		group[i] = i;
	/* Union of agreeing heads, each joined to the smallest index. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			if (group[j] != j)
				continue;
			if (list[i].head_len == LOGSCAN_HEAD_BYTES &&
			    list[j].head_len == LOGSCAN_HEAD_BYTES &&
			    head_hash(&list[i], LOGSCAN_HEAD_BYTES) !=
				head_hash(&list[j], LOGSCAN_HEAD_BYTES))
				continue;
			if (heads_agree(&list[i], &list[j]))
				group[j] = group[i];
		}
	for (size_t g = 0; g < n && rc == 0; g++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (group[i] == g)
				member[m++] = i;
		if (m > 1)
			rc = judge_group(list, member, m);
	}
	free(group);
	free(member);
	return rc;
}

/* Oldest first by their first time; then as logscan_list. */
static int entry_cmp(const void *a, const void *b)
{
	const struct logscan_entry *x = a, *y = b;
	if (x->first_ts != y->first_ts)
		return x->first_ts < y->first_ts ? -1 : 1;
	if (x->is_named != y->is_named)
		return x->is_named - y->is_named;
	if (x->st.st_mtim.tv_sec != y->st.st_mtim.tv_sec)
		return x->st.st_mtim.tv_sec < y->st.st_mtim.tv_sec ? -1 : 1;
	if (x->st.st_mtim.tv_nsec != y->st.st_mtim.tv_nsec)
		return x->st.st_mtim.tv_nsec < y->st.st_mtim.tv_nsec ? -1 : 1;
	int c = strcmp(y->path, x->path);
	return c ? c : strcmp(y->member, x->member);
}

int logscan_history(const char *dir, const char *name, uint64_t max_line, logscan_time_fn time_fn,
		    void *ctx, void (*warn)(void *ctx, const char *msg), struct logscan_entry **out,
		    size_t *n, struct err *err)
{
	struct history h = {.dir = dir,
			    .name = name,
			    .max_line = max_line,
			    .time_fn = time_fn,
			    .ctx = ctx,
			    .warn = warn};
	DIR *d = opendir(dir);
	struct dirent *de;

	*out = NULL;
	*n = 0;
	if (!d)
		return err_fail(err, "%s: %s", dir, strerror(errno));
	while (!h.oom && (de = readdir(d))) {
		char path[4400];
		struct stat st;
		int named;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (archive_is_archive_name(de->d_name)) {
			struct err aerr = {0};
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			h.archive = path;
			h.archive_st = st;
			if (archive_list_members(path, member_found, &h, &aerr) < 0 && !h.oom)
				history_warn(&h, &aerr);
			continue;
		}
		if (!is_source_name(name, de->d_name, &named) || stat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		struct logscan_entry *e = history_add(&h);
		if (!e)
			break;
		snprintf(e->path, sizeof e->path, "%s", path);
		e->st = st;
		e->compressed = archive_is_compressed_name(de->d_name);
		e->is_named = named;
		e->bytes = (uint64_t)st.st_size;
		if (probe(&h, e) == 0)
			h.n++;
	}
	closedir(d);
	if (h.oom || find_copies(h.list, h.n)) {
		free(h.list);
		return err_set(err, ENOMEM, "%s: out of memory", dir);
	}
	if (h.n > 1)
		qsort(h.list, h.n, sizeof *h.list, entry_cmp);
	*out = h.list;
	*n = h.n;
	return 0;
}
