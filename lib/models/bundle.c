#include "lib/models/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/durable.h"
#include "lib/base/jsontext.h"
#include "lib/base/sha256.h"

/* Every zstd frame starts with these bytes (RFC 8878 3.1.1). */
static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

struct bundle_file {
	char *name;
	char *data; /* len bytes and a NUL */
	size_t len;
};

struct bundle {
	struct bundle_file members[BUNDLE_MAX_MEMBERS];
	size_t count;
	json_t *manifest;
};

static void close_quietly(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

/* What a message may print of a name taken from a file: control and
 * non-ASCII bytes (and the backslash, so the escape reads one way) as
 * \xNN, and cut when long, so a hostile name cannot forge a second line. */
#define SHOWN_MAX 128

static const char *shown(const char *name, char out[SHOWN_MAX])
{
	size_t used = 0;

	if (!name[0])
		return "(empty name)";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (used + 5 + 4 > SHOWN_MAX) {
			memcpy(out + used, "...", 4);
			return out;
		}
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			used += (size_t)snprintf(out + used, 5, "\\x%02x", *p);
		else
			out[used++] = (char)*p;
	}
	out[used] = '\0';
	return out;
}

/* Why name cannot name a member, or NULL when it can (bundle.h says what a
 * name is). */
static const char *name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "the name is empty";
	if (len > BUNDLE_NAME_MAX)
		return "the name is longer than 100 bytes";
	if (name[0] == '/')
		return "the name is absolute";
	if (strstr(name, ".."))
		return "the name contains \"..\"";
	if (strchr(name, '/'))
		return "the name contains '/' (members are flat)";
	if (strcmp(name, ".") == 0)
		return "the name is \".\"";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return "the name contains a space, a control or a non-ASCII byte";
	return NULL;
}

/* libarchive's reason for the failure of a: with the system's errno and
 * text when a system call failed, otherwise (damage, a foreign format) as
 * code. libarchive reports those with errnos of its own, which its public
 * header does not name: -1 for damage, EILSEQ (EFTYPE where the system has
 * it) for a format it cannot read, EINVAL for a wrong call. */
static int archive_failure(struct archive *a, int code, struct err *err)
{
	const char *msg = archive_error_string(a);
	int e = archive_errno(a);

	if (!msg)
		msg = "libarchive gave no reason";
#ifdef EFTYPE
	if (e == EFTYPE)
		e = -1;
#endif
	if (e > 0 && e != EINVAL && e != EILSEQ)
		return err_set(err, e, "%s: %s", msg, strerror(e));
	return err_set(err, code, "%s", msg);
}

static void hex_digest(const void *data, size_t len, char hex[SHA256_HEX_BYTES])
{
	unsigned char digest[SHA256_DIGEST_BYTES];

	sha256_digest(data, len, digest);
	sha256_hex(digest, hex);
}

/* ---- writing ---------------------------------------------------------- */

/* Refuses, before anything is created, what the reader would refuse.
 * *total receives the bytes of all members. */
static int check_request(const struct bundle_member *members, size_t count,
			 const json_t *manifest_fields, size_t *total, struct err *err)
{
	char a[SHOWN_MAX];

	*total = 0;
	if (count > BUNDLE_MAX_MEMBERS - 1)
		return err_set(err, EINVAL, "%zu members: a bundle holds at most %d beside %s",
			       count, BUNDLE_MAX_MEMBERS - 1, BUNDLE_MANIFEST);
	for (size_t i = 0; i < count; i++) {
		const struct bundle_member *m = &members[i];

		if (!m->name)
			return err_set(err, EINVAL, "member %zu has no name", i + 1);
		const char *problem = name_problem(m->name);
		if (problem)
			return err_set(err, EINVAL, "member %s: %s", shown(m->name, a), problem);
		if (strcmp(m->name, BUNDLE_MANIFEST) == 0)
			return err_set(err, EINVAL,
				       "member %s: the bundle writes its manifest itself",
				       BUNDLE_MANIFEST);
		for (size_t j = 0; j < i; j++)
			if (strcmp(members[j].name, m->name) == 0)
				return err_set(err, EINVAL, "member %s: given twice", m->name);
		if (!m->data && m->len > 0)
			return err_set(err, EINVAL, "member %s: %zu bytes at NULL", m->name,
				       m->len);
		if (m->len > BUNDLE_MAX_MEMBER_BYTES)
			return err_set(err, EINVAL,
				       "member %s: %zu bytes, more than the %u a member may hold",
				       m->name, m->len, BUNDLE_MAX_MEMBER_BYTES);
		*total += m->len;
	}
	/* Before any member is hashed for the manifest. */
	if (*total > BUNDLE_MAX_TOTAL_BYTES)
		return err_set(err, EINVAL,
			       "the members hold %zu bytes, more than the %u of a bundle", *total,
			       BUNDLE_MAX_TOTAL_BYTES);
	if (manifest_fields && !json_is_object(manifest_fields))
		return err_set(err, EINVAL, "the manifest fields are not a JSON object");
	if (json_object_get(manifest_fields, "members"))
		return err_set(err, EINVAL,
			       "the manifest fields name \"members\", the list the bundle writes");
	return 0;
}

