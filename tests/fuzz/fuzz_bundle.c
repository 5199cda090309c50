/*
 * fuzz_bundle — a model bundle (.tar.zst) through bundle_new: the archive
 * read, every member's name, size and SHA-256 checked against the manifest.
 * A bundle is refused with a message or read whole; reading writes nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "lib/base/err.h"
#include "lib/models/bundle.h"
#include "tests/fuzz/fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write_file("model.tar.zst", data, size);
	struct err e = {0};
	struct bundle *b = bundle_new(path, &e);
	if (!b) {
		if (!e.msg[0])
			__builtin_trap();
		return 0;
	}
	size_t n = bundle_count(b);
	for (size_t i = 0; i < n; i++) {
		const char *member;
		size_t len;
		const char *name = bundle_member_at(b, i, &member, &len);
		if (!name || bundle_member(b, name, &len) != member)
			__builtin_trap(); /* each member is found by its name */
	}
	(void)bundle_manifest(b);
	bundle_free(b);
	return 0;
}
