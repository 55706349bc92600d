/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the config parser: the input is a config file, loaded
 * with tern_config_load (through a memfd, so no file is left behind) and, line
 * by line, with tern_config_apply_line. Checks the documented contract: a
 * failed load leaves the config unchanged and says why; a file whose lines all
 * apply and validate loads to the very same config.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/config.h"

#define LINE_MAX_BYTES 1023 /* tern_config_load's documented line limit */

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_config: property violated: %s\n", what);
	abort();
}

static void fresh(struct tern_config *c)
{
	memset(c, 0, sizeof(*c)); /* padding too, for memcmp */
	tern_config_defaults(c);
}

/*
 * Apply data line by line as tern_config_load would. Returns true when every
 * line applied and the result validates; false otherwise, or when the input
 * has something the file reader treats differently (NUL bytes, a byte order
 * mark, overlong lines), so no comparison is made.
 */
static bool apply_lines(const uint8_t *data, size_t size, struct tern_config *c)
{
	char line[LINE_MAX_BYTES + 2], err[256];
	size_t off = 0;

	if (memchr(data, '\0', size) || (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0))
		return false;
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) + 1 : size - off;

		if (len > LINE_MAX_BYTES)
			return false;
		memcpy(line, data + off, len);
		line[len] = '\0';
		off += len;
		err[0] = '\0';
		if (tern_config_apply_line(c, line, err, sizeof(err)) < 0) {
			if (!err[0])
				fail("apply_line failed without a reason");
			return false;
		}
	}
	return tern_config_validate(c, err, sizeof(err)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern_config loaded, before, by_line;
	char path[64], err[512];
	bool lines_ok;
	int fd, rc;

	fd = memfd_create("tern-fuzz-config", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	fresh(&loaded);
	before = loaded;
	err[0] = '\0';
	rc = tern_config_load(&loaded, path, err, sizeof(err));
	close(fd);
	if (rc < 0) {
		if (memcmp(&loaded, &before, sizeof(loaded)) != 0)
			fail("a failed load changed the config");
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			fail("a failed load gave no reason");
	}

	fresh(&by_line);
	lines_ok = apply_lines(data, size, &by_line);
	if (lines_ok && rc < 0)
		fail("every line applies but the file does not load");
	if (lines_ok && memcmp(&loaded, &by_line, sizeof(loaded)) != 0)
		fail("loading the file and applying its lines give different configs");
	return 0;
}
