#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/base/sha256.h"
#include "lib/models/bundle.h"

#define MTIME 1717243200 /* 2024-06-01 12:00:00 UTC */

static const char model_json[] = "{\"format\": 1, \"weights\": [0.25, -1.5, 3]}\n";
static const char metrics_json[] = "{\"auc\": 0.61, \"log_loss\": 0.66}\n";

/* ---- the test's folder ------------------------------------------------- */

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
	char *dir = strdup("/tmp/test_bundle.XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	umask(022);
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

/* Everything under a folder: one "path size" line per entry, sorted. */
static char *entries[4096];
static size_t entry_count;

static int note_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	assert_true(entry_count < sizeof(entries) / sizeof(entries[0]));
	assert_true(asprintf(&entries[entry_count++], "%s %lld", path, (long long)st->st_size) > 0);
	return 0;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *listing(const char *dir)
{
	size_t total = 1;
	char *text;

	entry_count = 0;
	assert_int_equal(nftw(dir, note_entry, 16, FTW_PHYS), 0);
	qsort(entries, entry_count, sizeof(entries[0]), by_text);
	for (size_t i = 0; i < entry_count; i++)
		total += strlen(entries[i]) + 1;
	text = calloc(1, total);
	assert_non_null(text);
	for (size_t i = 0; i < entry_count; i++) {
		strcat(text, entries[i]);
		strcat(text, "\n");
		free(entries[i]);
	}
	return text;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	data[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return data;
}

/* ---- bundles ----------------------------------------------------------- */

static json_t *sample_fields(void)
{
	json_t *fields =
	    json_pack("{s:i, s:s, s:s, s:{s:i, s:i}, s:s, s:s}", "format", 1, "data_from",
		      "2024-04-01", "data_until", "2024-05-31", "samples", "train", 800, "holdout",
		      200, "config_digest", "ab12cd34", "created", "2024-06-01T12:00:00Z");
	assert_non_null(fields);
	return fields;
}

/* A bundle of model.json and metrics.json at dir/name; returns its path. */
static char *write_sample(const char *dir, const char *name)
{
	struct bundle_member members[] = {
	    {"model.json", model_json, strlen(model_json)},
	    {"metrics.json", metrics_json, strlen(metrics_json)},
	};
	json_t *fields = sample_fields();
	struct err err = {0};
	char *path = join(dir, name);

	assert_int_equal(bundle_write(path, members, 2, fields, MTIME, &err), 0);
	json_decref(fields);
	return path;
}

/* One entry of a bundle written with libarchive directly, as an editor or
 * another program could: anything a tar can hold. */
struct raw {
	const char *name;
	const char *data;     /* NULL: size bytes of zeros */
	size_t size;	      /* without data */
	int type;	      /* AE_IF*; 0: a regular file */
	const char *hardlink; /* a hard link to this member */
	const char *symlink;  /* a symbolic link to this */
};

/* manifest.json's text listing entries (those with data) as they are. */
static char *manifest_of(const struct raw *raws, size_t count)
{
	json_t *list = json_array();
	json_t *root = json_pack("{s:i, s:o}", "format", 1, "members", list);
	char *text;

	for (size_t i = 0; i < count; i++) {
		unsigned char digest[SHA256_DIGEST_BYTES];
		char hex[SHA256_HEX_BYTES];

		if (!raws[i].data)
			continue;
		sha256_digest(raws[i].data, strlen(raws[i].data), digest);
		sha256_hex(digest, hex);
		json_array_append_new(list,
				      json_pack("{s:s, s:I, s:s}", "name", raws[i].name, "size",
						(json_int_t)strlen(raws[i].data), "sha256", hex));
	}
	text = json_dumps(root, JSON_INDENT(2));
	assert_non_null(text);
	json_decref(root);
	return text;
}

/* Writes the entries to path as a tar (format) with a filter (both
 * libarchive codes), without the bundle module. */
static void write_raw_as(const char *path, const struct raw *raws, size_t count, int format,
			 int filter)
{
	struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(archive_write_set_format(a, format), ARCHIVE_OK);
	/* Names as raw bytes, whatever the locale makes of them. */
	if (format == ARCHIVE_FORMAT_TAR_PAX_RESTRICTED)
		assert_int_equal(archive_write_set_options(a, "hdrcharset=BINARY"), ARCHIVE_OK);
	if (filter != ARCHIVE_FILTER_NONE)
		assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < count; i++) {
		const struct raw *r = &raws[i];
		struct archive_entry *e = archive_entry_new();
		size_t size = r->data ? strlen(r->data) : r->size;

		archive_entry_set_pathname(e, r->name);
		archive_entry_set_filetype(e, r->type ? (unsigned)r->type : AE_IFREG);
		archive_entry_set_perm(e, 0640);
		archive_entry_set_mtime(e, MTIME, 0);
		if (r->hardlink)
			archive_entry_set_hardlink(e, r->hardlink);
		if (r->symlink)
			archive_entry_set_symlink(e, r->symlink);
		if (r->type == AE_IFCHR || r->type == AE_IFBLK)
			archive_entry_set_rdev(e, makedev(1, 3));
		if (!r->type && !r->hardlink)
			archive_entry_set_size(e, (la_int64_t)size);
		int rc = archive_write_header(a, e);
		if (rc != ARCHIVE_OK)
			fail_msg("writing %s: %s", r->name, archive_error_string(a));
		/* Without data, libarchive pads the member with zeros when it
		 * closes it: a large member costs nothing to describe. */
		if (r->data)
			assert_int_equal(archive_write_data(a, r->data, size), (la_ssize_t)size);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* A bundle as this module would write it (pax tar, zstd) of the entries
 * and a manifest.json that lists them truly: only what the test changes is
 * wrong. */
static void write_raw(const char *path, const struct raw *raws, size_t count)
{
	struct raw all[40];
	char *manifest = manifest_of(raws, count);

	assert_true(count < sizeof(all) / sizeof(all[0]));
	all[0] = (struct raw){.name = "manifest.json", .data = manifest};
	memcpy(all + 1, raws, count * sizeof(*raws));
	write_raw_as(path, all, count + 1, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_ZSTD);
	free(manifest);
}

/* Reading path is refused with a message that starts with the path and
 * holds reason, as EBADMSG (or code), and leaves the folder as it was. */
static void assert_refused_as(const char *dir, const char *path, int code, const char *reason)
{
	char *before = listing(dir);
	struct err err = {0};

	errno = 0;
	assert_null(bundle_new(path, &err));
	assert_int_equal(err.code, code);
	assert_int_equal(errno, code);
	if (strncmp(err.msg, path, strlen(path)) != 0 || !strstr(err.msg, reason))
		fail_msg("reading %s gave \"%s\", not \"%s\"", path, err.msg, reason);
	char *after = listing(dir);
	assert_string_equal(after, before);
	free(before);
	free(after);
}

static void assert_refused(const char *dir, const char *path, const char *reason)
{
	assert_refused_as(dir, path, EBADMSG, reason);
}

/* ---- writing and reading back ----------------------------------------- */

static void test_a_bundle_reads_back_with_its_members_and_its_manifest(void **state)
{
	const char *dir = *state;
	char *path = write_sample(dir, "model_20240601_120000.tar.zst");
	struct err err = {0};
	struct bundle *b = bundle_new(path, &err);
	const char *data;
	size_t len;

	assert_non_null(b);
	assert_int_equal(bundle_count(b), 3);
	assert_string_equal(bundle_member_at(b, 0, NULL, NULL), "manifest.json");
	assert_string_equal(bundle_member_at(b, 1, &data, &len), "model.json");
	assert_int_equal(len, strlen(model_json));
	assert_memory_equal(data, model_json, len);
	assert_string_equal(bundle_member_at(b, 2, NULL, NULL), "metrics.json");

	data = bundle_member(b, "metrics.json", &len);
	assert_non_null(data);
	assert_int_equal(len, strlen(metrics_json));
	assert_string_equal(data, metrics_json); /* NUL-terminated */
	assert_null(bundle_member(b, "weights.json", &len));
	assert_int_equal(len, 0);

	/* The caller's fields, in their order, then the list with sizes and
	 * the SHA-256 of each member. */
	const json_t *manifest = bundle_manifest(b);
	json_t *fields = sample_fields();
	const char *key;
	json_t *value;
	void *field = json_object_iter(fields);
	size_t i = 0;
	json_object_foreach((json_t *)manifest, key, value)
	{
		if (field) {
			assert_string_equal(key, json_object_iter_key(field));
			assert_true(json_equal(value, json_object_iter_value(field)));
			field = json_object_iter_next(fields, field);
		} else {
			assert_string_equal(key, "members");
		}
		i++;
	}
	assert_int_equal(i, json_object_size(fields) + 1);
	const json_t *list = json_object_get(manifest, "members");
	assert_int_equal(json_array_size(list), 2);
	const json_t *first = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(first, "name")), "model.json");
	assert_int_equal(json_integer_value(json_object_get(first, "size")), strlen(model_json));
	unsigned char digest[SHA256_DIGEST_BYTES];
	char hex[SHA256_HEX_BYTES];
	sha256_digest(model_json, strlen(model_json), digest);
	sha256_hex(digest, hex);
	assert_string_equal(json_string_value(json_object_get(first, "sha256")), hex);

	/* Nothing but the bundle is left in the folder (no temp file). */
	char *expected;
	assert_true(asprintf(&expected, "%s ", path) > 0);
	char *now = listing(dir);
	assert_non_null(strstr(now, expected));
	assert_int_equal(entry_count, 2); /* the folder and the bundle */
	free(now);
	free(expected);
	json_decref(fields);
	bundle_free(b);
	bundle_free(NULL);
	free(path);
}

static void test_a_bundle_without_fields_or_members_holds_only_its_manifest(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "empty.tar.zst");
	struct err err = {0};

	assert_int_equal(bundle_write(path, NULL, 0, NULL, MTIME, &err), 0);
	struct bundle *b = bundle_new(path, &err);
	assert_non_null(b);
	assert_int_equal(bundle_count(b), 1);
	assert_int_equal(json_object_size(bundle_manifest(b)), 1);
	assert_int_equal(json_array_size(json_object_get(bundle_manifest(b), "members")), 0);
	bundle_free(b);
	free(path);
}

