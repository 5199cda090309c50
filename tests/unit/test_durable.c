#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/durable.h"

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
	char *dir = strdup("/tmp/test_durable.XXXXXX");
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

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static int count_entries(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void assert_file_is(const char *path, const char *expected)
{
	struct err err = {0};
	char *data;
	size_t len;

	assert_int_equal(durable_read_all(path, &data, &len, &err), 0);
	assert_int_equal(len, strlen(expected));
	assert_memory_equal(data, expected, len);
	free(data);
}

static void test_replace_writes_new_content_and_leaves_no_temp(void **state)
{
	struct err err = {0};
	char *path = join(*state, "state.json");

	assert_int_equal(durable_replace(path, "{\"a\":1}\n", 8, &err), 0);
	assert_file_is(path, "{\"a\":1}\n");
	assert_int_equal(durable_replace(path, "{}", 2, &err), 0);
	assert_file_is(path, "{}");
	assert_int_equal(durable_replace(path, "", 0, &err), 0);
	assert_file_is(path, "");
	assert_int_equal(count_entries(*state), 1);
	free(path);
}

static void test_replace_over_existing_is_atomic(void **state)
{
	struct err err = {0};
	char *path = join(*state, "state.json");
	char *tmp;

	assert_int_equal(durable_replace(path, "old", 3, &err), 0);
	/* A folder where the temp file must go makes its creation fail, as a
	 * full disk or a crash before the rename would: the old file must be
	 * untouched. (Read-only folders do not stop root.) */
	assert_true(asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) > 0);
	assert_int_equal(mkdir(tmp, 0755), 0);
	errno = 0;
	assert_int_equal(durable_replace(path, "new content", 11, &err), -1);
	assert_int_equal(errno, EISDIR);
	assert_non_null(strstr(err.msg, tmp));
	assert_non_null(strstr(err.msg, strerror(EISDIR)));
	assert_file_is(path, "old");
	assert_int_equal(rmdir(tmp), 0);

	/* A write that fails halfway (a file size limit stands in for a full
	 * disk): old content intact, the half-written temp removed. */
	struct rlimit saved, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 5;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	errno = 0;
	int rc = durable_replace(path, "new content", 11, &err);
	int failed = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -1);
	assert_int_equal(failed, EFBIG);
	assert_non_null(strstr(err.msg, strerror(EFBIG)));
	assert_file_is(path, "old");
	assert_int_equal(count_entries(*state), 1);

	free(tmp);
	free(path);
}

/* The pid of a child that has exited and been reaped: no process has it
 * (until the kernel hands it out again, which takes a full cycle of pids). */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static char *temp_of(const char *dir, const char *name, pid_t pid)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s.tmp.%ld", dir, name, (long)pid) > 0);
	return p;
}

static void test_sweep_temps_removes_leftovers_of_gone_writers_and_keeps_others(void **state)
{
	struct err err = {0};
	const char *keep[] = {"x", "state.json", "x.tmp", "notes.tmp.", ".tmp.5", "x.tmp.abc"};
	char *leftover = temp_of(*state, "x", dead_pid());
	char *state_leftover = temp_of(*state, "learning_processing_state.json", dead_pid());
	char *own = temp_of(*state, "y", getpid());
	char *folder = temp_of(*state, "d", dead_pid());

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		char *p = join(*state, keep[i]);
		write_file(p, "k", 1);
		free(p);
	}
	write_file(leftover, "half", 4);
	write_file(state_leftover, "half", 4);
	write_file(own, "half", 4);
	assert_int_equal(mkdir(folder, 0755), 0);

	assert_int_equal(durable_sweep_temps(*state, &err), 3);
	assert_int_equal(access(leftover, F_OK), -1);
	assert_int_equal(access(state_leftover, F_OK), -1);
	assert_int_equal(access(own, F_OK), -1);
	assert_int_equal(access(folder, F_OK), 0);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		char *p = join(*state, keep[i]);
		assert_int_equal(access(p, F_OK), 0);
		free(p);
	}
	assert_int_equal(durable_sweep_temps(*state, &err), 0);
	free(leftover);
	free(state_leftover);
	free(own);
	free(folder);
}

static void test_sweep_temps_keeps_the_temp_file_of_a_live_writer(void **state)
{
	struct err err = {0};
	pid_t writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		pause();
		_exit(0);
	}
	char *live = temp_of(*state, "knobs.json", writer);
	write_file(live, "half", 4);

	int removed = durable_sweep_temps(*state, &err);
	int kept = access(live, F_OK) == 0;
	kill(writer, SIGKILL);
	assert_int_equal(waitpid(writer, NULL, 0), writer);
	assert_int_equal(removed, 0);
	assert_true(kept);

	assert_int_equal(durable_sweep_temps(*state, &err), 1);
	assert_int_equal(access(live, F_OK), -1);
	free(live);
}

/* A link planted where tradelearn writes points here, outside its files. */
static char *planted_link(const char *dir, const char *name, char **target)
{
	char *link = join(dir, name);
	*target = join(dir, "outside");
	write_file(*target, "precious", 8);
	assert_int_equal(symlink(*target, link), 0);
	return link;
}

