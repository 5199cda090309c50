#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/base/durable.h"
#include "lib/store/framelog.h"

/* Each test runs in its own fresh folder under /tmp, removed afterwards;
 * the state is the path of "<folder>/out.jsonl.zst". */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_folder(void **state)
{
	char dir[] = "/tmp/test_framelog.XXXXXX";
	char *path;

	if (!mkdtemp(dir) || asprintf(&path, "%s/out.jsonl.zst", dir) < 0)
		return -1;
	*state = path;
	return 0;
}

static int remove_folder(void **state)
{
	char *path = *state;
	*strrchr(path, '/') = '\0';
	int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
	return rc;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	struct err err = {0};
	char *data;

	assert_int_equal(durable_read_all(path, &data, len, &err), 0);
	return (unsigned char *)data;
}

static void append_bytes(const char *path, const void *data, size_t len)
{
	struct err err = {0};
	int fd = durable_open_append(path, &err);

	assert_true(fd >= 0);
	assert_int_equal(durable_write_all(fd, data, len, &err), 0);
	close(fd);
}

static void add_line(struct framelog *log, const char *line)
{
	assert_int_equal(framelog_add(log, line, strlen(line), NULL), 0);
}

/* The lines a read delivers, joined with newlines, and their count. */
struct collected {
	char *text;
	size_t len;
	long lines;
	long stop_after; /* 0: never stop */
};

static int collect(void *ctx, const char *line, size_t len)
{
	struct collected *c = ctx;
	char *grown = realloc(c->text, c->len + len + 1);

	assert_non_null(grown);
	c->text = grown;
	memcpy(c->text + c->len, line, len);
	c->text[c->len + len] = '\n';
	c->len += len + 1;
	c->lines++;
	return c->stop_after && c->lines >= c->stop_after;
}

static void assert_collected(const struct collected *c, const char *expected)
{
	assert_int_equal(c->len, strlen(expected));
	assert_memory_equal(c->text, expected, c->len);
}

/* Writes three frames: "a1 a2", "b1", "c1 c2 c3"; returns the length after
 * each flush in ends[]. */
static void write_three_frames(const char *path, uint64_t ends[3])
{
	struct err err = {0};
	struct framelog *log = framelog_new(path, 0, &err);

	assert_non_null(log);
	add_line(log, "{\"a\":1}");
	add_line(log, "{\"a\":2}");
	assert_int_equal(framelog_flush(log, &err), 0);
	ends[0] = framelog_length(log);
	add_line(log, "{\"b\":1}");
	assert_int_equal(framelog_flush(log, &err), 0);
	ends[1] = framelog_length(log);
	add_line(log, "{\"c\":1}");
	add_line(log, "");
	add_line(log, "{\"c\":3}");
	assert_int_equal(framelog_flush(log, &err), 0);
	ends[2] = framelog_length(log);
	framelog_free(log);
}

static const char three_frames_text[] = "{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n{\"c\":1}\n\n{\"c\":3}\n";

static void test_each_flush_is_one_frame_and_zstd_reads_the_whole_file(void **state)
{
	const char *path = *state;
	uint64_t ends[3];
	size_t len;

	write_three_frames(path, ends);
	assert_int_equal(file_size(path), ends[2]);
	unsigned char *data = slurp(path, &len);

	/* Exactly three frames, ending where framelog_length() said. */
	size_t pos = 0;
	int frames = 0;
	while (pos < len) {
		size_t frame = ZSTD_findFrameCompressedSize(data + pos, len - pos);
		assert_false(ZSTD_isError(frame));
		pos += frame;
		assert_true(frames < 3);
		assert_int_equal(pos, ends[frames]);
		frames++;
	}
	assert_int_equal(frames, 3);

	/* What `zstd -dc` does: stream through all frames of the file. */
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	char out[4096];
	ZSTD_inBuffer in = {data, len, 0};
	ZSTD_outBuffer o = {out, sizeof(out), 0};
	while (in.pos < in.size) {
		size_t rc = ZSTD_decompressStream(dctx, &o, &in);
		assert_false(ZSTD_isError(rc));
	}
	assert_int_equal(o.pos, strlen(three_frames_text));
	assert_memory_equal(out, three_frames_text, o.pos);
	ZSTD_freeDCtx(dctx);

	/* And framelog_read agrees, line by line. */
	struct err err = {0};
	struct collected c = {0};
	uint64_t valid = 0;
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 6);
	assert_int_equal(valid, len);
	assert_collected(&c, three_frames_text);
	free(c.text);
	free(data);
}

