#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h> /* libarchive's, to write a .gz as logrotate would */
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/hash.h"
#include "lib/ingest/follow.h"

/*
 * Every test runs in a fresh folder under /tmp with one source,
 * "bot.jsonl". What a follower hands out is written down as text, one item
 * per word: a line as itself (an empty one as <EMPTY>), an over-long line as <LONG:len@offset>, an
 * abandoned tail as <TAIL:len@offset>; the tests compare that text.
 */
struct fixture {
	char dir[64];
	char path[128];	   /* dir/bot.jsonl */
	char rotated[128]; /* dir/bot.jsonl.1 */
	struct follow *f;
};

static const char *const files[] = {"bot.jsonl"};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_follow.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/bot.jsonl", fx->dir);
	snprintf(fx->rotated, sizeof(fx->rotated), "%s/bot.jsonl.1", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	follow_free(fx->f);
	int rc = nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return rc;
}

/* ---- files -------------------------------------------------------------- */

static void write_mode(const char *path, const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void write_file(const char *path, const char *text)
{
	write_mode(path, "w", text);
}

static void append_file(const char *path, const char *text)
{
	write_mode(path, "a", text);
}

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);
	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* copytruncate: copy the file's bytes to dst, then cut the original to 0
 * (same inode). */
static void copy_truncate(const char *path, const char *dst)
{
	size_t len;
	char *buf = read_whole(path, &len);
	FILE *f = fopen(dst, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(buf);
	assert_int_equal(truncate(path, 0), 0);
}

/* gzip src into dst (logrotate's compress), with libarchive's raw format. */
static void gzip_file(const char *src, const char *dst)
{
	size_t len;
	char *buf = read_whole(src, &len);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, dst), ARCHIVE_OK);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, "bot.jsonl.1");
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, buf, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
	free(buf);
}

/* ---- followers ------------------------------------------------------------ */

static struct follow *open_follower(struct fixture *fx, uint64_t max_line, int force_poll)
{
	struct follow_options opt = {0};
	struct err err;
	opt.max_line = max_line;
	opt.force_poll = force_poll;
	opt.orphan_grace_us = 1; /* renamed-away files are let go at once */
	struct follow *f = follow_new(fx->dir, files, 1, &opt, &err);
	if (!f)
		fail_msg("follow_new: %s", err.msg);
	return f;
}

/* A polling follower resumed from saved (NULL: from the start). */
static struct follow *start(struct fixture *fx, const struct follow_saved *saved,
			    int64_t committed_at, uint64_t max_line)
{
	struct follow *f = open_follower(fx, max_line, 1);
	assert_int_equal(follow_is_polling(f), 1);
	assert_int_equal(follow_fd(f), -1);
	follow_restore(f, 0, saved, committed_at);
	return f;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Appends the text of one item to out. */
static void describe(const struct follow_line *l, char *out, size_t len)
{
	size_t used = strlen(out);
	const char *sep = used ? " " : "";
	if (l->kind == FOLLOW_LINE && l->len == 0)
		snprintf(out + used, len - used, "%s<EMPTY>", sep);
	else if (l->kind == FOLLOW_LINE)
		snprintf(out + used, len - used, "%s%.*s", sep, (int)l->len, l->data);
	else
		snprintf(out + used, len - used, "%s<%s:%zu@%llu>", sep,
			 l->kind == FOLLOW_LONG ? "LONG" : "TAIL", l->len,
			 (unsigned long long)l->offset);
}

/* Reads n items, waiting a little for orphans to be let go; with
 * expect_end, checks that nothing more comes. Returns the items' text. */
static char *read_items(struct follow *f, size_t n, int expect_end)
{
	static char out[4096];
	struct err err;
	struct follow_line l;
	size_t got = 0;
	int idle = 0;
	out[0] = '\0';
	while (got < n) {
		int rc = follow_next(f, 0, &l, &err);
		if (rc < 0)
			fail_msg("follow_next: %s", err.msg);
		if (rc == 0) {
			if (++idle > 200)
				fail_msg("only %zu of %zu items: \"%s\"", got, n, out);
			sleep_ms(1);
			continue;
		}
		assert_int_equal(l.source, 0);
		assert_non_null(l.path);
		describe(&l, out, sizeof(out));
		got++;
	}
	for (int i = 0; expect_end && i < 3; i++) {
		sleep_ms(1);
		int rc = follow_next(f, 0, &l, &err);
		if (rc != 0) {
			describe(&l, out, sizeof(out));
			fail_msg("more than %zu items: \"%s\"", n, out);
		}
	}
	return out;
}

/* The next n items, more may follow. */
static char *take(struct follow *f, size_t n)
{
	return read_items(f, n, 0);
}

/* The last n items: nothing may follow. */
static char *read_n(struct follow *f, size_t n)
{
	return read_items(f, n, 1);
}

/* One item, with where it came from. */
static void next_item(struct follow *f, struct follow_line *l)
{
	struct err err;
	for (int i = 0; i < 200; i++) {
		int rc = follow_next(f, 0, l, &err);
		assert_true(rc >= 0);
		if (rc == 1)
			return;
		sleep_ms(1);
	}
	fail_msg("no item");
}

static void assert_nothing(struct follow *f)
{
	struct err err;
	struct follow_line l;
	assert_int_equal(follow_next(f, 0, &l, &err), 0);
}

/* ---- reading -------------------------------------------------------------- */

/* A first run over content: starts, reads n lines (they must read as want,
 * or nothing when n is 0), saves, stops. Returns the commit time. */
static int64_t first_run(struct fixture *fx, const char *content, size_t n, const char *want,
			 struct follow_saved *saved)
{
	write_file(fx->path, content);
	fx->f = start(fx, NULL, 0, 0);
	if (n)
		assert_string_equal(read_n(fx->f, n), want);
	else
		assert_nothing(fx->f);
	follow_save(fx->f, 0, saved);
	int64_t committed = calendar_now();
	follow_free(fx->f);
	fx->f = NULL;
	return committed;
}

static void test_reads_complete_lines_only(void **state)
{
	struct fixture *fx = *state;
	struct follow_line l;
	write_file(fx->path, "a\nb");
	fx->f = start(fx, NULL, 0, 0);
	next_item(fx->f, &l);
	assert_int_equal(l.kind, FOLLOW_LINE);
	assert_int_equal(l.len, 1);
	assert_memory_equal(l.data, "a", 1);
	assert_int_equal(l.offset, 0);
	assert_string_equal(l.path, fx->path);
	assert_nothing(fx->f);
	assert_nothing(fx->f);

	append_file(fx->path, "c\n");
	next_item(fx->f, &l);
	assert_int_equal(l.len, 2);
	assert_memory_equal(l.data, "bc", 2);
	assert_int_equal(l.offset, 2);
	assert_nothing(fx->f);
}

static void test_empty_lines_and_a_missing_file(void **state)
{
	struct fixture *fx = *state;
	fx->f = start(fx, NULL, 0, 0); /* the file does not exist yet */
	assert_nothing(fx->f);
	write_file(fx->path, "\n\nx\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 3), "<EMPTY> <EMPTY> x");
}

static void test_save_after_a_partial_line_stays_at_its_start(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	write_file(fx->path, "a\nb");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(read_n(fx->f, 1), "a");
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.has_current, 1);
	assert_int_equal(saved.current.offset, 2);
	assert_int_equal(saved.current.size, 3);
	assert_string_equal(saved.current.path, fx->path);
	assert_int_equal(saved.n_draining, 0);
	assert_int_equal(saved.current.compressed, 0);
	/* The fingerprints cover only bytes handed out. */
	assert_int_equal(saved.current.head_len, 2);
	assert_int_equal(saved.current.head_hash, hash_fnv1a64(HASH_FNV1A64_INIT, "a\n", 2));
	assert_int_equal(saved.current.tail_len, 2);
	assert_int_equal(saved.current.tail_hash, hash_fnv1a64(HASH_FNV1A64_INIT, "a\n", 2));
	assert_int_equal(follow_lag_bytes(fx->f, 0), 1);
}

static void test_restore_at_saved_offset_continues_exactly(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	struct follow_line l;
	write_file(fx->path, "l1\nl2\nl3\npart");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 3), "l1 l2 l3");
	follow_save(fx->f, 0, &saved);
	int64_t committed = calendar_now();
	follow_free(fx->f);

	append_file(fx->path, "ial\nl5\n");
	fx->f = start(fx, &saved, committed, 0);
	next_item(fx->f, &l);
	assert_int_equal(l.offset, 9);
	assert_int_equal(l.len, 7);
	assert_memory_equal(l.data, "partial", 7);
	assert_string_equal(read_n(fx->f, 1), "l5");
}

