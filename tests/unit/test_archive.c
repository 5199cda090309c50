#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/ingest/archive.h"

/* libarchive's own header has the same name; see lib/archive.c. */
#include <archive.h>
#ifndef ARCHIVE_VERSION_NUMBER
#include <../include/archive.h>
#endif
#include <archive_entry.h>

/* Each test runs in its own fresh folder under /tmp, removed afterwards. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_folder(void **state)
{
	char *dir = strdup("/tmp/test_archive.XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int remove_folder(void **state)
{
	char *dir = *state;
	int rc = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return rc;
}

static char *join(const char *dir, const char *name)
{
	char *path;
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	return path;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* JSON lines with enough variety that the compressed file is not tiny. */
static char *sample_lines(size_t lines, size_t *len)
{
	size_t cap = lines * 96 + 1;
	char *text = malloc(cap);
	size_t used = 0;
	unsigned long x = 88172645463325252u;

	assert_non_null(text);
	for (size_t i = 0; i < lines; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		used += (size_t)snprintf(text + used, cap - used,
					 "{\"id\":%zu,\"pnl\":%lu,\"side\":\"%s\"}\n", i,
					 x % 1000003u, (x & 1) ? "buy" : "sell");
	}
	*len = used;
	return text;
}

/* Compresses data into path through libarchive's writer: one raw entry,
 * the way `gzip` or `zstd` would write a single file. */