static void assert_untouched(const char *target)
{
	char buf[32] = {0};
	FILE *f = fopen(target, "r");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 8);
	fclose(f);
	assert_string_equal(buf, "precious");
}

static void
test_a_symlink_at_an_append_only_output_is_refused_and_its_target_left_alone(void **state)
{
	struct err err = {0};
	char *target, *link = planted_link(*state, "quarantine.jsonl", &target);

	assert_int_equal(durable_open_append(link, &err), -1);
	assert_non_null(strstr(err.msg, link));
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(durable_cut_back(link, 0, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_untouched(target);
	free(link);
	free(target);
}

static void test_a_symlink_at_the_lock_is_refused(void **state)
{
	struct err err = {0};
	char *target, *link = planted_link(*state, ".lock", &target);

	assert_int_equal(durable_lock(*state, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_untouched(target);
	free(link);
	free(target);
}

static void test_a_symlink_at_the_temp_name_is_replaced_never_followed(void **state)
{
	struct err err = {0};
	char *path = join(*state, "knobs.json");
	char *tmp;
	assert_true(asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) > 0);
	char *target = join(*state, "outside");
	write_file(target, "precious", 8);
	assert_int_equal(symlink(target, tmp), 0);

	assert_int_equal(durable_replace(path, "{}\n", 3, &err), 0);
	assert_untouched(target);
	assert_int_equal(access(tmp, F_OK), -1);
	free(path);
	free(tmp);
	free(target);
}

static void test_files_are_created_readable_by_owner_and_group_only_whatever_the_umask(void **state)
{
	struct err err = {0};
	mode_t old = umask(0);
	char *replaced = join(*state, "state.json");
	char *appended = join(*state, "quarantine.jsonl");
	struct stat st;

	assert_int_equal(durable_replace(replaced, "x", 1, &err), 0);
	int fd = durable_open_append(appended, &err);
	umask(old);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(replaced, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(stat(appended, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	free(replaced);
	free(appended);
}

static void test_a_fifo_at_an_output_is_refused_without_hanging(void **state)
{
	struct err err = {0};
	char *fifo = join(*state, "trade_keys.bin");
	assert_int_equal(mkfifo(fifo, 0600), 0);

	assert_int_equal(durable_open_append(fifo, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
	free(fifo);
}

static void test_sweep_temps_of_absent_folder_fails(void **state)
{
	struct err err = {0};
	char *missing = join(*state, "missing");

	assert_int_equal(durable_sweep_temps(missing, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err.msg, missing));
	free(missing);
}

static void test_cut_back_truncates_to_committed_length(void **state)
{
	struct err err = {0};
	char *path = join(*state, "out.zst");
	uint64_t actual = 0;

	write_file(path, "0123456789abcdefghij", 20);
	assert_int_equal(durable_cut_back(path, 12, &actual, &err), 0);
	assert_int_equal(actual, 20); /* the length found, before the cut */
	assert_file_is(path, "0123456789ab");
	/* Already at the committed length: nothing changes. */
	assert_int_equal(durable_cut_back(path, 12, &actual, &err), 0);
	assert_int_equal(actual, 12);
	assert_file_is(path, "0123456789ab");
	free(path);
}

static void test_cut_back_creates_absent_file_empty(void **state)
{
	struct err err = {0};
	char *path = join(*state, "new.zst");
	uint64_t actual = 99;

	assert_int_equal(durable_cut_back(path, 0, &actual, &err), 0);
	assert_int_equal(actual, 0);
	assert_int_equal(file_size(path), 0);
	free(path);
}

static void test_cut_back_reports_shorter_file_as_damage(void **state)
{
	struct err err = {0};
	char *path = join(*state, "out.zst");
	uint64_t actual = 0;

	write_file(path, "0123456789", 10);
	errno = 0;
	assert_int_equal(durable_cut_back(path, 25, &actual, &err), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(actual, 10);
	assert_non_null(strstr(err.msg, path));
	assert_file_is(path, "0123456789");
	free(path);
}

static void test_lock_second_holder_gets_ewouldblock(void **state)
{
	struct err err = {0};
	pid_t holder = 0;
	int fd = durable_lock(*state, &holder, &err);

	assert_true(fd >= 0);
	assert_int_equal(holder, getpid());

	/* flock locks belong to the open file description, so a second open
	 * in the same process conflicts just like another process would. */
	holder = 0;
	errno = 0;
	assert_int_equal(durable_lock(*state, &holder, &err), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(holder, getpid());
	assert_non_null(strstr(err.msg, "locked"));

	/* Another process: the child reports through its exit status. */
	pid_t parent = getpid();
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t seen = 0;
		int rc = durable_lock(*state, &seen, NULL);
		_exit(rc == -1 && errno == EWOULDBLOCK && seen == parent ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Released by closing: the next one gets it. */
	assert_int_equal(close(fd), 0);
	fd = durable_lock(*state, &holder, &err);
	assert_true(fd >= 0);
	close(fd);
}

static void test_read_all_reads_whole_file(void **state)
{
	struct err err = {0};
	char *path = join(*state, "blob");
	size_t size = 100000;
	char *blob = malloc(size);
	char *data;
	size_t len;

	assert_non_null(blob);
	for (size_t i = 0; i < size; i++)
		blob[i] = (char)(i * 31 % 251); /* NUL bytes included */
	write_file(path, blob, size);
	assert_int_equal(durable_read_all(path, &data, &len, &err), 0);
	assert_int_equal(len, size);
	assert_memory_equal(data, blob, size);
	assert_int_equal(data[len], '\0');
	free(data);

	char *empty = join(*state, "empty");
	write_file(empty, "", 0);
	assert_int_equal(durable_read_all(empty, &data, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], '\0');
	free(data);
	free(empty);
	free(blob);
	free(path);
}

static void test_read_all_absent_file_is_enoent(void **state)
{
	struct err err = {0};
	char *path = join(*state, "absent.json");
	char *data = (char *)"untouched";
	size_t len = 7;

	errno = 0;
	assert_int_equal(durable_read_all(path, &data, &len, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(data);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, strerror(ENOENT)));
	free(path);
}

static void test_mkdirs_creates_nested_and_accepts_existing(void **state)
{
	struct err err = {0};
	char *deep = join(*state, "a//b/c/");
	char *c = join(*state, "a/b/c");
	char *file = join(*state, "a/file");
	char *under_file = join(*state, "a/file/d");
	struct stat st;

	assert_int_equal(durable_mkdirs(deep, &err), 0);
	assert_int_equal(stat(c, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(durable_mkdirs(c, &err), 0);

	write_file(file, "x", 1);
	assert_int_equal(durable_mkdirs(file, &err), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(durable_mkdirs(under_file, &err), -1);
	assert_int_equal(errno, ENOTDIR);
	free(deep);
	free(c);
	free(file);
	free(under_file);
}

static void test_open_append_creates_then_appends(void **state)
{
	struct err err = {0};
	char *path = join(*state, "out.log");
	int fd = durable_open_append(path, &err);

	assert_true(fd >= 0);
	assert_int_equal(durable_write_all(fd, "one\n", 4, &err), 0);
	close(fd);
	fd = durable_open_append(path, &err);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);
	assert_int_equal(durable_write_all(fd, "two\n", 4, &err), 0);
	close(fd);
	assert_file_is(path, "one\ntwo\n");
	free(path);
}

static void test_write_all_reports_bad_fd(void **state)
{
	struct err err = {0};
	(void)state;

	assert_int_equal(durable_write_all(-1, "x", 1, &err), -1);
	assert_int_equal(errno, EBADF);
	assert_non_null(strstr(err.msg, strerror(EBADF)));
}

static void test_sync_dir_accepts_file_or_folder(void **state)
{
	struct err err = {0};
	char *file = join(*state, "f");
	char *not_yet = join(*state, "not-yet");

	write_file(file, "x", 1);
	assert_int_equal(durable_sync_dir(*state, &err), 0);
	assert_int_equal(durable_sync_dir(file, &err), 0);
	assert_int_equal(durable_sync_dir(not_yet, &err), 0);
	free(file);
	free(not_yet);
}

static void test_fail_formats_message_and_keeps_errno(void **state)
{
	struct err err = {0};
	(void)state;

	errno = EACCES;
	assert_int_equal(err_fail(&err, "open %s: %d", "x", 7), -1);
	assert_int_equal(errno, EACCES);
	assert_string_equal(err.msg, "open x: 7");
	assert_int_equal(err_fail(NULL, "ignored"), -1);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, make_folder, remove_folder)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_replace_writes_new_content_and_leaves_no_temp),
	    TEST(test_replace_over_existing_is_atomic),
	    TEST(test_sweep_temps_removes_leftovers_of_gone_writers_and_keeps_others),
	    TEST(test_sweep_temps_keeps_the_temp_file_of_a_live_writer),
	    TEST(test_sweep_temps_of_absent_folder_fails),
	    TEST(test_a_symlink_at_an_append_only_output_is_refused_and_its_target_left_alone),
	    TEST(test_a_symlink_at_the_lock_is_refused),
	    TEST(test_a_symlink_at_the_temp_name_is_replaced_never_followed),
	    TEST(test_files_are_created_readable_by_owner_and_group_only_whatever_the_umask),
	    TEST(test_a_fifo_at_an_output_is_refused_without_hanging),
	    TEST(test_cut_back_truncates_to_committed_length),
	    TEST(test_cut_back_creates_absent_file_empty),
	    TEST(test_cut_back_reports_shorter_file_as_damage),
	    TEST(test_lock_second_holder_gets_ewouldblock),
	    TEST(test_read_all_reads_whole_file),
	    TEST(test_read_all_absent_file_is_enoent),
	    TEST(test_mkdirs_creates_nested_and_accepts_existing),
	    TEST(test_open_append_creates_then_appends),
	    TEST(test_write_all_reports_bad_fd),
	    TEST(test_sync_dir_accepts_file_or_folder),
	    TEST(test_fail_formats_message_and_keeps_errno),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