/* Saved before anything was read: the restore reads from the start. */
static void test_restore_of_a_position_at_zero_reads_from_the_start(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	write_file(fx->path, "");
	fx->f = start(fx, NULL, 0, 0);
	assert_nothing(fx->f);
	follow_save(fx->f, 0, &saved);
	follow_free(fx->f);
	write_file(fx->path, "one\ntwo\n");
	fx->f = start(fx, &saved, calendar_now(), 0);
	assert_string_equal(read_n(fx->f, 2), "one two");
}

static void test_many_lines_across_buffer_refills(void **state)
{
	struct fixture *fx = *state;
	FILE *f = fopen(fx->path, "w");
	assert_non_null(f);
	for (int i = 0; i < 20000; i++) /* about 300 KB: several 64 KB reads */
		fprintf(f, "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n", i);
	fclose(f);
	fx->f = start(fx, NULL, 0, 0);
	for (int i = 0; i < 20000; i++) {
		struct follow_line l;
		char want[80];
		next_item(fx->f, &l);
		int n = snprintf(want, sizeof(want),
				 "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", i);
		assert_int_equal(l.len, (size_t)n);
		assert_memory_equal(l.data, want, (size_t)n);
	}
	assert_nothing(fx->f);
	assert_int_equal(follow_lag_bytes(fx->f, 0), 0);
}

/* ---- long lines ---------------------------------------------------------- */

static char *repeat(char c, size_t n, const char *then)
{
	char *s = malloc(n + strlen(then) + 1);
	assert_non_null(s);
	memset(s, c, n);
	strcpy(s + n, then);
	return s;
}

static void test_long_line_is_skipped_and_the_next_is_normal(void **state)
{
	struct fixture *fx = *state;
	char *text = repeat('x', 150, "\nok\n");
	write_file(fx->path, text);
	free(text);
	fx->f = start(fx, NULL, 0, 100);
	assert_string_equal(read_n(fx->f, 2), "<LONG:150@0> ok");
}

static void test_long_line_arriving_in_pieces_is_one_long_item(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	char *text = repeat('x', 150, "");
	write_file(fx->path, text);
	free(text);
	fx->f = start(fx, NULL, 0, 100);
	assert_nothing(fx->f);
	text = repeat('x', 50, "\nok\n");
	append_file(fx->path, text);
	free(text);
	assert_string_equal(read_n(fx->f, 2), "<LONG:200@0> ok");
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.current.offset, 204);
}

/* max_line is the longest line kept: a line of exactly max_line bytes is a
 * line, whether its newline comes in the same write or a later one. */
