/*
 * fuzz_config — a config file through config_load, then every profile it
 * names built through config_profile. A config is refused with a message or
 * accepted; it never crashes the loader.
 */
#include <stddef.h>
#include <stdint.h>
#include "lib/base/err.h"
#include "lib/config/config.h"
#include "tests/fuzz/fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write_file("config.json", data, size);
	struct config c;
	struct err e = {0};
	config_init(&c);
	if (config_load(&c, path, 1, &e) == 0) {
		const char *name;
		json_t *desc;
		json_object_foreach(c.profiles, name, desc)
		{
			struct profile p;
			struct err pe = {0};
			(void)desc;
			if (config_profile(&c, name, &p, &pe) == 0)
				profile_release(&p);
		}
	} else if (!e.msg[0]) {
		__builtin_trap(); /* a refusal always says why */
	}
	config_release(&c);
	return 0;
}