static void write_compressed(const char *path, int (*add_filter)(struct archive *),
			     const void *data, size_t len)
{
	struct archive *a = archive_write_new();
	struct archive_entry *entry = archive_entry_new();

	assert_non_null(a);
	assert_non_null(entry);
	assert_int_equal(add_filter(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_pathname(entry, "log.jsonl");
	archive_entry_set_size(entry, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, entry), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(entry);
}

/* Reads a whole stream in small pieces; -1 when the read failed, with what
 * came before the failure in *out. */
static int read_stream(const char *path, char **out, size_t *out_len, struct err *err)
{
	struct archive_stream *s = archive_stream_new(path, err);
	char chunk[1000];
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	assert_non_null(s);
	for (;;) {
		ssize_t n = archive_stream_read(s, chunk, sizeof(chunk), err);
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		text = realloc(text, len + (size_t)n);
		assert_non_null(text);
		memcpy(text + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	/* The end stays the end. */
	if (rc == 0)
		assert_int_equal(archive_stream_read(s, chunk, sizeof(chunk), err), 0);
	archive_stream_free(s);
	*out = text;
	*out_len = len;
	return rc;
}

static void assert_reads_back(const char *path, const char *expected, size_t expected_len)
{
	struct err err = {0};
	char *text;
	size_t len;

	assert_int_equal(read_stream(path, &text, &len, &err), 0);
	assert_int_equal(len, expected_len);
	if (len)
		assert_memory_equal(text, expected, len);
	free(text);
}

static void test_reads_gzip_file(void **state)
{
	char *path = join(*state, "attribution.jsonl.2.gz");
	size_t len;
	char *text = sample_lines(5000, &len);

	write_compressed(path, archive_write_add_filter_gzip, text, len);
	assert_reads_back(path, text, len);
	free(text);
	free(path);
}

static void test_reads_zstd_file(void **state)
{
	char *path = join(*state, "attribution.jsonl.1.zst");
	size_t len;
	char *text = sample_lines(5000, &len);

	write_compressed(path, archive_write_add_filter_zstd, text, len);
	assert_reads_back(path, text, len);
	free(text);
	free(path);
}

static void test_reads_xz_and_bzip2_files(void **state)
{
	char *xz = join(*state, "a.jsonl.xz");
	char *bz2 = join(*state, "a.jsonl.bz2");
	size_t len;
	char *text = sample_lines(500, &len);

	write_compressed(xz, archive_write_add_filter_xz, text, len);
	assert_reads_back(xz, text, len);
	write_compressed(bz2, archive_write_add_filter_bzip2, text, len);
	assert_reads_back(bz2, text, len);
	free(text);
	free(xz);
	free(bz2);
}

static void test_reads_every_frame_of_a_multi_frame_zstd_file(void **state)
{
	/* A frame log is several zstd frames back to back; `zstd -dc` reads
	 * them all, and so must we. */
	char *path = join(*state, "outcomes.jsonl.zst");
	size_t len;
	char *text = sample_lines(3000, &len);
	size_t half = len / 2;
	size_t cap = ZSTD_compressBound(len) * 2;
	char *frames = malloc(cap);

	assert_non_null(frames);
	size_t first = ZSTD_compress(frames, cap, text, half, 3);
	assert_false(ZSTD_isError(first));
	size_t second = ZSTD_compress(frames + first, cap - first, text + half, len - half, 3);
	assert_false(ZSTD_isError(second));
	write_file(path, frames, first + second);
	assert_reads_back(path, text, len);
	free(frames);
	free(text);
	free(path);
}

static void test_reads_plain_file_unchanged(void **state)
{
	char *path = join(*state, "attribution.jsonl.1");
	size_t len;
	char *text = sample_lines(2000, &len);

	write_file(path, text, len);
	assert_reads_back(path, text, len);

	/* Bytes that are no known format pass through too. */
	const char odd[] = "\x00\x01\x02not json\xff\xfe\n";
	write_file(path, odd, sizeof(odd) - 1);
	assert_reads_back(path, odd, sizeof(odd) - 1);
	free(text);
	free(path);
}

static void test_reads_empty_file_as_empty(void **state)
{
	char *path = join(*state, "empty.jsonl");

	write_file(path, "", 0);
	assert_reads_back(path, "", 0);
	free(path);
}

static void test_absent_file_fails_with_enoent(void **state)
{
	struct err err = {0};
	char *path = join(*state, "absent.jsonl.gz");

	errno = 0;
	assert_null(archive_stream_new(path, &err));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err.msg, path));
	archive_stream_free(NULL);
	free(path);
}

static void test_truncated_gzip_reports_error_after_valid_prefix(void **state)
{
	struct err err = {0};
	char *path = join(*state, "cut.jsonl.gz");
	size_t len;
	char *text = sample_lines(20000, &len);
	struct stat st;

	write_compressed(path, archive_write_add_filter_gzip, text, len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);

	char *got;
	size_t got_len;
	assert_int_equal(read_stream(path, &got, &got_len, &err), -1);
	assert_true(err.msg[0] != '\0');
	/* What came before the damage is the file's true beginning. */
	assert_true(got_len > 0);
	assert_true(got_len < len);
	assert_memory_equal(got, text, got_len);
	free(got);
	free(text);
	free(path);
}

static void test_is_compressed_name(void **state)
{
	static const struct {
		const char *name;
		int compressed;
	} cases[] = {
	    {"attribution.jsonl.2.gz", 1},
	    {"trades.jsonl.zst", 1},
	    {"trades.jsonl.xz", 1},
	    {"trades.jsonl.bz2", 1},
	    {"trades.jsonl.lz4", 1},
	    {"trades.jsonl.Z", 1},
	    {"logs/old/signals.jsonl.1.gz", 1},
	    {"trades.jsonl", 0},
	    {"trades.jsonl.1", 0},
	    {"trades.gz.jsonl", 0},
	    {"trades.jsonl.z", 0},
	    {"trades.jsonl.GZ", 0},
	    {"trades.jsonlgz", 0},
	    {".gz", 0},
	    {"", 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (archive_is_compressed_name(cases[i].name) != cases[i].compressed)
			fail_msg("archive_is_compressed_name(\"%s\") should be %d", cases[i].name,
				 cases[i].compressed);
	}
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, make_folder, remove_folder)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_reads_gzip_file),
	    TEST(test_reads_zstd_file),
	    TEST(test_reads_xz_and_bzip2_files),
	    TEST(test_reads_every_frame_of_a_multi_frame_zstd_file),
	    TEST(test_reads_plain_file_unchanged),
	    TEST(test_reads_empty_file_as_empty),
	    TEST(test_absent_file_fails_with_enoent),
	    TEST(test_truncated_gzip_reports_error_after_valid_prefix),
	    TEST(test_is_compressed_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