static void test_line_of_exactly_max_line_bytes_is_kept(void **state)
{
	struct fixture *fx = *state;
	char *text = repeat('y', 100, "\n");
	write_file(fx->path, text);
	free(text);
	fx->f = start(fx, NULL, 0, 100);
	struct follow_line l;
	next_item(fx->f, &l);
	assert_int_equal(l.kind, FOLLOW_LINE);
	assert_int_equal(l.len, 100);
	follow_free(fx->f);

	text = repeat('z', 100, "");
	write_file(fx->path, text);
	free(text);
	fx->f = start(fx, NULL, 0, 100);
	assert_nothing(fx->f); /* no newline yet */
	append_file(fx->path, "\n");
	next_item(fx->f, &l);
	if (l.kind != FOLLOW_LINE)
		fail_msg("a %zu-byte line with max_line 100 came out as %s", l.len,
			 l.kind == FOLLOW_LONG ? "FOLLOW_LONG" : "FOLLOW_TAIL");
	assert_int_equal(l.len, 100);
}

/* ---- rotation while running ----------------------------------------------- */

static void test_rename_and_create_reads_old_file_then_new(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	struct follow_line l;
	write_file(fx->path, "1\n2\n3\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 1), "1");

	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append_file(fx->rotated, "4\n"); /* the bot's last line before it reopens */
	write_file(fx->path, "5\n6\n");
	follow_refresh(fx->f);

	next_item(fx->f, &l);
	assert_memory_equal(l.data, "2", 1);
	assert_string_equal(read_n(fx->f, 4), "3 4 5 6");

	/* The old file was let go and is remembered as read. */
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.n_draining, 0);
	assert_int_equal(saved.n_done, 1);
	assert_int_equal(saved.done[0].size, 8);
	assert_int_equal(saved.current.offset, 4);
}

/* line->path is "the file it came from": after a rename, that file's name
 * is bot.jsonl.1 (bot.jsonl is now the new file), so a quarantine entry's
 * file and offset point at the bytes. */
static void test_lines_of_a_renamed_file_name_its_new_path(void **state)
{
	struct fixture *fx = *state;
	struct follow_line l;
	write_file(fx->path, "1\n2\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 1), "1");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "3\n");
	follow_refresh(fx->f);
	next_item(fx->f, &l);
	assert_memory_equal(l.data, "2", 1);
	assert_int_equal(l.offset, 2);
	assert_string_equal(l.path, fx->rotated);
	next_item(fx->f, &l);
	assert_memory_equal(l.data, "3", 1);
	assert_string_equal(l.path, fx->path);
}

static void test_unterminated_last_line_of_a_rotated_file_is_a_tail(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->path, "x\npart");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 1), "x");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "y\n");
	follow_refresh(fx->f);
	/* Order across the two files is not promised; once-only is. */
	char *got = read_n(fx->f, 2);
	if (strcmp(got, "<TAIL:4@2> y") != 0 && strcmp(got, "y <TAIL:4@2>") != 0)
		fail_msg("\"%s\"", got);
}

struct copytruncate_case {
	const char *what;
	const char *after; /* written to the truncated file */
	const char *lines; /* the items after "1 2" */
};

static const struct copytruncate_case copytruncate_cases[] = {
    {"new content shorter than what was read", "7\n8\n", "3 4 5 6 7 8"},
    {"new content longer than what was read", "7777777777777777\n8888888888888888\n",
     "3 4 5 6 7777777777777777 8888888888888888"},
};

static void test_copytruncate_delivers_every_line_once(void **state)
{
	struct fixture *fx = *state;
	for (size_t i = 0; i < sizeof(copytruncate_cases) / sizeof(copytruncate_cases[0]); i++) {
		const struct copytruncate_case *c = &copytruncate_cases[i];
		unlink(fx->rotated);
		write_file(fx->path, "1\n2\n3\n4\n");
		fx->f = start(fx, NULL, 0, 0);
		assert_string_equal(take(fx->f, 2), "1 2");
		append_file(fx->path, "5\n6\n"); /* written, not yet read */
		copy_truncate(fx->path, fx->rotated);
		append_file(fx->path, c->after);
		follow_refresh(fx->f);
		char *got = read_n(fx->f, 6);
		if (strcmp(got, c->lines) != 0)
			fail_msg("%s: \"%s\", expected \"%s\"", c->what, got, c->lines);
		follow_free(fx->f);
		fx->f = NULL;
	}
}

/* logrotate with copytruncate and compress (no delaycompress): by the time
 * the truncation is seen, the copy is already a .gz. */