/* manifest.json for the members: the caller's fields, then "members". A
 * malloc'd text (length in *len), or NULL on ENOMEM. */
static char *manifest_text(const struct bundle_member *members, size_t count,
			   const json_t *manifest_fields, size_t *len)
{
	char *text = NULL;
	json_t *root = json_object();
	json_t *list = json_array();
	const char *key;
	json_t *value;

	if (!root || !list)
		goto out;
	/* json_object_foreach() wants a json_t *; the fields are only read
	 * (json_object_set takes a reference of its own to each value). */
	json_object_foreach((json_t *)manifest_fields, key,
			    value) if (json_object_set(root, key, value) != 0) goto out;
	for (size_t i = 0; i < count; i++) {
		char hex[SHA256_HEX_BYTES];

		hex_digest(members[i].data, members[i].len, hex);
		json_t *item = json_pack("{s:s, s:I, s:s}", "name", members[i].name, "size",
					 (json_int_t)members[i].len, "sha256", hex);
		if (json_array_append_new(list, item) != 0)
			goto out;
	}
	if (json_object_set_new(root, "members", list) != 0) {
		list = NULL; /* set_new took it, even on failure */
		goto out;
	}
	list = NULL;
	text = jsontext_dump(root, JSONTEXT_PRETTY, len);
out:
	json_decref(list);
	json_decref(root);
	if (!text)
		errno = ENOMEM;
	return text;
}

/* One regular member: only what bundle.h promises goes in the header (no
 * owner names, no access or change times), so the bytes depend on the
 * arguments alone. */
static int add_member(struct archive *a, const char *name, const void *data, size_t len,
		      time_t mtime, struct err *err)
{
	int ret = -1;
	struct archive_entry *entry = archive_entry_new();
	const char *p = data;
	size_t left = len;

	if (!entry) {
		err_set(err, ENOMEM, "member %s: %s", name, strerror(ENOMEM));
		goto out;
	}
	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0640);
	archive_entry_set_uid(entry, 0);
	archive_entry_set_gid(entry, 0);
	archive_entry_set_size(entry, (la_int64_t)len);
	archive_entry_set_mtime(entry, mtime, 0);
	if (archive_write_header(a, entry) != ARCHIVE_OK) {
		archive_failure(a, EIO, err);
		err_prefix(err, "member %s", name);
		goto out;
	}
	while (left > 0) {
		la_ssize_t n = archive_write_data(a, p, left);
		if (n <= 0) {
			archive_failure(a, EIO, err);
			err_prefix(err, "member %s", name);
			goto out;
		}
		p += n;
		left -= (size_t)n;
	}
	ret = 0;
out:
	archive_entry_free(entry);
	return ret;
}

/* The archive itself, into the open temp file fd. */
static int write_archive(int fd, const char *manifest, size_t manifest_len,
			 const struct bundle_member *members, size_t count, time_t mtime,
			 struct err *err)
{
	int ret = -1;
	struct archive *a = archive_write_new();

	if (!a) {
		err_set(err, ENOMEM, "%s", strerror(ENOMEM));
		goto out;
	}
	/* pax restricted: plain ustar headers unless a member needs more (it
	 * never does: short ASCII names, whole-second times, sizes far below
	 * 8 GiB), so no pax header with its variable fields appears. One
	 * byte in the last block: no zero padding after the zstd frame up to
	 * a 10 KiB block (which archive_write_open_fd() already chooses for a
	 * regular file; the bytes of a bundle depend on it, so it is said). */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		archive_failure(a, EIO, err);
		goto out;
	}
	if (add_member(a, BUNDLE_MANIFEST, manifest, manifest_len, mtime, err) != 0)
		goto out;
	for (size_t i = 0; i < count; i++)
		if (add_member(a, members[i].name, members[i].data, members[i].len, mtime, err) !=
		    0)
			goto out;
	/* The end-of-archive blocks and the end of the zstd frame are written
	 * only now; a failure here is a failed write like any other. */
	if (archive_write_close(a) != ARCHIVE_OK) {
		archive_failure(a, EIO, err);
		goto out;
	}
	ret = 0;