static void test_reader_stops_at_truncated_tail_and_reports_valid_length(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {0};
	uint64_t ends[3];
	uint64_t valid = 0;

	write_three_frames(path, ends);
	assert_int_equal(truncate(path, (off_t)(ends[1] + (ends[2] - ends[1]) / 2)), 0);
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 3);
	assert_int_equal(valid, ends[1]);
	assert_collected(&c, "{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n");
	free(c.text);

	/* Cut inside the frame header itself. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(truncate(path, (off_t)(ends[1] + 2)), 0);
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 3);
	assert_int_equal(valid, ends[1]);
	free(c.text);
}

static void test_reader_stops_at_damaged_frame(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {0};
	uint64_t ends[3];
	uint64_t valid = 0;
	size_t len;

	write_three_frames(path, ends);
	unsigned char *data = slurp(path, &len);

	/* One flipped byte in the middle frame's payload: the checksum (or the
	 * decoder) rejects it, and nothing after it is trusted. */
	size_t mid = (size_t)(ends[0] + (ends[1] - ends[0]) / 2);
	int fd = open(path, O_WRONLY);
	unsigned char flipped = data[mid] ^ 0x5a;
	assert_int_equal(pwrite(fd, &flipped, 1, (off_t)mid), 1);
	close(fd);
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 2);
	assert_int_equal(valid, ends[0]);
	assert_collected(&c, "{\"a\":1}\n{\"a\":2}\n");
	free(c.text);

	/* Zeros after the last good frame (a crash on some file systems). */
	memset(&c, 0, sizeof(c));
	assert_int_equal(truncate(path, (off_t)ends[0]), 0);
	static const char zeros[64];
	append_bytes(path, zeros, sizeof(zeros));
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 2);
	assert_int_equal(valid, ends[0]);
	free(c.text);
	free(data);
}

static void test_reopen_after_cut_back_appends_after_last_good_frame(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {0};
	uint64_t ends[3];
	uint64_t valid = 0;
	uint64_t actual = 0;
	size_t len;

	/* A crash halfway through writing the third frame. */
	write_three_frames(path, ends);
	unsigned char *data = slurp(path, &len);
	assert_int_equal(truncate(path, (off_t)ends[1]), 0);
	append_bytes(path, data + ends[1], (size_t)(ends[2] - ends[1]) / 2);

	/* Recovery: the committed length (here: what the reader trusts). */
	assert_int_equal(framelog_read(path, UINT64_MAX, NULL, NULL, &valid, &err), 3);
	assert_int_equal(valid, ends[1]);
	assert_int_equal(durable_cut_back(path, valid, &actual, &err), 0);
	/* actual is the length found: the good frames and the half frame. */
	assert_int_equal(actual, ends[1] + (ends[2] - ends[1]) / 2);

	struct framelog *log = framelog_new(path, 3, &err);
	assert_non_null(log);
	assert_int_equal(framelog_length(log), ends[1]);
	add_line(log, "{\"redo\":1}");
	assert_int_equal(framelog_flush(log, &err), 0);
	assert_int_equal(framelog_length(log), file_size(path));
	framelog_free(log);

	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 4);
	assert_int_equal(valid, file_size(path));
	assert_collected(&c, "{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n{\"redo\":1}\n");
	free(c.text);
	free(data);
}