static void test_copytruncate_with_the_copy_already_gzipped(void **state)
{
	struct fixture *fx = *state;
	char gz[160];
	snprintf(gz, sizeof(gz), "%s.gz", fx->rotated);
	write_file(fx->path, "1\n2\n3\n4\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 2), "1 2");
	append_file(fx->path, "5\n6\n");
	copy_truncate(fx->path, fx->rotated);
	gzip_file(fx->rotated, gz);
	assert_int_equal(unlink(fx->rotated), 0);
	append_file(fx->path, "7\n8\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 6), "3 4 5 6 7 8");
}

/* The file truncated in place with no copy anywhere: read again from 0. */
static void test_truncation_without_a_copy_restarts_from_zero(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->path, "old-1\nold-2\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 1), "old-1");
	assert_int_equal(truncate(fx->path, 0), 0);
	append_file(fx->path, "new\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "new");
}

/* ---- rotation while down -------------------------------------------------- */

/* Reads two lines of five, saves, and stops; returns the commit time. */
static int64_t read_two_and_stop(struct fixture *fx, struct follow_saved *saved)
{
	write_file(fx->path, "1\n2\n3\n4\n5\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 2), "1 2");
	follow_save(fx->f, 0, saved);
	follow_free(fx->f);
	fx->f = NULL;
	return calendar_now();
}

static void test_restore_after_rename_while_down(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	struct follow_line l;
	int64_t committed = read_two_and_stop(fx, &saved);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "6\n7\n");
	fx->f = start(fx, &saved, committed, 0);
	next_item(fx->f, &l);
	assert_memory_equal(l.data, "3", 1);
	assert_string_equal(l.path, fx->rotated);
	assert_int_equal(l.offset, 4);
	assert_string_equal(read_n(fx->f, 4), "4 5 6 7");
}

static void test_restore_after_rename_and_gzip_while_down(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	struct follow_line l;
	char gz[160];
	int64_t committed = read_two_and_stop(fx, &saved);
	snprintf(gz, sizeof(gz), "%s.gz", fx->rotated);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	gzip_file(fx->rotated, gz);
	assert_int_equal(unlink(fx->rotated), 0);
	write_file(fx->path, "6\n7\n");

	fx->f = start(fx, &saved, committed, 0);
	next_item(fx->f, &l);
	assert_memory_equal(l.data, "3", 1);
	assert_string_equal(l.path, gz);
	assert_int_equal(l.offset, 4);
	assert_string_equal(read_n(fx->f, 4), "4 5 6 7");
}

/* A rotated file the saved state never saw (rotated, then rotated again
 * while down) is read in full, before the new file. */
static void test_restore_reads_a_file_rotated_twice_while_down(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	char second[160];
	int64_t committed = read_two_and_stop(fx, &saved);
	snprintf(second, sizeof(second), "%s/bot.jsonl.2", fx->dir);
	assert_int_equal(rename(fx->path, second), 0); /* the file we were reading */
	sleep_ms(20);				       /* distinct mtimes: older first */
	write_file(fx->rotated, "a\nb\n");	       /* a file we never saw */
	sleep_ms(20);
	write_file(fx->path, "6\n");
	fx->f = start(fx, &saved, committed, 0);
	assert_string_equal(read_n(fx->f, 6), "3 4 5 a b 6");
}

static void test_restore_after_copytruncate_while_down(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	int64_t committed = read_two_and_stop(fx, &saved);
	copy_truncate(fx->path, fx->rotated);
	append_file(fx->path, "6\n7\n");
	fx->f = start(fx, &saved, committed, 0);
	assert_string_equal(read_n(fx->f, 5), "3 4 5 6 7");
}

struct finished_case {
	const char *what;
	int compress; /* 0: bot.jsonl.1 renamed to bot.jsonl.2; 1: gzipped to .2.gz */
};

static const struct finished_case finished_cases[] = {
    {"renamed again", 0},
    {"compressed", 1},
};

/* A rotated file read to its end before the commit, then renamed or
 * compressed while down, is recognised (the ring of finished files) and
 * not read a second time. */
static void test_finished_rotated_file_is_not_read_again_after_restore(void **state)
{
	struct fixture *fx = *state;
	char older[160], older_gz[160];
	snprintf(older, sizeof(older), "%s/bot.jsonl.2", fx->dir);
	snprintf(older_gz, sizeof(older_gz), "%s/bot.jsonl.2.gz", fx->dir);
	for (size_t i = 0; i < sizeof(finished_cases) / sizeof(finished_cases[0]); i++) {
		struct follow_saved saved;
		unlink(fx->path);
		unlink(older);
		unlink(older_gz);
		write_file(fx->path, "1\n2\n3\n");
		fx->f = start(fx, NULL, 0, 0);
		assert_string_equal(take(fx->f, 1), "1");
		assert_int_equal(rename(fx->path, fx->rotated), 0);
		write_file(fx->path, "4\n");
		follow_refresh(fx->f);
		assert_string_equal(read_n(fx->f, 3), "2 3 4");
		follow_save(fx->f, 0, &saved);
		assert_int_equal(saved.n_done, 1);
		assert_int_equal(saved.n_draining, 0);
		int64_t committed = calendar_now();
		follow_free(fx->f);

		if (finished_cases[i].compress) {
			gzip_file(fx->rotated, older_gz);
			assert_int_equal(unlink(fx->rotated), 0);
		} else {
			assert_int_equal(rename(fx->rotated, older), 0);
		}
		append_file(fx->path, "5\n");
		fx->f = start(fx, &saved, committed, 0);
		char *got = read_n(fx->f, 1);
		if (strcmp(got, "5") != 0)
			fail_msg("finished file %s: \"%s\", expected \"5\"", finished_cases[i].what,
				 got);
		follow_free(fx->f);
		fx->f = NULL;
	}
}

struct rewrite_case {
	const char *what;
	int same_inode; /* 1: truncated and rewritten; 0: deleted and created */
};

static const struct rewrite_case rewrite_cases[] = {
    {"truncated and rewritten in place", 1},
    {"deleted and created again", 0},
};

/* Between save and restore the file got other, longer content: the old
 * offset means nothing in it; it is read from 0, with no garbage. */
static void test_restore_after_content_replaced_while_down(void **state)
{
	struct fixture *fx = *state;
	for (size_t i = 0; i < sizeof(rewrite_cases) / sizeof(rewrite_cases[0]); i++) {
		struct follow_saved saved;
		struct stat before, after;
		write_file(fx->path, "old1\nold2\nold3\n");
		assert_int_equal(stat(fx->path, &before), 0);
		fx->f = start(fx, NULL, 0, 0);
		assert_string_equal(take(fx->f, 1), "old1");
		follow_save(fx->f, 0, &saved);
		follow_free(fx->f);
		int64_t committed = calendar_now();

		if (!rewrite_cases[i].same_inode)
			assert_int_equal(unlink(fx->path), 0);
		write_file(fx->path, "new-line-number-1\nnew-line-number-2\nnew-line-number-3\n");
		assert_int_equal(stat(fx->path, &after), 0);
		if (rewrite_cases[i].same_inode)
			assert_int_equal(before.st_ino, after.st_ino);

		fx->f = start(fx, &saved, committed, 0);
		char *got = read_n(fx->f, 3);
		if (strcmp(got, "new-line-number-1 new-line-number-2 new-line-number-3") != 0)
			fail_msg("%s: \"%s\"", rewrite_cases[i].what, got);
		follow_free(fx->f);
		fx->f = NULL;
	}
}

/* Saved in the middle of a rotation (the old file half read): the restore
 * finishes the old file, then reads the new one, each line once. */
static void test_restore_in_the_middle_of_a_rotation(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	write_file(fx->path, "1\n2\n3\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 1), "1");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "4\n");
	follow_refresh(fx->f);
	struct follow_line l;
	next_item(fx->f, &l);
	assert_memory_equal(l.data, "2", 1);
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.n_draining, 1);
	assert_int_equal(saved.draining[0].offset, 4);
	follow_free(fx->f);

	fx->f = start(fx, &saved, calendar_now(), 0);
	assert_string_equal(read_n(fx->f, 2), "3 4");
}

/* Two rotations between two looks (a follower busy with another source
 * hears of neither): a copytruncate, the file regrowing less than what had
 * been read, then a rename. The regrown lines are in the renamed file,
 * before the offset the follower had reached in it. */
static void test_a_copytruncate_then_a_rename_before_a_look_loses_nothing(void **state)
{
	struct fixture *fx = *state;
	char gz[160];
	snprintf(gz, sizeof(gz), "%s/bot.jsonl.2.gz", fx->dir);
	write_file(fx->path, "1\n2\n3\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(read_n(fx->f, 3), "1 2 3");
	copy_truncate(fx->path, fx->rotated);
	append_file(fx->path, "4\n");
	gzip_file(fx->rotated, gz);
	assert_int_equal(unlink(fx->rotated), 0);
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "5\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 2), "4 5");
}

/* A copytruncate while the follower keeps reading and hears no event: it
 * notices the cut before reading on, instead of taking the bytes that have
 * grown again past its position for the rest of a line. */
static void test_a_copytruncate_is_noticed_without_an_event(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->path, "1\n2\n3\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(read_n(fx->f, 3), "1 2 3");
	copy_truncate(fx->path, fx->rotated);
	append_file(fx->path, "4444\n5\n");
	assert_string_equal(read_n(fx->f, 2), "4444 5");
}

/* Looked at between the rename and the creation of the new file: the new
 * file is taken up when read from next, not only when an event says so
 * (before a copytruncate of it puts its lines out of reach). */
static void test_a_name_created_again_is_taken_up_without_an_event(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->path, "1\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(read_n(fx->f, 1), "1");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	follow_refresh(fx->f); /* the name is missing just now */
	write_file(fx->path, "2\n");
	assert_string_equal(read_n(fx->f, 1), "2");
}

/* ---- restoring while a rotation runs ------------------------------------------ */

/* A rotation the way lib/sim.c and logrotate do it with delaycompress:
 * NAME.1 compressed into NAME.2.gz (older ones shifted up first), then NAME
 * renamed to NAME.1 and created again with next_text. */
static void rotate_rename_and_compress(struct fixture *fx, const char *next_text)
{
	char gz2[160], gz3[160];
	snprintf(gz2, sizeof(gz2), "%s/bot.jsonl.2.gz", fx->dir);
	snprintf(gz3, sizeof(gz3), "%s/bot.jsonl.3.gz", fx->dir);
	if (access(gz2, F_OK) == 0)
		assert_int_equal(rename(gz2, gz3), 0);
	if (access(fx->rotated, F_OK) == 0) {
		gzip_file(fx->rotated, gz2);
		assert_int_equal(unlink(fx->rotated), 0);
	}
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, next_text);
}

struct rotate_on_log {
	struct fixture *fx;
	const char *when; /* a rotation when a message contains this, once */
	int done;
};

/* The follower reports through its log callback, synchronously, from the
 * middle of follow_restore: the one instant a test can make a rotation
 * happen while the restore is looking at the files. */
static void rotate_when_logged(void *ctx, const char *message)
{
	struct rotate_on_log *r = ctx;
	if (r->done || !strstr(message, r->when))
		return;
	r->done = 1;
	rotate_rename_and_compress(r->fx, "5\n");
}

/* The restore judges the rotated files one name after the other. If the bot
 * rotates meanwhile, a name it has judged ("NAME.1: never seen, read it in
 * full") designates another file when it opens it — here the very file it
 * resumes at its saved offset, whose lines would all be read a second time —
 * and the file that was judged moves to a name already passed over and is
 * lost. The restore must notice that the folder changed under it and look
 * again. */
static void test_a_rotation_during_the_restore_is_looked_at_again(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	struct err err;
	int64_t committed = first_run(fx, "1\n2\n3\n", 3, "1 2 3", &saved);

	/* While down: a rotated file the saved state never saw, and more
	 * lines in the file it was reading. */
	write_file(fx->rotated, "u1\nu2\n");
	append_file(fx->path, "4\n");

	struct rotate_on_log hook = {.fx = fx, .when = "bot.jsonl.1, rotated while"};
	struct follow_options opt = {
	    .force_poll = 1, .orphan_grace_us = 1, .log = rotate_when_logged, .log_ctx = &hook};
	fx->f = follow_new(fx->dir, files, 1, &opt, &err);
	assert_non_null(fx->f);
	follow_restore(fx->f, 0, &saved, committed);
	assert_int_equal(hook.done, 1);
	follow_refresh(fx->f);
	/* u1 u2 from bot.jsonl.2.gz, 4 from bot.jsonl.1, 5 from the new file;
	 * 1 2 3 were read before, and nothing twice. */
	char *got = read_n(fx->f, 4);
	if (strcmp(got, "u1 u2 4 5") != 0 && strcmp(got, "4 u1 u2 5") != 0)
		fail_msg("read \"%s\"", got);
}

/* Between its compression and its removal a rotated file is there twice,
 * as bot.jsonl.1 and as bot.jsonl.2.gz: a restore at that moment reads it
 * once. */
static void test_an_unseen_file_there_twice_while_compressed_is_read_once(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	char gz[160];
	int64_t committed = read_two_and_stop(fx, &saved);
	snprintf(gz, sizeof(gz), "%s/bot.jsonl.2.gz", fx->dir);
	write_file(fx->rotated, "a\nb\n"); /* never seen: rotated while down */
	sleep_ms(20);
	gzip_file(fx->rotated, gz); /* logrotate stopped before removing .1 */
	fx->f = start(fx, &saved, committed, 0);
	assert_string_equal(read_n(fx->f, 5), "a b 3 4 5");
}

/* Saved before anything was read (offset 0, no fingerprint); restarted
 * between the copy and the truncate of copytruncate. The copy holds what
 * the file holds: it is not an unseen file but the copy of the one being
 * read, and each line is read once, through the truncate. */
static void test_restart_in_a_copytruncate_with_nothing_read_yet(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	int64_t committed = first_run(fx, "", 0, NULL, &saved);

	append_file(fx->path, "1\n2\n");
	size_t len;
	char *copy = read_whole(fx->path, &len);
	copy[len] = '\0';
	write_file(fx->rotated, copy); /* the copy; not truncated yet */
	free(copy);
	fx->f = start(fx, &saved, committed, 0);
	assert_string_equal(read_n(fx->f, 2), "1 2");
	assert_int_equal(truncate(fx->path, 0), 0);
	append_file(fx->path, "3\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "3");
}

/* A restore, then a copytruncate, the file regrowing past the saved offset,
 * all before anything is read: the truncation is still recognised (by the
 * bytes before the offset), the rest of the old content is read from the
 * copy, and the new content from its start. */
static void test_copytruncate_right_after_a_restore_is_recognised(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	int64_t committed = first_run(fx, "1\n2\n", 2, "1 2", &saved);

	append_file(fx->path, "3\n");
	fx->f = start(fx, &saved, committed, 0);
	copy_truncate(fx->path, fx->rotated);
	append_file(fx->path, "4444\n5\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 3), "3 4444 5");
}

/* A saved position with nothing read names a file by its inode only. That
 * file was compressed and removed while down, and the copy of a
 * copytruncate got the freed inode under the same name: the copy is not the
 * saved file (whose lines would then be read from the copy's start), it is
 * the copy of the file being followed. */
static void test_an_empty_saved_position_does_not_claim_a_reused_inode(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	struct stat st;
	int64_t committed = first_run(fx, "1\n2\n", 2, "1 2", &saved);

	append_file(fx->path, "3\n");
	size_t len;
	char *copy = read_whole(fx->path, &len);
	copy[len] = '\0';
	write_file(fx->rotated, copy); /* the copy; the truncate comes later */
	free(copy);
	/* What the state said of the removed file: bot.jsonl.1, nothing read,
	 * and (as the kernel may well hand it out again) the copy's inode. */
	assert_int_equal(stat(fx->rotated, &st), 0);
	saved.n_draining = 1;
	memset(&saved.draining[0], 0, sizeof(saved.draining[0]));
	snprintf(saved.draining[0].path, sizeof(saved.draining[0].path), "%s", fx->rotated);
	saved.draining[0].dev = (uint64_t)st.st_dev;
	saved.draining[0].ino = (uint64_t)st.st_ino;
	saved.draining[0].size = 7;
	saved.draining[0].mtime_us = committed - 5000000;

	fx->f = start(fx, &saved, committed, 0);
	assert_int_equal(truncate(fx->path, 0), 0);
	append_file(fx->path, "4\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 2), "3 4");
}

/* ---- inotify ---------------------------------------------------------------- */

static void wait_and_handle(struct follow *f)
{
	struct pollfd p = {.fd = follow_fd(f), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
	sleep_ms(20); /* let the rest of the burst of events arrive */
	follow_handle_events(f);
}

static void test_inotify_sees_appends_and_rename_and_create(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->path, "1\n");
	fx->f = open_follower(fx, 0, 0);
	if (follow_is_polling(fx->f))
		skip(); /* no inotify here (some containers) */
	assert_true(follow_fd(fx->f) >= 0);
	follow_restore(fx->f, 0, NULL, 0);
	assert_string_equal(read_n(fx->f, 1), "1");

	append_file(fx->path, "2\n");
	wait_and_handle(fx->f);
	assert_string_equal(read_n(fx->f, 1), "2");

	assert_int_equal(rename(fx->path, fx->rotated), 0);
	append_file(fx->rotated, "3\n");
	write_file(fx->path, "4\n");
	wait_and_handle(fx->f);
	assert_string_equal(read_n(fx->f, 2), "3 4");

	append_file(fx->path, "5\n");
	wait_and_handle(fx->f);
	assert_string_equal(read_n(fx->f, 1), "5");
}

static void test_sources_are_read_separately(void **state)
{
	struct fixture *fx = *state;
	static const char *const two[] = {"a.jsonl", "b.jsonl"};
	struct follow_options opt = {.force_poll = 1};
	struct err err;
	struct follow_line l;
	char a[160], b[160];
	snprintf(a, sizeof(a), "%s/a.jsonl", fx->dir);
	snprintf(b, sizeof(b), "%s/b.jsonl", fx->dir);
	write_file(a, "a1\na2\n");
	write_file(b, "b1\n");
	fx->f = follow_new(fx->dir, two, 2, &opt, &err);
	assert_non_null(fx->f);
	follow_restore(fx->f, 0, NULL, 0);
	follow_restore(fx->f, 1, NULL, 0);
	assert_int_equal(follow_next(fx->f, 1, &l, &err), 1);
	assert_int_equal(l.source, 1);
	assert_memory_equal(l.data, "b1", 2);
	assert_string_equal(l.path, b);
	assert_int_equal(follow_next(fx->f, 1, &l, &err), 0);
	assert_int_equal(follow_lag_bytes(fx->f, 0), 6);
	assert_int_equal(follow_next(fx->f, 0, &l, &err), 1);
	assert_int_equal(l.source, 0);
	assert_memory_equal(l.data, "a1", 2);
	assert_int_equal(follow_next(fx->f, 0, &l, &err), 1);
	assert_memory_equal(l.data, "a2", 2);
	assert_int_equal(follow_next(fx->f, 0, &l, &err), 0);
	assert_int_equal(follow_lag_bytes(fx->f, 0), 0);
}

static void test_more_than_max_sources_is_refused(void **state)
{
	struct fixture *fx = *state;
	static const char *const many[] = {"a", "b", "c", "d", "e"};
	struct err err = {0};
	assert_null(follow_new(fx->dir, many, FOLLOW_MAX_SOURCES + 1, NULL, &err));
	assert_true(err.msg[0] != '\0');
}

static void test_free_null_does_nothing(void **state)
{
	(void)state;
	follow_free(NULL);
}

/* ---- renamed-away files whose writer has not moved on ------------------ */

/* A polling follower with a real grace period for renamed-away files. */
static struct follow *start_graced(struct fixture *fx, const struct follow_saved *saved,
				   int64_t committed_at, int64_t grace_us, int64_t max_idle_us)
{
	struct follow_options opt = {
	    .force_poll = 1, .orphan_grace_us = grace_us, .orphan_max_idle_us = max_idle_us};
	struct err err;
	struct follow *f = follow_new(fx->dir, files, 1, &opt, &err);
	if (!f)
		fail_msg("follow_new: %s", err.msg);
	follow_restore(f, 0, saved, committed_at);
	return f;
}

/* Calls follow_next for about ms milliseconds, expecting nothing. */
static void idle_for(struct follow *f, long ms)
{
	for (long i = 0; i < ms / 5; i++) {
		assert_nothing(f);
		sleep_ms(5);
	}
}

static void test_a_renamed_file_that_keeps_growing_is_read_past_the_grace(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->path, "a\n");
	fx->f = start_graced(fx, NULL, 0, 20000, 60000000);
	assert_string_equal(take(fx->f, 1), "a");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	follow_refresh(fx->f);
	/* The writer has not reopened its log: it appends to the renamed
	 * file, with pauses longer than the grace period. */
	for (int i = 0; i < 4; i++) {
		char want[8], line[16];
		idle_for(fx->f, 60);
		snprintf(want, sizeof want, "r%d", i);
		snprintf(line, sizeof line, "%s\n", want);
		append_file(fx->rotated, line);
		assert_string_equal(take(fx->f, 1), want);
	}
	/* The name is created again, empty: the writer has still not moved
	 * on, so the renamed file is still read. */
	write_file(fx->path, "");
	follow_refresh(fx->f);
	idle_for(fx->f, 60);
	append_file(fx->rotated, "late\n");
	assert_string_equal(take(fx->f, 1), "late");
	/* The writer reopens: new lines go to the new file; the renamed one
	 * is let go once idle. */
	append_file(fx->path, "new\n");
	assert_string_equal(take(fx->f, 1), "new");
	idle_for(fx->f, 60);
	struct follow_saved saved;
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.n_draining, 0);
	assert_int_equal(saved.n_done, 1);
}

static void test_a_renamed_file_is_let_go_after_the_longest_idle_time(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	write_file(fx->path, "a\n");
	fx->f = start_graced(fx, NULL, 0, 10000, 100000);
	assert_string_equal(take(fx->f, 1), "a");
	assert_int_equal(unlink(fx->path), 0);
	follow_refresh(fx->f);
	idle_for(fx->f, 50);
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.n_draining, 1);
	assert_int_equal(saved.draining[0].growing, 1);
	idle_for(fx->f, 150);
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.n_draining, 0);
}

static void test_a_renamed_file_still_written_is_followed_across_a_restart(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	write_file(fx->path, "a\n");
	fx->f = start_graced(fx, NULL, 0, 20000, 60000000);
	assert_string_equal(take(fx->f, 1), "a");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	follow_refresh(fx->f);
	append_file(fx->rotated, "b\n");
	assert_string_equal(take(fx->f, 1), "b");
	follow_save(fx->f, 0, &saved);
	int64_t committed = calendar_now();
	assert_int_equal(saved.has_current, 0);
	assert_int_equal(saved.n_draining, 1);
	assert_int_equal(saved.draining[0].growing, 1);
	follow_free(fx->f);
	fx->f = start_graced(fx, &saved, committed, 20000, 60000000);
	idle_for(fx->f, 60);
	append_file(fx->rotated, "c\n");
	assert_string_equal(take(fx->f, 1), "c");
	write_file(fx->path, "d\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "d");
}

static void test_a_finished_file_that_grew_is_read_from_its_old_end_after_a_restart(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	char gz[160];
	write_file(fx->path, "a\nb\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 2), "a b");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "c\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "c");
	follow_save(fx->f, 0, &saved);
	int64_t committed = calendar_now();
	assert_int_equal(saved.n_done, 1);
	follow_free(fx->f);
	fx->f = NULL;
	/* A late writer appends to the rotated file, which is then
	 * compressed: only the new lines are read. */
	append_file(fx->rotated, "late1\nlate2\n");
	snprintf(gz, sizeof gz, "%s/bot.jsonl.2.gz", fx->dir);
	gzip_file(fx->rotated, gz);
	assert_int_equal(unlink(fx->rotated), 0);
	fx->f = start(fx, &saved, committed, 0);
	assert_string_equal(read_n(fx->f, 2), "late1 late2");
}

static void test_a_file_let_go_then_written_to_is_read_on_where_it_was_left(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	write_file(fx->path, "a\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 1), "a");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "b\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "b");
	follow_save(fx->f, 0, &saved);
	assert_int_equal(saved.n_draining, 0); /* let go */
	assert_int_equal(saved.n_done, 1);
	/* A late writer appends to it, twice, with a look in between. */
	append_file(fx->rotated, "late1\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "late1");
	append_file(fx->rotated, "late2\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "late2");
	follow_refresh(fx->f);
	assert_nothing(fx->f);
}

static void test_a_finished_file_that_grows_twice_across_restarts_is_read_once(void **state)
{
	struct fixture *fx = *state;
	struct follow_saved saved;
	int64_t committed;
	write_file(fx->path, "a\nb\n");
	fx->f = start(fx, NULL, 0, 0);
	assert_string_equal(take(fx->f, 2), "a b");
	assert_int_equal(rename(fx->path, fx->rotated), 0);
	write_file(fx->path, "c\n");
	follow_refresh(fx->f);
	assert_string_equal(read_n(fx->f, 1), "c");
	for (int round = 1; round <= 3; round++) {
		char line[24], want[16];
		follow_save(fx->f, 0, &saved);
		committed = calendar_now();
		follow_free(fx->f);
		fx->f = NULL;
		snprintf(want, sizeof want, "late%d", round);
		snprintf(line, sizeof line, "%s\n", want);
		append_file(fx->rotated, line);
		fx->f = start(fx, &saved, committed, 0);
		assert_string_equal(read_n(fx->f, 1), want);
	}
}

static void test_network_filesystems_are_named_and_local_ones_are_not(void **state)
{
	(void)state;
	assert_string_equal(follow_network_fs(0x6969UL), "NFS");
	assert_string_equal(follow_network_fs(0xFF534D42UL), "CIFS");
	assert_string_equal(follow_network_fs(0xFE534D42UL), "SMB2");
	assert_string_equal(follow_network_fs(0x01021997UL), "9P");
	assert_null(follow_network_fs(0xEF53UL));     /* ext4 */
	assert_null(follow_network_fs(0x58465342UL)); /* xfs */
	assert_null(follow_network_fs(0x01021994UL)); /* tmpfs */
	assert_null(follow_network_fs(0x794C7630UL)); /* overlayfs */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_reads_complete_lines_only),
	    T(test_empty_lines_and_a_missing_file),
	    T(test_save_after_a_partial_line_stays_at_its_start),
	    T(test_restore_at_saved_offset_continues_exactly),
	    T(test_restore_of_a_position_at_zero_reads_from_the_start),
	    T(test_many_lines_across_buffer_refills),
	    T(test_long_line_is_skipped_and_the_next_is_normal),
	    T(test_long_line_arriving_in_pieces_is_one_long_item),
	    T(test_line_of_exactly_max_line_bytes_is_kept),
	    T(test_rename_and_create_reads_old_file_then_new),
	    T(test_lines_of_a_renamed_file_name_its_new_path),
	    T(test_unterminated_last_line_of_a_rotated_file_is_a_tail),
	    T(test_copytruncate_delivers_every_line_once),
	    T(test_copytruncate_with_the_copy_already_gzipped),
	    T(test_truncation_without_a_copy_restarts_from_zero),
	    T(test_restore_after_rename_while_down),
	    T(test_restore_after_rename_and_gzip_while_down),
	    T(test_restore_reads_a_file_rotated_twice_while_down),
	    T(test_restore_after_copytruncate_while_down),
	    T(test_finished_rotated_file_is_not_read_again_after_restore),
	    T(test_restore_after_content_replaced_while_down),
	    T(test_restore_in_the_middle_of_a_rotation),
	    T(test_a_copytruncate_then_a_rename_before_a_look_loses_nothing),
	    T(test_a_copytruncate_is_noticed_without_an_event),
	    T(test_a_name_created_again_is_taken_up_without_an_event),
	    T(test_a_rotation_during_the_restore_is_looked_at_again),
	    T(test_an_unseen_file_there_twice_while_compressed_is_read_once),
	    T(test_restart_in_a_copytruncate_with_nothing_read_yet),
	    T(test_copytruncate_right_after_a_restore_is_recognised),
	    T(test_an_empty_saved_position_does_not_claim_a_reused_inode),
	    T(test_a_renamed_file_that_keeps_growing_is_read_past_the_grace),
	    T(test_a_renamed_file_is_let_go_after_the_longest_idle_time),
	    T(test_a_renamed_file_still_written_is_followed_across_a_restart),
	    T(test_a_finished_file_that_grew_is_read_from_its_old_end_after_a_restart),
	    T(test_a_file_let_go_then_written_to_is_read_on_where_it_was_left),
	    T(test_a_finished_file_that_grows_twice_across_restarts_is_read_once),
	    T(test_inotify_sees_appends_and_rename_and_create),
	    T(test_sources_are_read_separately),
	    T(test_more_than_max_sources_is_refused),
	    cmocka_unit_test(test_free_null_does_nothing),
	    cmocka_unit_test(test_network_filesystems_are_named_and_local_ones_are_not),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