static void test_the_same_members_and_time_give_the_same_bytes(void **state)
{
	const char *dir = *state;
	char *one = write_sample(dir, "one.tar.zst");
	char *two = write_sample(dir, "two.tar.zst");
	size_t len_one, len_two;
	char *bytes_one = read_file(one, &len_one);
	char *bytes_two = read_file(two, &len_two);

	assert_int_equal(len_one, len_two);
	assert_memory_equal(bytes_one, bytes_two, len_one);

	/* And the time is the caller's: another time, other bytes. */
	struct bundle_member members[] = {{"model.json", model_json, strlen(model_json)}};
	struct err err = {0};
	char *three = join(dir, "three.tar.zst");
	char *four = join(dir, "four.tar.zst");
	assert_int_equal(bundle_write(three, members, 1, NULL, MTIME, &err), 0);
	assert_int_equal(bundle_write(four, members, 1, NULL, MTIME + 1, &err), 0);
	size_t len_three, len_four;
	char *bytes_three = read_file(three, &len_three);
	char *bytes_four = read_file(four, &len_four);
	assert_false(len_three == len_four && memcmp(bytes_three, bytes_four, len_three) == 0);

	free(bytes_one);
	free(bytes_two);
	free(bytes_three);
	free(bytes_four);
	free(one);
	free(two);
	free(three);
	free(four);
}

