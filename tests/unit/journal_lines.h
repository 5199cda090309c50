/*
 * What the runner and hook tests share: the lines of STATE/jobs.jsonl, each
 * read as one JSON object, in an array (empty when there is no file).
 */
#ifndef TRADELEARN_TEST_JOURNAL_LINES_H
#define TRADELEARN_TEST_JOURNAL_LINES_H

#include <stdio.h>
#include <jansson.h>

static inline json_t *journal_lines(const char *state_dir)
{
	char path[4200], line[4096];
	json_t *all = json_array();
	snprintf(path, sizeof path, "%s/jobs.jsonl", state_dir);
	FILE *fp = fopen(path, "r");
	while (fp && fgets(line, sizeof line, fp))
		json_array_append_new(all, json_loads(line, 0, NULL));
	if (fp)
		fclose(fp);
	return all;
}

#endif