out:
	if (a)
		archive_write_free(a);
	return ret;
}

int bundle_write(const char *path, const struct bundle_member *members, size_t count,
		 const json_t *manifest_fields, time_t mtime, struct err *err)
{
	int ret = -1;
	struct durable_temp t;
	char *manifest = NULL;
	size_t manifest_len = 0;
	size_t total;

	if (check_request(members, count, manifest_fields, &total, err) != 0)
		goto out;
	manifest = manifest_text(members, count, manifest_fields, &manifest_len);
	if (!manifest) {
		err_fail(err, "%s: %s", BUNDLE_MANIFEST, strerror(errno));
		goto out;
	}
	if (manifest_len > BUNDLE_MAX_MEMBER_BYTES ||
	    total + manifest_len > BUNDLE_MAX_TOTAL_BYTES) {
		err_set(err, EINVAL,
			"the members and %s hold %zu bytes, more than the %u of a bundle",
			BUNDLE_MANIFEST, total + manifest_len, BUNDLE_MAX_TOTAL_BYTES);
		goto out;
	}
	if (durable_temp_open(&t, path, err) != 0)
		goto out;
	if (write_archive(t.fd, manifest, manifest_len, members, count, mtime, err) != 0) {
		err_prefix(err, "write %s", t.tmp);
		durable_temp_discard(&t);
		goto out;
	}
	if (durable_temp_commit(&t, 1, err) != 0)
		goto out;
	ret = 0;
out:
	free(manifest);
	if (ret != 0)
		err_prefix(err, "%s", path);
	return ret;
}

/* ---- reading ---------------------------------------------------------- */

static const struct bundle_file *find_file(const struct bundle *b, const char *name)
{
	for (size_t i = 0; i < b->count; i++)
		if (strcmp(b->members[i].name, name) == 0)
			return &b->members[i];
	return NULL;
}

/* The open file is a regular file that starts like a zstd frame: anything
 * else is not a bundle, whatever libarchive could make of it. */
static int check_file(int fd, struct err *err)
{
	struct stat st;
	unsigned char start[sizeof(zstd_magic)];

	if (fstat(fd, &st) != 0)
		return err_fail(err, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, EBADMSG, "not a regular file");
	ssize_t n = pread(fd, start, sizeof(start), 0);
	if (n < 0)
		return err_fail(err, "read: %s", strerror(errno));
	if ((size_t)n < sizeof(start) || memcmp(start, zstd_magic, sizeof(start)) != 0)
		return err_set(err, EBADMSG,
			       "not a model bundle: it does not start with a zstd frame "
			       "(a bundle is a zstd-compressed tar)");
	return 0;
}