static void test_a_bundle_on_disk_is_a_zstd_frame_holding_a_pax_tar_of_0640_files(void **state)
{
	const char *dir = *state;
	char *path = write_sample(dir, "model.tar.zst");
	char *tar = join(dir, "model.tar");
	char *list = join(dir, "list.txt");
	char *extracted = join(dir, "model.json");
	char *command;
	size_t len;
	struct stat st;

	size_t bundle_len;
	char *bytes = read_file(path, &bundle_len);
	assert_true(bundle_len > 4);
	assert_memory_equal(bytes, "\x28\xb5\x2f\xfd", 4);
	/* One whole frame, and nothing after it. */
	assert_int_equal(ZSTD_findFrameCompressedSize(bytes, bundle_len), bundle_len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* The zstd and tar programs read it as it is. */
	assert_true(asprintf(&command, "zstd -qdc '%s' > '%s' && tar -tvf '%s' > '%s'", path, tar,
			     tar, list) > 0);
	assert_int_equal(system(command), 0);
	free(command);
	char *text = read_file(list, &len);
	char *model = strstr(text, "model.json");
	char *metrics = strstr(text, "metrics.json");
	char *manifest = strstr(text, "manifest.json");
	assert_non_null(model);
	assert_non_null(metrics);
	assert_non_null(manifest);
	assert_true(manifest < model && model < metrics);
	for (char *line = text; *line; line = strchr(line, '\n') + 1) {
		assert_memory_equal(line, "-rw-r----- 0/0", 14);
		assert_non_null(strstr(line, " 2024-06-01 "));
	}
	free(text);
	assert_true(asprintf(&command, "cd '%s' && tar -xf '%s' model.json", dir, tar) > 0);
	assert_int_equal(system(command), 0);
	free(command);
	text = read_file(extracted, &len);
	assert_string_equal(text, model_json);
	free(text);

	/* A POSIX tar (ustar headers, which pax extends), and libarchive reads
	 * regular members with the given time, owned by 0:0. */
	char *raw_tar = read_file(tar, &len);
	assert_true(len >= 512);
	assert_memory_equal(raw_tar + 257,
			    "ustar\0"
			    "00",
			    8);
	free(raw_tar);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	assert_int_equal(archive_read_support_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
	assert_int_equal(archive_read_open_memory(a, bytes, bundle_len), ARCHIVE_OK);
	int n = 0;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		assert_int_equal(archive_entry_filetype(e), AE_IFREG);
		assert_int_equal(archive_entry_perm(e), 0640);
		assert_int_equal(archive_entry_mtime(e), MTIME);
		assert_int_equal(archive_entry_uid(e), 0);
		assert_int_equal(archive_entry_gid(e), 0);
		assert_int_equal(archive_filter_code(a, 0), ARCHIVE_FILTER_ZSTD);
		n++;
	}
	assert_int_equal(n, 3);
	archive_read_free(a);
	free(bytes);
	free(path);
	free(tar);
	free(list);
	free(extracted);
}

/* ---- the manifest and the members ------------------------------------ */

static void test_a_member_that_differs_from_the_manifest_is_refused_naming_it(void **state)
{
	const char *dir = *state;
	char *good = write_sample(dir, "good.tar.zst");
	char *tampered = join(dir, "tampered.tar.zst");
	char *longer = join(dir, "longer.tar.zst");
	struct err err = {0};
	struct bundle *b = bundle_new(good, &err);

	assert_non_null(b);
	const char *manifest = bundle_member(b, "manifest.json", NULL);
	/* The same manifest, model.json changed in one byte, same length. */
	char *edited = strdup(model_json);
	edited[strlen(edited) - 3] = '4';
	struct raw same_size[] = {
	    {.name = "manifest.json", .data = manifest},
	    {.name = "model.json", .data = edited},
	    {.name = "metrics.json", .data = metrics_json},
	};
	write_raw_as(tampered, same_size, 3, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
		     ARCHIVE_FILTER_ZSTD);
	assert_refused(dir, tampered, ": member model.json: SHA-256 does not match the manifest");

	struct raw other_size[] = {
	    {.name = "manifest.json", .data = manifest},
	    {.name = "model.json", .data = model_json},
	    {.name = "metrics.json", .data = "{\"auc\": 0.99}\n"},
	};
	write_raw_as(longer, other_size, 3, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_ZSTD);
	assert_refused(dir, longer, ": member metrics.json: 14 bytes, the manifest says 32");

	free(edited);
	bundle_free(b);
	free(good);
	free(tampered);
	free(longer);
}

static void test_members_the_manifest_does_not_account_for_are_refused(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "bundle.tar.zst");
	char *list = manifest_of((struct raw[]){{.name = "model.json", .data = model_json}}, 1);
	char *twice = manifest_of((struct raw[]){{.name = "model.json", .data = model_json},
						 {.name = "model.json", .data = model_json}},
				  2);
	char *listing_manifest =
	    manifest_of((struct raw[]){{.name = "manifest.json", .data = "{}"},
				       {.name = "model.json", .data = model_json}},
			2);
	char *listing_bad_name =
	    manifest_of((struct raw[]){{.name = "../model.json", .data = model_json},
				       {.name = "model.json", .data = model_json}},
			2);
	static const char *const bad_lists[] = {
	    "{\"members\": [{\"name\": \"model.json\", \"size\": 41}]}",
	    "{\"members\": [{\"name\": \"model.json\", \"size\": \"41\", \"sha256\": \"00\"}]}",
	    "{\"members\": {}}",
	    "[]",
	};
	const struct {
		struct raw raws[3];
		size_t count;
		const char *reason;
	} cases[] = {
	    /* A member the list leaves out. */
	    {{{.name = "manifest.json", .data = list},
	      {.name = "model.json", .data = model_json},
	      {.name = "extra.json", .data = "{}"}},
	     3,
	     ": member extra.json: not listed in the manifest"},
	    /* A listed member that is not there. */
	    {{{.name = "manifest.json", .data = list}, {.name = "other.json", .data = "{}"}},
	     2,
	     ": member model.json: listed in the manifest but missing"},
	    {{{.name = "model.json", .data = model_json}}, 1, ": no manifest.json"},
	    {{{.name = "manifest.json", .data = "{\"members\": [}"},
	      {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: not valid JSON: "},
	    {{{.name = "manifest.json", .data = twice}, {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: lists member model.json twice"},
	    {{{.name = "manifest.json", .data = listing_manifest},
	      {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: lists manifest.json, which cannot be a member"},
	    {{{.name = "manifest.json", .data = listing_bad_name},
	      {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: lists ../model.json, which cannot be a member: the name contains"},
	    {{{.name = "manifest.json", .data = bad_lists[0]},
	      {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: entry 1 of \"members\" is not {\"name\", \"size\", \"sha256\"}"},
	    {{{.name = "manifest.json", .data = bad_lists[1]},
	      {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: entry 1 of \"members\" is not"},
	    {{{.name = "manifest.json", .data = bad_lists[2]},
	      {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: not an object with a \"members\" list"},
	    {{{.name = "manifest.json", .data = bad_lists[3]},
	      {.name = "model.json", .data = model_json}},
	     2,
	     ": manifest.json: not an object with a \"members\" list"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_raw_as(path, cases[i].raws, cases[i].count, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
			     ARCHIVE_FILTER_ZSTD);
		assert_refused(dir, path, cases[i].reason);
	}
	free(list);
	free(twice);
	free(listing_manifest);
	free(listing_bad_name);
	free(path);
}

/* ---- damaged and foreign files --------------------------------------- */

static void test_a_truncated_bundle_is_refused_at_every_length(void **state)
{
	const char *dir = *state;
	/* Members that do not compress, so the frame has several blocks. */
	char *noise = malloc(300001);
	assert_non_null(noise);
	uint32_t x = 12345;
	for (size_t i = 0; i < 300000; i++) {
		x = x * 1103515245 + 12345;
		noise[i] = (char)('a' + (x >> 16) % 26);
	}
	noise[300000] = '\0';
	struct bundle_member members[] = {
	    {"model.json", noise, 300000},
	    {"metrics.json", metrics_json, strlen(metrics_json)},
	};
	char *path = join(dir, "whole.tar.zst");
	char *cut = join(dir, "cut.tar.zst");
	struct err err = {0};
	size_t len;

	assert_int_equal(bundle_write(path, members, 2, NULL, MTIME, &err), 0);
	char *bytes = read_file(path, &len);
	assert_true(len > 100000);
	/* Every length up to 600 bytes, then every 997th, then the last 600. */
	for (size_t n = 0; n < len; n += n < 600 || n + 600 >= len ? 1 : 997) {
		write_file(cut, bytes, n);
		assert_refused(dir, cut, cut);
		if (n >= 4)
			assert_refused(dir, cut, ": damaged");
	}
	write_file(cut, bytes, len);
	struct bundle *b = bundle_new(cut, &err);
	assert_non_null(b);
	bundle_free(b);
	free(bytes);
	free(noise);
	free(path);
	free(cut);
}

static void test_a_file_that_is_not_a_bundle_is_refused(void **state)
{
	const char *dir = *state;
	char *text = join(dir, "notes.txt");
	char *gzip = join(dir, "notes.txt.gz");
	char *zip = join(dir, "bundle.zip");
	char *plain_tar = join(dir, "bundle.tar");
	char *tar_gz = join(dir, "bundle.tar.gz");
	char *zstd_text = join(dir, "notes.txt.zst");
	char *empty = join(dir, "empty.tar.zst");
	char *manifest = manifest_of((struct raw[]){{.name = "model.json", .data = model_json}}, 1);
	struct raw raws[] = {
	    {.name = "manifest.json", .data = manifest},
	    {.name = "model.json", .data = model_json},
	};
	char *command;

	write_file(text, "hello, this is not a bundle\n", 28);
	write_file(empty, "", 0);
	assert_true(asprintf(&command, "gzip -c '%s' > '%s' && zstd -qc '%s' > '%s'", text, gzip,
			     text, zstd_text) > 0);
	assert_int_equal(system(command), 0);
	free(command);
	write_raw_as(zip, raws, 2, ARCHIVE_FORMAT_ZIP, ARCHIVE_FILTER_NONE);
	write_raw_as(plain_tar, raws, 2, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_NONE);
	write_raw_as(tar_gz, raws, 2, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_GZIP);

	const char *no_frame = ": not a model bundle: it does not start with a zstd frame";
	assert_refused(dir, text, no_frame);
	assert_refused(dir, gzip, no_frame);
	assert_refused(dir, zip, no_frame);
	assert_refused(dir, plain_tar, no_frame);
	assert_refused(dir, tar_gz, no_frame);
	assert_refused(dir, empty, no_frame);
	/* A zstd frame, but of text, not of a tar. */
	assert_refused(dir, zstd_text, ": damaged, or not a model bundle: ");

	free(manifest);
	free(text);
	free(gzip);
	free(zip);
	free(plain_tar);
	free(tar_gz);
	free(zstd_text);
	free(empty);
}

static void test_a_link_a_fifo_or_a_missing_file_at_the_bundle_path_is_refused(void **state)
{
	const char *dir = *state;
	char *good = write_sample(dir, "good.tar.zst");
	char *link = join(dir, "link.tar.zst");
	char *fifo = join(dir, "fifo.tar.zst");
	char *folder = join(dir, "folder.tar.zst");
	char *missing = join(dir, "missing.tar.zst");

	assert_int_equal(symlink(good, link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(folder, 0700), 0);
	assert_refused(dir, link, ": a symbolic link, not a bundle");
	assert_refused(dir, fifo, ": not a regular file");
	assert_refused(dir, folder, ": not a regular file");
	assert_refused_as(dir, missing, ENOENT, ": No such file or directory");
	free(good);
	free(link);
	free(fifo);
	free(folder);
	free(missing);
}

/* ---- members that are not plain flat files --------------------------- */

static void test_members_with_names_that_are_not_flat_are_refused(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "names.tar.zst");
	const struct {
		const char *name;
		const char *reason;
	} cases[] = {
	    {"../x", ": member ../x: the name contains \"..\""},
	    {"/etc/x", ": member /etc/x: the name is absolute"},
	    {"a/b", ": member a/b: the name contains '/' (members are flat)"},
	    {"sub/", ": member sub/: the name contains '/'"},
	    {"x..y", ": member x..y: the name contains \"..\""},
	    {".", ": member .: the name is \".\""},
	    {"model\n.json", ": member model\\x0a.json: the name contains a space, a control"},
	    {"\x1b[31mred", ": member \\x1b[31mred: the name contains a space, a control"},
	    {"caf\xc3\xa9", ": member caf\\xc3\\xa9: the name contains a space, a control"},
	    {"two words", ": member two words: the name contains a space"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw raws[] = {
		    {.name = "model.json", .data = model_json},
		    {.name = cases[i].name, .data = "{}"},
		};
		write_raw(path, raws, 2);
		assert_refused(dir, path, cases[i].reason);
	}

	/* A pax name in UTF-8, as a program in a UTF-8 locale writes it, read
	 * in the C locale, which cannot convert it. */
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(e, "caf\xc3\xa9");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, 2);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, "{}", 2), 2);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	assert_non_null(setlocale(LC_CTYPE, "C"));
	assert_refused(dir, path, ": member caf\\xc3\\xa9: the name contains a space, a control");

	/* A name longer than a tar header's name field (pax carries it). */
	char long_name[160];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	struct raw raws[] = {{.name = long_name, .data = "{}"}};
	write_raw(path, raws, 1);
	assert_refused(dir, path, ": the name is longer than 100 bytes");
	free(path);
}

static void test_links_folders_devices_and_fifos_are_refused(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "types.tar.zst");
	const struct {
		struct raw raw;
		const char *reason;
	} cases[] = {
	    {{.name = "link.json", .type = AE_IFLNK, .symlink = "model.json"},
	     ": member link.json: a symbolic link, not a regular file"},
	    {{.name = "escape.json", .type = AE_IFLNK, .symlink = "/etc/passwd"},
	     ": member escape.json: a symbolic link, not a regular file"},
	    {{.name = "hard.json", .hardlink = "model.json"},
	     ": member hard.json: a hard link, not a regular file"},
	    {{.name = "null", .type = AE_IFCHR},
	     ": member null: a character device, not a regular"},
	    {{.name = "disk", .type = AE_IFBLK}, ": member disk: a block device, not a regular"},
	    {{.name = "pipe", .type = AE_IFIFO}, ": member pipe: a FIFO, not a regular file"},
	    /* libarchive gives a folder's name a '/' at the end. */
	    {{.name = "folder", .type = AE_IFDIR}, ": member folder/: the name contains '/'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw raws[] = {{.name = "model.json", .data = model_json}, cases[i].raw};
		write_raw(path, raws, 2);
		assert_refused(dir, path, cases[i].reason);
	}
	free(path);
}

static void test_a_member_name_given_twice_is_refused(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "twice.tar.zst");
	struct raw raws[] = {
	    {.name = "model.json", .data = model_json},
	    {.name = "model.json", .data = "{\"format\": 1, \"weights\": [9]}"},
	};

	write_raw(path, raws, 2);
	assert_refused(dir, path, ": member model.json: appears twice");
	free(path);
}

static void test_more_members_than_a_bundle_holds_are_refused(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "many.tar.zst");
	char names[BUNDLE_MAX_MEMBERS][16];
	struct raw raws[BUNDLE_MAX_MEMBERS];

	/* With the manifest, one member too many. */
	for (int i = 0; i < BUNDLE_MAX_MEMBERS; i++) {
		snprintf(names[i], sizeof(names[i]), "part%02d.json", i);
		raws[i] = (struct raw){.name = names[i], .data = "{}"};
	}
	write_raw(path, raws, BUNDLE_MAX_MEMBERS);
	assert_refused(dir, path, ": more than 16 members");

	/* As many as it holds are fine. */
	write_raw(path, raws, BUNDLE_MAX_MEMBERS - 1);
	struct err err = {0};
	struct bundle *b = bundle_new(path, &err);
	assert_non_null(b);
	assert_int_equal(bundle_count(b), BUNDLE_MAX_MEMBERS);
	bundle_free(b);
	free(path);
}

static void test_a_member_over_64_mib_is_refused_before_it_is_read(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "big.tar.zst");
	struct raw raws[] = {
	    {.name = "model.json", .data = model_json},
	    {.name = "weights.bin", .size = BUNDLE_MAX_MEMBER_BYTES + 1},
	};

	write_raw(path, raws, 2);
	assert_refused(dir, path,
		       ": member weights.bin: 67108865 bytes, more than the 67108864 a member may "
		       "hold");
	free(path);
}

static void test_members_over_128_mib_together_are_refused(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "bigger.tar.zst");
	struct raw raws[] = {
	    {.name = "a.bin", .size = 48u << 20},
	    {.name = "b.bin", .size = 48u << 20},
	    {.name = "c.bin", .size = 48u << 20},
	};

	write_raw(path, raws, 3);
	assert_refused(dir, path, ": member c.bin: the members reach 1509");
	assert_refused(dir, path, " bytes, more than the 134217728 of a bundle");
	free(path);
}

/* ---- failed writes --------------------------------------------------- */

static void test_a_write_where_the_temp_file_cannot_be_created_fails_naming_the_path(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "no/such/folder/model.tar.zst");
	struct bundle_member members[] = {{"model.json", model_json, strlen(model_json)}};
	struct err err = {0};
	char *before = listing(dir);

	assert_int_equal(bundle_write(path, members, 1, NULL, MTIME, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
	assert_non_null(strstr(err.msg, ": create "));
	assert_non_null(strstr(err.msg, "No such file or directory"));
	char *after = listing(dir);
	assert_string_equal(after, before);
	free(before);
	free(after);
	free(path);
}

static void test_a_link_at_the_temp_name_is_removed_never_followed(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "model.tar.zst");
	char *victim = join(dir, "victim.txt");
	char *tmp;
	struct bundle_member members[] = {{"model.json", model_json, strlen(model_json)}};
	struct err err = {0};
	size_t len;

	/* The temp name carries this pid: what stands there is a leftover of
	 * this pid's, or a link planted towards another file. */
	assert_true(asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) > 0);
	write_file(victim, "keep me\n", 8);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(bundle_write(path, members, 1, NULL, MTIME, &err), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	char *kept = read_file(victim, &len);
	assert_string_equal(kept, "keep me\n");
	struct bundle *b = bundle_new(path, &err);
	assert_non_null(b);
	bundle_free(b);

	free(kept);
	free(tmp);
	free(victim);
	free(path);
}

static void test_a_failed_rename_removes_the_temp_file_and_leaves_the_path_alone(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "model.tar.zst");
	struct bundle_member members[] = {{"model.json", model_json, strlen(model_json)}};
	struct err err = {0};

	/* A folder with a file in it at the bundle's name: rename() cannot
	 * replace it. */
	assert_int_equal(mkdir(path, 0755), 0);
	char *inside = join(path, "keep");
	write_file(inside, "x", 1);
	char *before = listing(dir);
	assert_int_equal(bundle_write(path, members, 1, NULL, MTIME, &err), -1);
	assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
	assert_non_null(strstr(err.msg, ": rename "));
	char *after = listing(dir);
	assert_string_equal(after, before);
	free(before);
	free(after);
	free(inside);
	free(path);
}

static void test_the_writer_refuses_what_the_reader_would_refuse(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "model.tar.zst");
	char *huge = calloc(1, BUNDLE_MAX_MEMBER_BYTES + 1); /* never touched */
	struct bundle_member many[BUNDLE_MAX_MEMBERS];
	char names[BUNDLE_MAX_MEMBERS][16];
	json_t *with_members = json_pack("{s:i, s:[]}", "format", 1, "members");
	json_t *not_object = json_pack("[i]", 1);
	const struct {
		struct bundle_member members[3];
		size_t count;
		const json_t *fields;
		const char *reason;
	} cases[] = {
	    {{{"../x", "{}", 2}}, 1, NULL, ": member ../x: the name contains \"..\""},
	    {{{"/etc/x", "{}", 2}}, 1, NULL, ": member /etc/x: the name is absolute"},
	    {{{"a/b", "{}", 2}}, 1, NULL, ": member a/b: the name contains '/'"},
	    {{{"", "{}", 2}}, 1, NULL, ": member (empty name): the name is empty"},
	    {{{"a\tb", "{}", 2}},
	     1,
	     NULL,
	     ": member a\\x09b: the name contains a space, a control"},
	    {{{NULL, "{}", 2}}, 1, NULL, ": member 1 has no name"},
	    {{{"manifest.json", "{}", 2}},
	     1,
	     NULL,
	     ": member manifest.json: the bundle writes its manifest itself"},
	    {{{"model.json", "{}", 2}, {"model.json", "{}", 2}},
	     2,
	     NULL,
	     ": member model.json: given twice"},
	    {{{"model.json", NULL, 2}}, 1, NULL, ": member model.json: 2 bytes at NULL"},
	    {{{"weights.bin", huge, BUNDLE_MAX_MEMBER_BYTES + 1}},
	     1,
	     NULL,
	     ": member weights.bin: 67108865 bytes, more than the 67108864 a member may hold"},
	    {{{"a.bin", huge, BUNDLE_MAX_MEMBER_BYTES},
	      {"b.bin", huge, BUNDLE_MAX_MEMBER_BYTES},
	      {"c.bin", huge, 1}},
	     3,
	     NULL,
	     ": the members hold 134217729 bytes, more than the 134217728 of a bundle"},
	    {{{"model.json", "{}", 2}},
	     1,
	     with_members,
	     ": the manifest fields name \"members\", the list the bundle writes"},
	    {{{"model.json", "{}", 2}},
	     1,
	     not_object,
	     ": the manifest fields are not a JSON object"},
	};

	assert_non_null(huge);
	char *before = listing(dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err err = {0};

		errno = 0;
		assert_int_equal(bundle_write(path, cases[i].members, cases[i].count,
					      cases[i].fields, MTIME, &err),
				 -1);
		assert_int_equal(err.code, EINVAL);
		assert_int_equal(errno, EINVAL);
		if (strncmp(err.msg, path, strlen(path)) != 0 || !strstr(err.msg, cases[i].reason))
			fail_msg("case %zu gave \"%s\", not \"%s\"", i, err.msg, cases[i].reason);
	}

	/* One more than fits beside the manifest. */
	for (int i = 0; i < BUNDLE_MAX_MEMBERS; i++) {
		snprintf(names[i], sizeof(names[i]), "part%02d.json", i);
		many[i] = (struct bundle_member){names[i], "{}", 2};
	}
	struct err err = {0};
	assert_int_equal(bundle_write(path, many, BUNDLE_MAX_MEMBERS, NULL, MTIME, &err), -1);
	assert_non_null(strstr(err.msg, ": 16 members: a bundle holds at most 15 beside"));
	char *after = listing(dir);
	assert_string_equal(after, before);

	/* As many as fit are written, and read back. */
	assert_int_equal(bundle_write(path, many, BUNDLE_MAX_MEMBERS - 1, NULL, MTIME, &err), 0);
	struct bundle *b = bundle_new(path, &err);
	assert_non_null(b);
	assert_int_equal(bundle_count(b), BUNDLE_MAX_MEMBERS);
	bundle_free(b);

	json_decref(with_members);
	json_decref(not_object);
	free(before);
	free(after);
	free(huge);
	free(path);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, make_folder, remove_folder)
	const struct CMUnitTest tests[] = {
	    T(test_a_bundle_reads_back_with_its_members_and_its_manifest),
	    T(test_a_bundle_without_fields_or_members_holds_only_its_manifest),
	    T(test_the_same_members_and_time_give_the_same_bytes),
	    T(test_a_bundle_on_disk_is_a_zstd_frame_holding_a_pax_tar_of_0640_files),
	    T(test_a_member_that_differs_from_the_manifest_is_refused_naming_it),
	    T(test_members_the_manifest_does_not_account_for_are_refused),
	    T(test_a_truncated_bundle_is_refused_at_every_length),
	    T(test_a_file_that_is_not_a_bundle_is_refused),
	    T(test_a_link_a_fifo_or_a_missing_file_at_the_bundle_path_is_refused),
	    T(test_members_with_names_that_are_not_flat_are_refused),
	    T(test_links_folders_devices_and_fifos_are_refused),
	    T(test_a_member_name_given_twice_is_refused),
	    T(test_more_members_than_a_bundle_holds_are_refused),
	    T(test_a_member_over_64_mib_is_refused_before_it_is_read),
	    T(test_members_over_128_mib_together_are_refused),
	    T(test_a_write_where_the_temp_file_cannot_be_created_fails_naming_the_path),
	    T(test_a_link_at_the_temp_name_is_removed_never_followed),
	    T(test_a_failed_rename_removes_the_temp_file_and_leaves_the_path_alone),
	    T(test_the_writer_refuses_what_the_reader_would_refuse),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
