/*
 * parse_floor — the parse floor of the benchmarks: the lines of the given
 * JSONL files parsed with jansson (json_loadb, then json_decref) and nothing
 * else, on N threads. No record is built, nothing is written: what
 * tradelearn does around the parse is what its time beyond this is spent on.
 *
 *   parse_floor [--threads N] FILE...
 *
 * The files are read in blocks of whole lines (1 MiB and up); each thread
 * takes the next block and parses its lines with the same flags as
 * lib/ingest/record.c. Prints one JSON line: threads, files, bytes, lines,
 * lines that are not JSON, wall seconds, MB/s (10^6 bytes) and lines/s.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#define BLOCK (1u << 20)

struct input {
	pthread_mutex_t lock;
	char **files;
	int n_files, at; /* the file being read */
	int fd;
	off_t offset; /* where the next block starts in it */
	int failed;
};

struct totals {
	unsigned long long bytes, lines, not_json;
};

struct worker {
	pthread_t thread;
	struct input *in;
	struct totals t;
};

/* Fills buf from the file at offset until it is full or the file ends:
 * the bytes read, or -1 on a read error. */
static ssize_t fill(int fd, off_t offset, char *buf, size_t cap)
{
	size_t len = 0;
	while (len < cap) {
		ssize_t n = pread(fd, buf + len, cap - len, offset + (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

/* Next block of whole lines into *buf (grown when one line is longer than
 * it): its length, 0 when every file is read, -1 on an error. */
static ssize_t next_block(struct input *in, char **buf, size_t *cap)
{
	ssize_t got = 0;
	pthread_mutex_lock(&in->lock);
	while (!in->failed && in->at < in->n_files) {
		if (in->fd < 0) {
			in->fd = open(in->files[in->at], O_RDONLY | O_CLOEXEC);
			in->offset = 0;
			if (in->fd < 0) {
				fprintf(stderr, "parse_floor: %s: %s\n", in->files[in->at],
					strerror(errno));
				in->failed = 1;
				break;
			}
		}
		ssize_t len = fill(in->fd, in->offset, *buf, *cap);
		if (len < 0) {
			in->failed = 1;
			break;
		}
		if (len == 0) {
			close(in->fd);
			in->fd = -1;
			in->at++;
			continue;
		}
		if ((size_t)len == *cap) {
			/* Whole lines only: the rest of the last one comes next. */
			while (len > 0 && (*buf)[len - 1] != '\n')
				len--;
			if (len == 0) {
				char *nb = realloc(*buf, *cap * 2);
				if (!nb) {
					in->failed = 1;
					break;
				}
				*buf = nb;
				*cap *= 2;
				continue;
			}
		}
		in->offset += (off_t)len;
		got = len;
		break;
	}
	if (in->failed)
		got = -1;
	pthread_mutex_unlock(&in->lock);
	return got;
}

static void *parse_blocks(void *arg)
{
	struct worker *w = arg;
	size_t cap = BLOCK;
	char *buf = malloc(cap);
	ssize_t len;
	if (!buf) {
		w->in->failed = 1;
		return NULL;
	}
	while ((len = next_block(w->in, &buf, &cap)) > 0) {
		const char *p = buf, *end = buf + len;
		w->t.bytes += (unsigned long long)len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = (size_t)((nl ? nl : end) - p);
			json_error_t jerr;
			json_t *row = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
			if (row)
				json_decref(row);
			else
				w->t.not_json++;
			w->t.lines++;
			p += n + 1;
		}
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 1, first = 1;
	if (argc > 2 && strcmp(argv[1], "--threads") == 0) {
		threads = atoi(argv[2]);
		first = 3;
	}
	if (threads < 1 || threads > 64 || first >= argc) {
		fprintf(stderr, "usage: parse_floor [--threads N] FILE...\n");
		return 2;
	}
	struct input in = {.files = argv + first, .n_files = argc - first, .fd = -1};
	struct worker *w = calloc((size_t)threads, sizeof *w);
	struct timespec t0, t1;
	if (!w || pthread_mutex_init(&in.lock, NULL))
		return 1;
	/* jansson seeds its hash function on first use: before the threads. */
	json_decref(json_object());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < threads; i++) {
		w[i].in = &in;
		if (pthread_create(&w[i].thread, NULL, parse_blocks, &w[i]))
			return 1;
	}
	struct totals sum = {0};
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].thread, NULL);
		sum.bytes += w[i].t.bytes;
		sum.lines += w[i].t.lines;
		sum.not_json += w[i].t.not_json;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (in.failed)
		return 1;
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf(
	    "{\"threads\": %d, \"files\": %d, \"bytes\": %llu, \"lines\": %llu, "
	    "\"not_json\": %llu, \"seconds\": %.4f, \"mb_per_s\": %.2f, \"lines_per_s\": %.0f}\n",
	    threads, in.n_files, sum.bytes, sum.lines, sum.not_json, secs,
	    secs > 0 ? (double)sum.bytes / 1e6 / secs : 0.0,
	    secs > 0 ? (double)sum.lines / secs : 0.0);
	free(w);
	return 0;
}