static const char *file_kind(struct archive_entry *entry)
{
	switch (archive_entry_filetype(entry)) {
	case AE_IFLNK:
		return "a symbolic link";
	case AE_IFDIR:
		return "a folder";
	case AE_IFCHR:
		return "a character device";
	case AE_IFBLK:
		return "a block device";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

/* Refuses an entry that may not be a member of b, whose members so far
 * hold total bytes, before any of its data is read. */
static int check_entry(struct archive_entry *entry, const struct bundle *b, size_t total,
		       struct err *err)
{
	char a[SHOWN_MAX];
	const char *name = archive_entry_pathname(entry);

	/* A pax name in UTF-8 that the locale cannot show has no name in
	 * the locale's charset; its UTF-8 form is still there to refuse. */
	if (!name)
		name = archive_entry_pathname_utf8(entry);
	if (!name)
		return err_set(err, EBADMSG, "member %zu has no name libarchive can read",
			       b->count + 1);
	const char *problem = name_problem(name);
	if (problem)
		return err_set(err, EBADMSG, "member %s: %s", shown(name, a), problem);
	if (find_file(b, name))
		return err_set(err, EBADMSG, "member %s: appears twice", name);
	/* A hard link is a regular file to libarchive, with the name of
	 * another member as its content. */
	if (archive_entry_hardlink(entry))
		return err_set(err, EBADMSG, "member %s: a hard link, not a regular file", name);
	if (archive_entry_filetype(entry) != AE_IFREG)
		return err_set(err, EBADMSG, "member %s: %s, not a regular file", name,
			       file_kind(entry));
	if (archive_entry_sparse_count(entry) > 0)
		return err_set(err, EBADMSG, "member %s: a sparse file, not a plain one", name);
	if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0)
		return err_set(err, EBADMSG, "member %s: no size in its header", name);
	la_int64_t size = archive_entry_size(entry);
	if (size > BUNDLE_MAX_MEMBER_BYTES)
		return err_set(err, EBADMSG,
			       "member %s: %lld bytes, more than the %u a member may hold", name,
			       (long long)size, BUNDLE_MAX_MEMBER_BYTES);
	if (total + (size_t)size > BUNDLE_MAX_TOTAL_BYTES)
		return err_set(
		    err, EBADMSG,
		    "member %s: the members reach %zu bytes, more than the %u of a bundle", name,
		    total + (size_t)size, BUNDLE_MAX_TOTAL_BYTES);
	return 0;
}

/* The data of the current entry, which check_entry() accepted, into f. */
static int read_data(struct archive *a, struct archive_entry *entry, struct bundle_file *f,
		     struct err *err)
{
	size_t size = (size_t)archive_entry_size(entry);

	f->data = malloc(size + 1);
	if (!f->data)
		return err_fail(err, "member %s: %s", f->name, strerror(errno));
	while (f->len < size) {
		la_ssize_t n = archive_read_data(a, f->data + f->len, size - f->len);
		if (n < 0) {
			archive_failure(a, EBADMSG, err);
			return err_prefix(err, "member %s: damaged", f->name);
		}
		if (n == 0)
			return err_set(err, EBADMSG, "member %s: ends after %zu of its %zu bytes",
				       f->name, f->len, size);
		f->len += (size_t)n;
	}
	f->data[size] = '\0';
	return 0;
}

/* Every member of the archive on fd into b, each checked before its data is
 * read. */
static int read_members(struct bundle *b, int fd, struct err *err)
{
	int ret = -1;
	size_t total = 0;
	struct archive_entry *entry;
	struct archive *a = archive_read_new();

	if (!a) {
		err_set(err, ENOMEM, "%s", strerror(ENOMEM));
		goto out;
	}
	/* Only what a bundle is: tar inside zstd. A tar compressed otherwise,
	 * or another archive format, is not a bundle. */
	if (archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		archive_failure(a, EBADMSG, err);
		err_prefix(err, "damaged, or not a model bundle");
		goto out;
	}
	for (;;) {
		int rc = archive_read_next_header(a, &entry);
		if (rc == ARCHIVE_EOF)
			break;
		/* ARCHIVE_WARN too: libarchive skipped or guessed something;
		 * but say what is wrong with the member when check_entry()
		 * can (a name the locale cannot convert warns). */
		if (rc == ARCHIVE_WARN && b->count < BUNDLE_MAX_MEMBERS &&
		    check_entry(entry, b, total, err) != 0)
			goto out;
		if (rc != ARCHIVE_OK) {
			archive_failure(a, EBADMSG, err);
			if (b->count == 0)
				err_prefix(err, "damaged, or not a model bundle");
			else
				err_prefix(err, "damaged after member %s",
					   b->members[b->count - 1].name);
			goto out;
		}
		if (b->count == BUNDLE_MAX_MEMBERS) {
			err_set(err, EBADMSG, "more than %d members", BUNDLE_MAX_MEMBERS);
			goto out;
		}
		if (check_entry(entry, b, total, err) != 0)
			goto out;
		struct bundle_file *f = &b->members[b->count];
		f->name = strdup(archive_entry_pathname(entry));
		if (!f->name) {
			err_fail(err, "%s", strerror(errno));
			goto out;
		}
		b->count++;
		if (read_data(a, entry, f, err) != 0)
			goto out;
		total += f->len;
	}
	ret = 0;
out:
	if (a)
		archive_read_free(a);
	return ret;
}

/* One entry of the manifest's "members": {name, size, sha256}, naming a
 * member of b (not the manifest), whose size and SHA-256 it gives. */
static int check_listed(const struct bundle *b, size_t i, const json_t *item, int listed[],
			struct err *err)
{
	const char *name = json_string_value(json_object_get(item, "name"));
	const json_t *size = json_object_get(item, "size");
	const char *sha = json_string_value(json_object_get(item, "sha256"));
	char a[SHOWN_MAX];

	if (!name || !json_is_integer(size) || !sha)
		return err_set(
		    err, EBADMSG,
		    "%s: entry %zu of \"members\" is not {\"name\", \"size\", \"sha256\"}",
		    BUNDLE_MANIFEST, i + 1);
	const char *problem = name_problem(name);
	if (problem || strcmp(name, BUNDLE_MANIFEST) == 0)
		return err_set(err, EBADMSG, "%s: lists %s, which cannot be a member: %s",
			       BUNDLE_MANIFEST, shown(name, a),
			       problem ? problem : "the manifest does not list itself");
	const struct bundle_file *f = find_file(b, name);
	if (!f)
		return err_set(err, EBADMSG, "member %s: listed in the manifest but missing", name);
	size_t index = (size_t)(f - b->members);
	if (listed[index])
		return err_set(err, EBADMSG, "%s: lists member %s twice", BUNDLE_MANIFEST, name);
	listed[index] = 1;
	if (json_integer_value(size) < 0 || (unsigned long long)json_integer_value(size) != f->len)
		return err_set(err, EBADMSG, "member %s: %zu bytes, the manifest says %lld", name,
			       f->len, (long long)json_integer_value(size));
	char hex[SHA256_HEX_BYTES];
	hex_digest(f->data, f->len, hex);
	if (strcmp(hex, sha) != 0)
		return err_set(err, EBADMSG, "member %s: SHA-256 does not match the manifest",
			       name);
	return 0;
}

/* manifest.json lists exactly the other members, with their sizes and
 * SHA-256. */
static int check_manifest(struct bundle *b, struct err *err)
{
	const struct bundle_file *m = find_file(b, BUNDLE_MANIFEST);
	int listed[BUNDLE_MAX_MEMBERS] = {0};
	json_error_t jerr;

	if (!m)
		return err_set(err, EBADMSG, "no %s", BUNDLE_MANIFEST);
	b->manifest = json_loadb(m->data, m->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!b->manifest)
		return err_set(err, EBADMSG, "%s: not valid JSON: %s (line %d)", BUNDLE_MANIFEST,
			       jerr.text, jerr.line);
	const json_t *list = json_object_get(b->manifest, "members");
	if (!json_is_array(list))
		return err_set(err, EBADMSG, "%s: not an object with a \"members\" list",
			       BUNDLE_MANIFEST);
	for (size_t i = 0; i < json_array_size(list); i++)
		if (check_listed(b, i, json_array_get(list, i), listed, err) != 0)
			return -1;
	for (size_t i = 0; i < b->count; i++)
		if (!listed[i] && strcmp(b->members[i].name, BUNDLE_MANIFEST) != 0)
			return err_set(err, EBADMSG, "member %s: not listed in the manifest",
				       b->members[i].name);
	return 0;
}

struct bundle *bundle_new(const char *path, struct err *err)
{
	struct bundle *b = calloc(1, sizeof(*b));
	int fd = -1;

	if (!b) {
		err_fail(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* O_NOFOLLOW: a bundle is the file at its name, never a link's
	 * target; O_NONBLOCK: a FIFO planted at the name is refused by the
	 * fstat below instead of blocking the open. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			err_set(err, EBADMSG, "%s: a symbolic link, not a bundle", path);
		else
			err_fail(err, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (check_file(fd, err) != 0 || read_members(b, fd, err) != 0 ||
	    check_manifest(b, err) != 0) {
		err_prefix(err, "%s", path);
		goto fail;
	}
	close(fd);
	return b;
fail:
	close_quietly(fd);
	int saved = errno;
	bundle_free(b);
	errno = saved;
	return NULL;
}

void bundle_free(struct bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++) {
		free(b->members[i].name);
		free(b->members[i].data);
	}
	json_decref(b->manifest);
	free(b);
}

const char *bundle_member(const struct bundle *b, const char *name, size_t *len)
{
	const struct bundle_file *f = find_file(b, name);

	if (len)
		*len = f ? f->len : 0;
	return f ? f->data : NULL;
}

size_t bundle_count(const struct bundle *b)
{
	return b->count;
}

const char *bundle_member_at(const struct bundle *b, size_t i, const char **data, size_t *len)
{
	const struct bundle_file *f = &b->members[i];

	if (data)
		*data = f->data;
	if (len)
		*len = f->len;
	return f->name;
}

const json_t *bundle_manifest(const struct bundle *b)
{
	return b->manifest;
}
