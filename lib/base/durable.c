#include "lib/base/durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/buf.h"

/* Files tradelearn writes hold the bot's rows: readable by the owner and
 * its group, never by others, whatever the umask allows. */
#define DURABLE_FILE_MODE 0640

/* close() that keeps the errno of the failure being reported. */
static void close_quietly(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

static void free_quietly(void *p)
{
	int saved = errno;

	free(p);
	errno = saved;
}

/* Opens the folder that holds path, or path itself when it is a folder. */
static int open_parent_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || (errno != ENOTDIR && errno != ENOENT))
		return fd;

	const char *slash = strrchr(path, '/');
	if (!slash)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slash == path)
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	char *parent = strndup(path, (size_t)(slash - path));
	if (!parent)
		return -1;
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free_quietly(parent);
	return fd;
}

int durable_sync_dir(const char *dir, struct err *err)
{
	int ret = -1;
	int fd = open_parent_dir(dir);

	if (fd < 0) {
		err_fail(err, "open folder of %s: %s", dir, strerror(errno));
		goto out;
	}
	/* A rename or a new file is only a change of the folder: until the
	 * folder itself is fsync'd, a crash may bring back the old entry (or
	 * none). Some file systems cannot fsync a folder at all (EINVAL); there
	 * is nothing more we can do on those, so it is not an error. */
	if (fsync(fd) != 0 && errno != EINVAL) {
		err_fail(err, "fsync folder of %s: %s", dir, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	close_quietly(fd);
	return ret;
}

int durable_write_all(int fd, const void *data, size_t len, struct err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_fail(err, "write: %s", strerror(errno));
		}
		if (n == 0) {
			/* write() never returns 0 for a non-empty regular file
			 * write; treat it as an I/O error rather than loop. */
			errno = EIO;
			return err_fail(err, "write: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int durable_temp_open(struct durable_temp *t, const char *path, struct err *err)
{
	t->fd = -1;
	t->path = path;
	if (asprintf(&t->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		t->tmp = NULL;
		return err_set(err, ENOMEM, "replace %s: %s", path, strerror(ENOMEM));
	}
	/* O_EXCL|O_NOFOLLOW: the temp file is new, never a file or a link
	 * someone left at its name. The name carries this pid, so what stands
	 * there is this process's own leftover (or that of a dead process that
	 * had the same pid): removed (a link itself, never its target), once,
	 * then created afresh. */
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	t->fd = open(t->tmp, flags, DURABLE_FILE_MODE);
	if (t->fd < 0 && errno == EEXIST && unlink(t->tmp) == 0)
		t->fd = open(t->tmp, flags, DURABLE_FILE_MODE);
	if (t->fd < 0) {
		err_fail(err, "create %s: %s", t->tmp, strerror(errno));
		durable_temp_discard(t);
		return -1;
	}
	return 0;
}

int durable_temp_commit(struct durable_temp *t, int sync, struct err *err)
{
	/* The data must be on disk before the rename makes it visible under the
	 * real name; otherwise a crash could leave the new name pointing at an
	 * empty or partial file. */
	if (sync && fsync(t->fd) != 0) {
		err_fail(err, "fsync %s: %s", t->tmp, strerror(errno));
		goto fail;
	}
	/* close() can report a deferred write error (NFS); check it. */
	int closing = t->fd;
	t->fd = -1;
	if (close(closing) != 0) {
		err_fail(err, "close %s: %s", t->tmp, strerror(errno));
		goto fail;
	}
	if (rename(t->tmp, t->path) != 0) {
		err_fail(err, "rename %s to %s: %s", t->tmp, t->path, strerror(errno));
		goto fail;
	}
	/* The rename is the commit; the temp name is gone whatever comes next. */
	free(t->tmp);
	t->tmp = NULL;
	if (sync && durable_sync_dir(t->path, err) != 0)
		return -1;
	return 0;
fail:
	durable_temp_discard(t);
	return -1;
}

void durable_temp_discard(struct durable_temp *t)
{
	int saved = errno;

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->tmp) {
		unlink(t->tmp);
		free(t->tmp);
		t->tmp = NULL;
	}
	errno = saved;
}

/* The temp-write-rename of both replace flavours; with sync set, the data
 * is fsync'd before the rename and the folder after it. */
static int write_and_rename(const char *path, const void *data, size_t len, int sync,
			    struct err *err)
{
	struct durable_temp t;

	if (durable_temp_open(&t, path, err) != 0)
		return -1;
	if (durable_write_all(t.fd, data, len, NULL) != 0) {
		err_fail(err, "write %s: %s", t.tmp, strerror(errno));
		durable_temp_discard(&t);
		return -1;
	}
	return durable_temp_commit(&t, sync, err);
}

int durable_replace(const char *path, const void *data, size_t len, struct err *err)
{
	return write_and_rename(path, data, len, 1, err);
}

int durable_publish(const char *path, const void *data, size_t len, struct err *err)
{
	return write_and_rename(path, data, len, 0, err);
}

int durable_mkdirs(const char *dir, struct err *err)
{
	int ret = -1;
	char *copy = strdup(dir);
	struct stat st;

	if (!copy) {
		err_fail(err, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	/* Create each prefix in turn; the leading '/' of an absolute path and
	 * repeated slashes give empty prefixes, which are skipped. */
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			err_fail(err, "mkdir %s: %s", copy, strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
		err_fail(err, "mkdir %s: %s", copy, strerror(errno));
		goto out;
	}
	/* EEXIST also covers a plain file in the way. */
	if (stat(copy, &st) != 0) {
		err_fail(err, "stat %s: %s", copy, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		err_fail(err, "mkdir %s: %s", copy, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free_quietly(copy);
	return ret;
}

/* The pid a temporary file "<name>.tmp.<pid>" belongs to: durable_replace()
 * names its temp files so. 0 when name is not such a file. */
static pid_t temp_owner(const char *name)
{
	const char *mark = strstr(name, ".tmp.");
	const char *last = NULL;

	for (; mark; mark = strstr(mark + 1, ".tmp."))
		if (mark != name)
			last = mark;
	if (!last || last[5] < '0' || last[5] > '9')
		return 0;
	char *end;
	errno = 0;
	long pid = strtol(last + 5, &end, 10);
	if (errno || *end || pid <= 0 || pid > INT_MAX)
		return 0;
	return (pid_t)pid;
}

/* A temp file may be removed only when no live process can be writing it:
 * it is this process's own (left by an earlier failure), or its writer is
 * gone. A concurrent `tradelearn daily` writing knobs.json.tmp.<its pid>
 * beside a starting `watch` keeps its file. */
static int temp_is_abandoned(pid_t owner)
{
	if (owner == getpid())
		return 1;
	return kill(owner, 0) != 0 && errno == ESRCH;
}

int durable_sweep_temps(const char *dir, struct err *err)
{
	int removed = 0;
	int failed = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return err_fail(err, "open folder %s: %s", dir, strerror(errno));
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0) {
				err_fail(err, "read folder %s: %s", dir, strerror(errno));
				failed = 1;
			}
			break;
		}
		pid_t owner = temp_owner(de->d_name);
		if (!owner || !temp_is_abandoned(owner))
			continue;

		/* Only plain files: a folder that happens to match is not ours. */
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			err_fail(err, "stat %s/%s: %s", dir, de->d_name, strerror(errno));
			failed = 1;
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
			if (errno == ENOENT)
				continue;
			err_fail(err, "remove %s/%s: %s", dir, de->d_name, strerror(errno));
			failed = 1;
			break;
		}
		removed++;
	}
	int saved = errno;
	closedir(d);
	errno = saved;
	return failed ? -1 : removed;
}

/* Opens (creating when absent, *created saying so) a file tradelearn owns
 * under its root, for writing with extra flags. A symbolic link at path is
 * refused, never followed (O_NOFOLLOW): a link planted there must not make
 * tradelearn truncate or overwrite its target elsewhere. So is anything
 * but a regular file. -1 with err set, naming path. */
static int open_own(const char *path, int flags, int *created, struct err *err)
{
	int fd = open(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, DURABLE_FILE_MODE);
	struct stat st;

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return err_fail(err,
					"open %s: is a symbolic link (tradelearn writes only "
					"regular files of its own under its root)",
					path);
		if (errno == ENXIO) /* a FIFO nobody reads: O_NONBLOCK said so */
			return err_set(err, EINVAL, "open %s: not a regular file", path);
		return err_fail(err, "open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		err_fail(err, "stat %s: %s", path, strerror(errno));
		close_quietly(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close_quietly(fd);
		errno = EINVAL;
		return err_fail(err, "open %s: not a regular file", path);
	}
	/* O_NONBLOCK only kept a FIFO from hanging the open; writes to a
	 * regular file never block on it, but clear it all the same. */
	if (!*created && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		err_fail(err, "fcntl %s: %s", path, strerror(errno));
		close_quietly(fd);
		return -1;
	}
	return fd;
}

int durable_open_append(const char *path, struct err *err)
{
	int created;
	int fd = open_own(path, O_WRONLY | O_APPEND, &created, err);

	if (fd < 0)
		return -1;
	/* A new file's name is only durable once its folder is fsync'd; without
	 * it a crash could lose the file while the state file already counts
	 * bytes in it, which recovery would have to call damage. */
	if (created && durable_sync_dir(path, err) != 0) {
		close_quietly(fd);
		return -1;
	}
	return fd;
}

int durable_cut_back(const char *path, uint64_t committed, uint64_t *actual, struct err *err)
{
	int ret = -1;
	int created;
	struct stat st;
	int fd = open_own(path, O_WRONLY, &created, err);

	if (fd < 0)
		goto out;
	if (created && durable_sync_dir(path, err) != 0)
		goto out;
	if (fstat(fd, &st) != 0) {
		err_fail(err, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		err_fail(err, "cut back %s: not a regular file", path);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (actual)
		*actual = size;
	if (size < committed) {
		errno = ERANGE;
		err_fail(err,
			 "%s is %" PRIu64 " bytes, shorter than the %" PRIu64
			 " committed: damaged or replaced",
			 path, size, committed);
		goto out;
	}
	if (size > committed) {
		/* The bytes past the committed length belong to a batch whose
		 * commit never happened; it will be redone, so they must go. The
		 * fsync makes the cut itself survive a crash before the redo. */
		if (ftruncate(fd, (off_t)committed) != 0) {
			err_fail(err, "truncate %s to %" PRIu64 ": %s", path, committed,
				 strerror(errno));
			goto out;
		}
		if (fsync(fd) != 0) {
			err_fail(err, "fsync %s: %s", path, strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	close_quietly(fd);
	return ret;
}

/* Reads the pid recorded in a lock file; 0 when it cannot be read. */
static pid_t read_lock_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	errno = 0;
	long pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0 || pid > INT_MAX)
		return 0;
	return (pid_t)pid;
}

int durable_lock(const char *dir, pid_t *holder, struct err *err)
{
	int ret = -1;
	int fd = -1;
	char *path = NULL;

	if (holder)
		*holder = 0;
	if (asprintf(&path, "%s/.lock", dir) < 0) {
		path = NULL;
		errno = ENOMEM;
		err_fail(err, "lock %s: %s", dir, strerror(errno));
		goto out;
	}
	/* O_RDWR: the loser reads the holder's pid, the winner writes its own.
	 * The file is never removed: unlinking it would let a third process
	 * lock a fresh inode while a second still holds the old one. */
	int created;
	fd = open_own(path, O_RDWR, &created, err);
	if (fd < 0)
		goto out;
	/* flock, not fcntl locks: an fcntl lock is dropped as soon as the
	 * process closes any fd of the file, and two opens in one process do
	 * not conflict; a flock belongs to this open file description. */
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			pid_t other = read_lock_holder(fd);
			if (holder)
				*holder = other;
			errno = EWOULDBLOCK;
			if (other > 0)
				err_fail(err, "%s is locked by pid %ld", dir, (long)other);
			else
				err_fail(err, "%s is locked by another process", dir);
		} else {
			err_fail(err, "lock %s: %s", path, strerror(errno));
		}
		goto out;
	}
	char pid_text[32];
	int n = snprintf(pid_text, sizeof(pid_text), "%ld\n", (long)getpid());
	/* The pid is only for messages, so it is not fsync'd. */
	errno = 0;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid_text, (size_t)n, 0) != n) {
		if (errno == 0)
			errno = EIO;
		err_fail(err, "write %s: %s", path, strerror(errno));
		goto out;
	}
	if (holder)
		*holder = getpid();
	ret = fd;
out:
	if (ret < 0)
		close_quietly(fd);
	free_quietly(path);
	return ret;
}

int durable_read_all(const char *path, char **data, size_t *len, struct err *err)
{
	int ret = -1;
	struct buf text = BUF_INIT;
	size_t room;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*data = NULL;
	*len = 0;
	if (fd < 0) {
		err_fail(err, "open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		err_fail(err, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	/* The size is only a hint: the file may grow while we read (a log), and
	 * some files (/proc) report 0. Read to end of file regardless; room for
	 * one byte more than the size lets the read that sees the end happen
	 * without growing the buffer. */
	room = 4095;
	if (st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX - 2)
		room = (size_t)st.st_size + 1;
	if (buf_grow(&text, room)) {
		err_fail(err, "read %s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (text.len + 1 >= text.alloc && buf_grow(&text, 1)) {
			err_fail(err, "read %s: %s", path, strerror(errno));
			goto out;
		}
		ssize_t n = read(fd, text.data + text.len, text.alloc - text.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_fail(err, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		buf_setlen(&text, text.len + (size_t)n);
	}
	*data = buf_detach(&text, len);
	ret = 0;
out:
	buf_release(&text);
	close_quietly(fd);
	return ret;
}