static void test_empty_flush_writes_nothing(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct framelog *log = framelog_new(path, 0, &err);

	assert_non_null(log);
	assert_int_equal(framelog_pending(log), 0);
	assert_int_equal(framelog_flush(log, &err), 0);
	assert_int_equal(framelog_length(log), 0);
	assert_int_equal(file_size(path), 0);

	/* Discarded lines are not written either. */
	add_line(log, "dropped");
	add_line(log, "dropped too");
	assert_int_equal(framelog_pending(log), 2);
	framelog_discard(log);
	assert_int_equal(framelog_pending(log), 0);
	assert_int_equal(framelog_flush(log, &err), 0);
	assert_int_equal(file_size(path), 0);

	add_line(log, "kept");
	assert_int_equal(framelog_pending(log), 1);
	assert_int_equal(framelog_flush(log, &err), 0);
	assert_int_equal(framelog_pending(log), 0);
	assert_true(framelog_length(log) > 0);
	framelog_free(log);
	framelog_free(NULL);
}

static void test_absent_file_reads_as_empty(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {0};
	uint64_t valid = 42;

	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 0);
	assert_int_equal(valid, 0);
	assert_int_equal(c.lines, 0);
	assert_int_equal(access(path, F_OK), -1);

	/* An empty file too. */
	append_bytes(path, "", 0);
	valid = 42;
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 0);
	assert_int_equal(valid, 0);
}

static void test_open_in_missing_folder_fails_with_message(void **state)
{
	struct err err = {0};
	char *path;

	assert_true(asprintf(&path, "%s.missing/x.zst", (const char *)*state) > 0);
	assert_null(framelog_new(path, 0, &err));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err.msg, path));
	free(path);
}

/* Lines "line <i> <padding>" checked for order by a callback. */
struct order_check {
	long next;
};

static int format_line(char *buf, size_t size, long i)
{
	/* Pseudo-random hex padding keeps the frames from compressing to
	 * nothing, so some of them outgrow the reader's first window. */
	unsigned long x = (unsigned long)i * 2654435761u + 12345u;
	int n = snprintf(buf, size, "{\"line\":%ld,\"pad\":\"", i);
	for (int k = 0; k < 24; k++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		n += snprintf(buf + n, size - (size_t)n, "%08lx", (x >> 24) & 0xffffffffu);
	}
	n += snprintf(buf + n, size - (size_t)n, "\"}");
	return n;
}

static int check_order(void *ctx, const char *line, size_t len)
{
	struct order_check *oc = ctx;
	char expected[512];
	int n = format_line(expected, sizeof(expected), oc->next);

	assert_int_equal(len, (size_t)n);
	assert_memory_equal(line, expected, len);
	oc->next++;
	return 0;
}

static void test_lines_with_many_lines(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct framelog *log = framelog_new(path, 1, &err);
	char line[512];
	const long total = 10000;

	assert_non_null(log);
	/* Flushes of uneven sizes, the largest about 1 MB of text. */
	long flushed_at[] = {1, 250, 4000, 4001, 9000, total};
	long i = 0;
	for (size_t f = 0; f < sizeof(flushed_at) / sizeof(flushed_at[0]); f++) {
		for (; i < flushed_at[f]; i++) {
			int n = format_line(line, sizeof(line), i);
			assert_int_equal(framelog_add(log, line, (size_t)n, NULL), 0);
		}
		assert_int_equal(framelog_flush(log, &err), 0);
	}
	uint64_t length = framelog_length(log);
	framelog_free(log);
	assert_int_equal(length, file_size(path));

	struct order_check oc = {0};
	uint64_t valid = 0;
	assert_int_equal(framelog_read(path, UINT64_MAX, check_order, &oc, &valid, &err), total);
	assert_int_equal(oc.next, total);
	assert_int_equal(valid, length);
}

