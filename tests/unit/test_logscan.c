#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h> /* libarchive's, to write a .gz as logrotate would */
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zstd.h>

#include "lib/ingest/logscan.h"

/* Every test runs in a fresh folder under /tmp. */
struct fixture {
	char dir[64];
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/test_logscan.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	int rc = nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return rc;
}

/* Writes dir/name with text and a modification time of `second`. */
static void put(const struct fixture *fx, const char *name, const char *text, time_t second)
{
	char path[256];
	struct timespec times[2] = {{second, 0}, {second, 0}};
	snprintf(path, sizeof path, "%s/%s", fx->dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void put_gz(const struct fixture *fx, const char *name, const char *text)
{
	char path[256];
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t len = strlen(text);
	snprintf(path, sizeof path, "%s/%s", fx->dir, name);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, text, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
}

static void put_zst(const struct fixture *fx, const char *name, const char *text)
{
	char path[256], frame[1024];
	size_t n = ZSTD_compress(frame, sizeof frame, text, strlen(text), 3);
	assert_false(ZSTD_isError(n));
	snprintf(path, sizeof path, "%s/%s", fx->dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(frame, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static const char *base(const struct logscan_file *f)
{
	return strrchr(f->path, '/') + 1;
}

static void test_lists_the_live_file_and_its_rotations_oldest_first(void **state)
{
	struct fixture *fx = *state;
	struct logscan_file *list;
	struct err err;
	size_t n;
	put(fx, "bot.jsonl", "live\n", 5000);
	put(fx, "bot.jsonl.1", "one\n", 4000);
	put(fx, "bot.jsonl.2", "two\n", 3000);
	put(fx, "bot.jsonl-20260101", "dated\n", 1000);
	/* Same time as .2: the higher rotation number is the older file. */
	put(fx, "bot.jsonl.3", "three\n", 3000);
	/* Not this source's files. */
	put(fx, "bot.jsonlx", "x\n", 10);
	put(fx, "other.jsonl.1", "x\n", 10);
	put(fx, "bot.jsonl.1.tmp", "x\n", 10);
	put(fx, "bot.jsonl.", "x\n", 10);
	assert_int_equal(logscan_list(fx->dir, "bot.jsonl", &list, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_string_equal(base(&list[0]), "bot.jsonl-20260101");
	assert_string_equal(base(&list[1]), "bot.jsonl.3");
	assert_string_equal(base(&list[2]), "bot.jsonl.2");
	assert_string_equal(base(&list[3]), "bot.jsonl.1");
	assert_string_equal(base(&list[4]), "bot.jsonl");
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(list[i].is_named, i == 4);
		assert_int_equal(list[i].compressed, 0);
	}
	free(list);
}

static void test_compressed_rotations_are_marked_by_their_name(void **state)
{
	struct fixture *fx = *state;
	struct logscan_file *list;
	struct err err;
	size_t n;
	put_gz(fx, "bot.jsonl.2.gz", "a\n");
	put_zst(fx, "bot.jsonl.3.zst", "b\n");
	assert_int_equal(logscan_list(fx->dir, "bot.jsonl", &list, &n, &err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(list[i].compressed, 1);
	free(list);
}

static void test_a_missing_folder_is_an_error_and_an_empty_one_lists_nothing(void **state)
{
	struct fixture *fx = *state;
	struct logscan_file *list;
	struct err err;
	size_t n = 7;
	char missing[128];
	snprintf(missing, sizeof missing, "%s/nope", fx->dir);
	assert_int_equal(logscan_list(missing, "bot.jsonl", &list, &n, &err), -1);
	assert_non_null(strstr(err.msg, "nope"));
	assert_int_equal(logscan_list(fx->dir, "bot.jsonl", &list, &n, &err), 0);
	assert_int_equal(n, 0);
	free(list);
}

/* What a read hands out, one item per call: "offset:line" or
 * "offset:line|" for the unterminated end. */
struct seen {
	char text[512];
	int calls, stop_after;
};

static int collect(void *ctx, const char *line, size_t len, uint64_t offset, int complete)
{
	struct seen *s = ctx;
	size_t used = strlen(s->text);
	snprintf(s->text + used, sizeof s->text - used, "%s%llu:%.*s%s", used ? " " : "",
		 (unsigned long long)offset, (int)len, line, complete ? "" : "|");
	return ++s->calls == s->stop_after ? 42 : 0;
}

static void read_all(struct fixture *fx, const char *name, struct seen *s)
{
	char path[256];
	struct err err;
	snprintf(path, sizeof path, "%s/%s", fx->dir, name);
	assert_int_equal(logscan_read(path, 1 << 20, collect, s, &err), 0);
}

static void test_lines_come_with_their_offsets_and_an_unterminated_end(void **state)
{
	struct fixture *fx = *state;
	struct seen s = {0};
	put(fx, "bot.jsonl", "ab\n\ncde\nhalf", 1);
	read_all(fx, "bot.jsonl", &s);
	assert_string_equal(s.text, "0:ab 3: 4:cde 8:half|");
}

static void test_gzip_and_zstd_files_read_as_their_content(void **state)
{
	struct fixture *fx = *state;
	struct seen gz = {0}, zst = {0};
	put_gz(fx, "bot.jsonl.1.gz", "{\"a\":1}\n{\"b\":2}\n");
	put_zst(fx, "bot.jsonl.2.zst", "x\nyz\n");
	read_all(fx, "bot.jsonl.1.gz", &gz);
	read_all(fx, "bot.jsonl.2.zst", &zst);
	assert_string_equal(gz.text, "0:{\"a\":1} 8:{\"b\":2}");
	assert_string_equal(zst.text, "0:x 2:yz");
}

/* Lengths and offsets of the lines read. */
struct lengths {
	size_t len[4];
	uint64_t offset[4];
	int n;
};

static int measure(void *ctx, const char *line, size_t len, uint64_t offset, int complete)
{
	struct lengths *got = ctx;
	(void)line;
	assert_true(complete);
	assert_true(got->n < 4);
	got->len[got->n] = len;
	got->offset[got->n++] = offset;
	return 0;
}

static void test_lines_longer_than_the_first_buffer_are_whole(void **state)
{
	struct fixture *fx = *state;
	size_t big = 3u << 20;
	char *text = malloc(big + 8), path[256];
	struct lengths got = {0};
	struct err err;
	assert_non_null(text);
	memset(text, 'x', big);
	memcpy(text + big, "\nend\n", 6);
	put(fx, "bot.jsonl", text, 1);
	free(text);
	snprintf(path, sizeof path, "%s/bot.jsonl", fx->dir);
	assert_int_equal(logscan_read(path, 4 << 20, measure, &got, &err), 0);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.len[0], big);
	assert_int_equal(got.offset[1], big + 1);
	assert_int_equal(got.len[1], 3);
}

static void test_a_callback_that_says_stop_stops_the_read(void **state)
{
	struct fixture *fx = *state;
	struct seen s = {.stop_after = 2};
	char path[256];
	struct err err;
	put(fx, "bot.jsonl", "a\nb\nc\n", 1);
	snprintf(path, sizeof path, "%s/bot.jsonl", fx->dir);
	assert_int_equal(logscan_read(path, 1 << 20, collect, &s, &err), 42);
	assert_string_equal(s.text, "0:a 2:b");
}

static void test_a_line_over_max_line_is_skipped_with_its_length_and_no_bytes(void **state)
{
	struct fixture *fx = *state;
	char text[200], path[256];
	struct logscan_line line;
	struct err err;
	memset(text, 0, sizeof text);
	strcpy(text, "a\n");
	memset(text + 2, 'x', 100);
	strcpy(text + 102, "\nb\nend");
	put(fx, "bot.jsonl", text, 1);
	snprintf(path, sizeof path, "%s/bot.jsonl", fx->dir);
	struct logscan_reader *r = logscan_open(path, NULL, 10, &err);
	assert_non_null(r);
	assert_int_equal(logscan_next(r, &line, &err), 1);
	assert_int_equal(line.kind, LOGSCAN_LINE);
	assert_int_equal(line.len, 1);
	assert_int_equal(logscan_next(r, &line, &err), 1);
	assert_int_equal(line.kind, LOGSCAN_LONG);
	assert_null(line.data);
	assert_int_equal(line.len, 100);
	assert_int_equal(line.offset, 2);
	assert_int_equal(logscan_next(r, &line, &err), 1);
	assert_int_equal(line.kind, LOGSCAN_LINE);
	assert_int_equal(line.offset, 103);
	assert_memory_equal(line.data, "b", 1);
	assert_int_equal(logscan_next(r, &line, &err), 1);
	assert_int_equal(line.kind, LOGSCAN_TAIL);
	assert_int_equal(line.len, 3);
	assert_int_equal(logscan_next(r, &line, &err), 0);
	logscan_close(r);
}

/* Lines "<time> <text>". */
static int64_t leading_number(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	return len && line[0] >= '0' && line[0] <= '9' ? atoll(line) : INT64_MIN;
}

static void
test_history_orders_by_record_time_and_marks_a_copy_of_the_live_file_covered(void **state)
{
	struct fixture *fx = *state;
	struct logscan_entry *list;
	size_t n;
	struct err err;
	/* Names and modification times say the opposite of the records. */
	put(fx, "bot.jsonl", "30 c\n40 d\n50 e\n", 1);
	put(fx, "bot.jsonl.1", "30 c\n40 d\n", 5); /* a copytruncate's copy, not truncated yet */
	put(fx, "bot.jsonl.2", "10 a\n20 b\n", 9);
	assert_int_equal(logscan_history(fx->dir, "bot.jsonl", 1 << 20, leading_number, NULL, NULL,
					 &list, &n, &err),
			 0);
	assert_int_equal(n, 3);
	assert_non_null(strstr(list[0].path, "bot.jsonl.2"));
	assert_int_equal(list[0].first_ts, 10);
	assert_false(list[0].covered);
	assert_non_null(strstr(list[1].path, "bot.jsonl.1"));
	assert_true(list[1].covered);
	assert_int_equal(list[1].covered_length, 10);
	assert_true(list[2].is_named);
	assert_false(list[2].covered);
	free(list);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_lists_the_live_file_and_its_rotations_oldest_first),
	    T(test_compressed_rotations_are_marked_by_their_name),
	    T(test_a_missing_folder_is_an_error_and_an_empty_one_lists_nothing),
	    T(test_lines_come_with_their_offsets_and_an_unterminated_end),
	    T(test_gzip_and_zstd_files_read_as_their_content),
	    T(test_lines_longer_than_the_first_buffer_are_whole),
	    T(test_a_callback_that_says_stop_stops_the_read),
	    T(test_a_line_over_max_line_is_skipped_with_its_length_and_no_bytes),
	    T(test_history_orders_by_record_time_and_marks_a_copy_of_the_live_file_covered),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
