/*
 * bundle — a model version as one file: models/model_YYYYMMDD_HHMMSS.tar.zst.
 *
 * A bundle is a tar archive (pax format, written through libarchive)
 * compressed as one zstd frame. It holds flat, regular members, each read
 * whole into memory: the caller's (model.json, metrics.json) and
 * manifest.json, which this module writes first and which lists every other
 * member with its size and SHA-256, beside the caller's own fields (data
 * range, sample counts, config digest, created time, format):
 *
 *     {
 *       "format": 1, "data_from": "...", ...        (the caller's fields)
 *       "members": [
 *         {"name": "model.json", "size": 1234, "sha256": "<64 hex digits>"},
 *         {"name": "metrics.json", "size": 321, "sha256": "..."}
 *       ]
 *     }
 *
 * Writing is deterministic: the same members, manifest fields and mtime give
 * the same bytes (no owner, time or pid of the writing process goes in). A
 * bundle is published atomically and durably: it appears complete at its
 * name or not at all.
 *
 * Reading trusts nothing in the file. A bundle is refused, as a whole, when
 * it is not a zstd-compressed tar; when libarchive finds it truncated or
 * damaged; when a member is not a plain regular file (a link, hard or
 * symbolic, a folder, a device, a FIFO, a sparse file); when a name is not
 * a flat name (see below) or appears twice; past the bounds below; when
 * manifest.json is missing or malformed, lists a member the bundle lacks,
 * or does not list one it holds; when any member's size or SHA-256 differs
 * from the manifest's. Reading writes nothing to disk.
 *
 * A member name is 1 to BUNDLE_NAME_MAX bytes of printable ASCII without
 * space, never "." and never containing ".." or '/' (members are flat, so no
 * name can point outside the folder it might be extracted to). The writer
 * refuses what the reader would refuse, so every bundle it writes reads back.
 *
 * Failures follow lib/base/err.h: -1 (NULL for bundle_new) with a message
 * that starts with the bundle's path and names the member and what is wrong:
 *
 *     models/model_X.tar.zst: member model.json: SHA-256 does not match the manifest
 *
 * err->code is the errno of a failed system call (ENOENT: no such bundle),
 * EBADMSG for a file whose content is refused (damaged, foreign, or against
 * the rules above), EINVAL for a write the caller asked wrongly, ENOMEM.
 */
#ifndef TRADELEARN_BUNDLE_H
#define TRADELEARN_BUNDLE_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "lib/base/err.h"

#define BUNDLE_MANIFEST "manifest.json"
#define BUNDLE_NAME_MAX 100		    /* fits a tar header's name field */
#define BUNDLE_MAX_MEMBERS 16		    /* manifest.json included */
#define BUNDLE_MAX_MEMBER_BYTES (64u << 20) /* 64 MiB, each member */
#define BUNDLE_MAX_TOTAL_BYTES (128u << 20) /* 128 MiB, all members together */

/* One member to write: name (a flat name as above, not "manifest.json")
 * and len bytes at data (data may be NULL when len is 0). Borrowed: the
 * caller keeps ownership; nothing is kept after bundle_write returns. */
struct bundle_member {
	const char *name;
	const void *data;
	size_t len;
};

/* Writes a bundle at path holding manifest.json and then the count members
 * in their order, each a regular file of mode 0640, owner 0:0, modified at
 * mtime (the caller's fixed time: the same arguments give the same bytes).
 *
 * manifest_fields (borrowed, may be NULL) is a JSON object whose fields go
 * into manifest.json, in their order, before the "members" list this
 * function builds; a field named "members" is refused (EINVAL).
 *
 * The bytes go to "<path>.tmp.<pid>" (durable_temp_open: O_EXCL|O_NOFOLLOW,
 * so a link at that name is never written through; a leftover of this pid
 * there is removed first) with mode 0640 (less when the umask says so),
 * fsync'd, renamed over path
 * (replacing a file already there), then the folder is fsync'd. Returns 0;
 * -1 with err set on any failure, with the temp file removed and path left
 * as it was: nothing new is left behind. (Past the rename, the bundle is
 * complete at path: a failure to fsync the folder after it is still -1,
 * as the bundle may not survive a crash, but the bundle stays.) Refused
 * before anything is
 * created (EINVAL): a bad or duplicate name, more than
 * BUNDLE_MAX_MEMBERS - 1 members, a member over BUNDLE_MAX_MEMBER_BYTES,
 * all of them over BUNDLE_MAX_TOTAL_BYTES. */
int bundle_write(const char *path, const struct bundle_member *members, size_t count,
		 const json_t *manifest_fields, time_t mtime, struct err *err);

/* A bundle read into memory and verified; opaque. */
struct bundle;

/* Reads the bundle at path (a regular file: a symbolic link at path is
 * refused) and verifies it as described at the top. Returns the bundle,
 * which the caller frees with bundle_free(); NULL with err set when it
 * cannot be read or is refused. */
struct bundle *bundle_new(const char *path, struct err *err);

/* Frees b and everything it holds; NULL does nothing. Every pointer that
 * the functions below returned for b is invalid afterwards. */
void bundle_free(struct bundle *b);

/* The bytes of the member called name, with its length in *len (len may be
 * NULL), or NULL when the bundle has no such member. The bytes are followed
 * by a NUL that *len does not count, so a JSON member can go straight to
 * json_loadb() or be read as a string. Owned by b. manifest.json is a
 * member too. */
const char *bundle_member(const struct bundle *b, const char *name, size_t *len);

/* How many members b holds, manifest.json included. */
size_t bundle_count(const struct bundle *b);

/* The name of member i (0 <= i < bundle_count(), in the archive's order,
 * manifest.json first in a bundle bundle_write() wrote); its bytes and
 * length in *data and *len (either may be NULL). Owned by b. */
const char *bundle_member_at(const struct bundle *b, size_t i, const char **data, size_t *len);

/* manifest.json, parsed: an object with a "members" array, and the
 * writer's other fields. Borrowed: owned by b, valid until bundle_free();
 * do not change it (json_deep_copy() it to keep or edit it). */
const json_t *bundle_manifest(const struct bundle *b);

#endif
