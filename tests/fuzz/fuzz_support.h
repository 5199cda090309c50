/*
 * fuzz_support — what the file-reading targets share: the input written to
 * a file of a private folder made once per process, so that loaders that
 * take a path read exactly the fuzzer's bytes.
 */
#ifndef TRADELEARN_FUZZ_SUPPORT_H
#define TRADELEARN_FUZZ_SUPPORT_H

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The private folder (mkdtemp under TMPDIR or /tmp), made on first use. */
static const char *fuzz_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/tradelearn-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir))
			abort();
	}
	return dir;
}

/* Writes data to fuzz_dir()/name (replacing it) and returns its path in a
 * static buffer. */
static const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	close(fd);
	return path;
}

#endif