static void test_limit_reads_only_frames_below_it(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {0};
	uint64_t ends[3];
	uint64_t valid = 0;

	write_three_frames(path, ends);
	/* A limit inside the third frame: as if the file ended there. */
	assert_int_equal(framelog_read(path, ends[2] - 1, collect, &c, &valid, &err), 3);
	assert_int_equal(valid, ends[1]);
	free(c.text);

	memset(&c, 0, sizeof(c));
	assert_int_equal(framelog_read(path, ends[0], collect, &c, &valid, &err), 2);
	assert_int_equal(valid, ends[0]);
	free(c.text);

	assert_int_equal(framelog_read(path, 0, NULL, NULL, &valid, &err), 0);
	assert_int_equal(valid, 0);
}

static void test_callback_can_stop_the_read(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {.stop_after = 4};
	uint64_t ends[3];
	uint64_t valid = 0;

	write_three_frames(path, ends);
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 4);
	assert_collected(&c, "{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n{\"c\":1}\n");
	/* Stopped inside the third frame, which was whole and checked. */
	assert_int_equal(valid, ends[2]);
	free(c.text);
}

static void test_flush_cuts_back_a_stray_tail_before_appending(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {0};
	struct framelog *log = framelog_new(path, 0, &err);
	uint64_t valid = 0;

	assert_non_null(log);
	add_line(log, "first");
	assert_int_equal(framelog_flush(log, &err), 0);
	uint64_t first = framelog_length(log);

	/* A tail the log does not own (a failed flush whose own cut-back
	 * failed) must not end up between two frames. */
	append_bytes(path, "garbage", 7);
	add_line(log, "second");
	assert_int_equal(framelog_flush(log, &err), 0);
	assert_true(framelog_length(log) > first);
	assert_int_equal(framelog_length(log), file_size(path));
	framelog_free(log);

	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 2);
	assert_collected(&c, "first\nsecond\n");
	assert_int_equal(valid, file_size(path));
	free(c.text);
}

static void test_failed_flush_cuts_back_and_keeps_the_lines(void **state)
{
	const char *path = *state;
	struct err err = {0};
	struct collected c = {0};
	struct framelog *log = framelog_new(path, 0, &err);
	char line[512];
	uint64_t valid = 0;

	assert_non_null(log);
	add_line(log, "committed");
	assert_int_equal(framelog_flush(log, &err), 0);
	uint64_t before = framelog_length(log);

	/* A file size limit a little past the end makes the next append fail
	 * after a partial write, as a full disk would. */
	for (long i = 0; i < 500; i++) {
		int n = format_line(line, sizeof(line), i);
		assert_int_equal(framelog_add(log, line, (size_t)n, NULL), 0);
	}
	struct rlimit saved, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = before + 100;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	errno = 0;
	int rc = framelog_flush(log, &err);
	int failed = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);

	assert_int_equal(rc, -1);
	assert_int_equal(failed, EFBIG);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(file_size(path), before);
	assert_int_equal(framelog_length(log), before);
	assert_int_equal(framelog_pending(log), 500);

	/* The kept lines go out on the next try. */
	assert_int_equal(framelog_flush(log, &err), 0);
	assert_int_equal(framelog_length(log), file_size(path));
	framelog_free(log);
	assert_int_equal(framelog_read(path, UINT64_MAX, collect, &c, &valid, &err), 501);
	assert_int_equal(valid, file_size(path));
	free(c.text);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, make_folder, remove_folder)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_each_flush_is_one_frame_and_zstd_reads_the_whole_file),
	    TEST(test_reader_stops_at_truncated_tail_and_reports_valid_length),
	    TEST(test_reader_stops_at_damaged_frame),
	    TEST(test_reopen_after_cut_back_appends_after_last_good_frame),
	    TEST(test_empty_flush_writes_nothing),
	    TEST(test_absent_file_reads_as_empty),
	    TEST(test_open_in_missing_folder_fails_with_message),
	    TEST(test_lines_with_many_lines),
	    TEST(test_limit_reads_only_frames_below_it),
	    TEST(test_callback_can_stop_the_read),
	    TEST(test_flush_cuts_back_a_stray_tail_before_appending),
	    TEST(test_failed_flush_cuts_back_and_keeps_the_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
