#include "lib/store/state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"

static const char *const output_paths[STATE_OUTPUT_COUNT] = {
    [STATE_OUTPUT_OUTCOMES] = "outcomes/trade_outcomes.jsonl.zst",
    [STATE_OUTPUT_QUARANTINE] = "quarantine.jsonl",
    [STATE_OUTPUT_TRADE_KEYS] = "outcomes/trade_keys.bin",
    [STATE_OUTPUT_WEIGHT_LOG] = "weight_learning.jsonl",
};

const char *state_output_path(enum state_output_id id)
{
	return output_paths[id];
}

void state_init(struct state *st)
{
	memset(st, 0, sizeof *st);
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		st->source[s].count.last_record_ts = CALENDAR_NONE;
}

static json_t *hex64(uint64_t v)
{
	char buf[20];
	snprintf(buf, sizeof buf, "%016" PRIx64, v);
	return json_string(buf);
}

static json_t *uint_json(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *time_json(int64_t us)
{
	char buf[40];
	if (us == CALENDAR_NONE || us == 0)
		return json_null();
	calendar_format_iso(us, buf, sizeof buf);
	return json_string(buf);
}

static json_t *position_json(const struct follow_position *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "path", json_string(p->path));
	json_object_set_new(o, "device", uint_json(p->dev));
	json_object_set_new(o, "inode", uint_json(p->ino));
	json_object_set_new(o, "offset", uint_json(p->offset));
	json_object_set_new(o, "size", uint_json(p->size));
	json_object_set_new(o, "mtime_us", json_integer(p->mtime_us));
	json_object_set_new(o, "compressed", json_boolean(p->compressed));
	if (p->growing)
		json_object_set_new(o, "growing", json_true());
	json_object_set_new(o, "fingerprint",
			    json_pack("{s:o,s:o,s:o,s:o}", "head_bytes", uint_json(p->head_len),
				      "head_hash", hex64(p->head_hash), "tail_bytes",
				      uint_json(p->tail_len), "tail_hash", hex64(p->tail_hash)));
	return o;
}

json_t *state_to_json(const struct state *st)
{
	json_t *o = json_object(), *sources = json_object(), *outputs = json_object();
	uint64_t total_learned[PROFILE_SOURCE_COUNT] = {0};
	int64_t last_ts = CALENDAR_NONE;

	json_object_set_new(o, "format", json_integer(STATE_FORMAT));
	json_object_set_new(o, "generation", uint_json(st->generation));
	json_object_set_new(o, "committed_at", time_json(st->committed_at));
	json_object_set_new(o, "committed_at_us", json_integer(st->committed_at));
	json_object_set_new(o, "profile", json_string(st->profile));
	json_object_set_new(o, "logs", json_string(st->logs));
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		const struct state_source *src = &st->source[s];
		const struct state_counters *c = &src->count;
		if (!src->file[0])
			continue;
		json_t *j = json_object(), *drain = json_array(), *done = json_array();
		json_object_set_new(j, "file", json_string(src->file));
		json_object_set_new(j, "current",
				    src->follow.has_current ? position_json(&src->follow.current)
							    : json_null());
		for (size_t i = 0; i < src->follow.n_draining; i++)
			json_array_append_new(drain, position_json(&src->follow.draining[i]));
		json_object_set_new(j, "draining", drain);
		for (size_t i = 0; i < src->follow.n_done; i++)
			json_array_append_new(
			    done, json_pack("{s:o,s:o,s:o,s:o,s:o}", "head_bytes",
					    uint_json(src->follow.done[i].head_len), "head_hash",
					    hex64(src->follow.done[i].head_hash), "size",
					    uint_json(src->follow.done[i].size), "device",
					    uint_json(src->follow.done[i].dev), "inode",
					    uint_json(src->follow.done[i].ino)));
		json_object_set_new(j, "finished", done);
		json_object_set_new(j, "records_read", uint_json(c->read));
		json_object_set_new(j, "records_learned", uint_json(c->learned));
		json_object_set_new(j, "trades_recorded", uint_json(c->trades));
		json_object_set_new(j, "records_quarantined", uint_json(c->quarantined));
		json_object_set_new(j, "records_skipped", uint_json(c->skipped));
		json_object_set_new(j, "skipped_by_reason",
				    json_pack("{s:o,s:o,s:o,s:o}", "ignored", uint_json(c->ignored),
					      "duplicate", uint_json(c->duplicates), "long_line",
					      uint_json(c->long_lines), "unterminated_tail",
					      uint_json(c->tails)));
		json_object_set_new(j, "pnl_sign_mismatch", uint_json(c->sign_mismatch));
		json_object_set_new(j, "last_record_ts", time_json(c->last_record_ts));
		json_object_set_new(j, "last_record_ts_us",
				    c->last_record_ts == CALENDAR_NONE
					? json_null()
					: json_integer(c->last_record_ts));
		json_object_set_new(j, "last_record_id",
				    c->last_record_id[0] ? json_string(c->last_record_id)
							 : json_null());
		json_object_set_new(sources, profile_source_name((enum profile_source_id)s), j);
		total_learned[s] = s == PROFILE_SOURCE_ATTRIBUTION ? c->trades : c->learned;
		if (c->last_record_ts != CALENDAR_NONE &&
		    (last_ts == CALENDAR_NONE || c->last_record_ts > last_ts))
			last_ts = c->last_record_ts;
	}
	json_object_set_new(o, "sources", sources);
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++)
		json_object_set_new(outputs, output_paths[i],
				    json_pack("{s:o}", "length", uint_json(st->output_length[i])));
	json_object_set_new(o, "outputs", outputs);
	json_object_set_new(o, "learner_file",
			    st->learner_file[0] ? json_string(st->learner_file) : json_null());
	/* The original learners' keys. */
	json_object_set_new(o, "last_processed_ts", time_json(last_ts));
	json_object_set_new(o, "total_trades_processed",
			    uint_json(total_learned[PROFILE_SOURCE_ATTRIBUTION]));
	json_object_set_new(o, "total_exits_processed",
			    uint_json(total_learned[PROFILE_SOURCE_EXIT]));
	json_object_set_new(o, "total_signals_processed",
			    uint_json(total_learned[PROFILE_SOURCE_SIGNALS]));
	json_object_set_new(o, "total_orders_processed",
			    uint_json(total_learned[PROFILE_SOURCE_ORDERS]));
	return o;
}

static uint64_t get_u(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static uint64_t get_hex(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? strtoull(s, NULL, 16) : 0;
}

static void position_from(json_t *o, struct follow_position *p)
{
	json_t *fp = json_object_get(o, "fingerprint");
	const char *path = json_string_value(json_object_get(o, "path"));
	memset(p, 0, sizeof *p);
	snprintf(p->path, sizeof p->path, "%s", path ? path : "");
	p->dev = get_u(o, "device");
	p->ino = get_u(o, "inode");
	p->offset = get_u(o, "offset");
	p->size = get_u(o, "size");
	p->mtime_us = (int64_t)get_u(o, "mtime_us");
	p->compressed = json_is_true(json_object_get(o, "compressed"));
	p->growing = json_is_true(json_object_get(o, "growing"));
	p->head_len = (uint32_t)get_u(fp, "head_bytes");
	p->tail_len = (uint32_t)get_u(fp, "tail_bytes");
	p->head_hash = get_hex(fp, "head_hash");
	p->tail_hash = get_hex(fp, "tail_hash");
}

int state_from_json(json_t *j, struct state *st, struct err *err)
{
	json_t *sources, *outputs, *v;
	const char *s;

	state_init(st);
	if (!json_is_object(j) || get_u(j, "format") != STATE_FORMAT)
		return err_fail(err, "not a state file of format %d", STATE_FORMAT);
	st->generation = get_u(j, "generation");
	st->committed_at = (int64_t)get_u(j, "committed_at_us");
	s = json_string_value(json_object_get(j, "profile"));
	snprintf(st->profile, sizeof st->profile, "%s", s ? s : "");
	s = json_string_value(json_object_get(j, "logs"));
	snprintf(st->logs, sizeof st->logs, "%s", s ? s : "");
	s = json_string_value(json_object_get(j, "learner_file"));
	snprintf(st->learner_file, sizeof st->learner_file, "%s", s ? s : "");
	sources = json_object_get(j, "sources");
	for (int i = 0; i < PROFILE_SOURCE_COUNT; i++) {
		struct state_source *src = &st->source[i];
		json_t *o =
		    json_object_get(sources, profile_source_name((enum profile_source_id)i));
		size_t k;
		if (!json_is_object(o))
			continue;
		s = json_string_value(json_object_get(o, "file"));
		snprintf(src->file, sizeof src->file, "%s", s ? s : "");
		v = json_object_get(o, "current");
		src->follow.has_current = json_is_object(v);
		if (src->follow.has_current)
			position_from(v, &src->follow.current);
		json_array_foreach(json_object_get(o, "draining"), k, v)
		{
			if (src->follow.n_draining < FOLLOW_MAX_DRAINING)
				position_from(v, &src->follow.draining[src->follow.n_draining++]);
		}
		json_array_foreach(json_object_get(o, "finished"), k, v)
		{
			if (src->follow.n_done == FOLLOW_MAX_DONE)
				break;
			struct follow_done *d = &src->follow.done[src->follow.n_done++];
			d->head_len = (uint32_t)get_u(v, "head_bytes");
			d->head_hash = get_hex(v, "head_hash");
			d->size = get_u(v, "size");
			d->dev = get_u(v, "device");
			d->ino = get_u(v, "inode");
		}
		struct state_counters *c = &src->count;
		json_t *why = json_object_get(o, "skipped_by_reason");
		c->read = get_u(o, "records_read");
		c->learned = get_u(o, "records_learned");
		c->quarantined = get_u(o, "records_quarantined");
		c->trades = get_u(o, "trades_recorded");
		c->skipped = get_u(o, "records_skipped");
		c->ignored = get_u(why, "ignored");
		c->duplicates = get_u(why, "duplicate");
		c->long_lines = get_u(why, "long_line");
		c->tails = get_u(why, "unterminated_tail");
		c->sign_mismatch = get_u(o, "pnl_sign_mismatch");
		v = json_object_get(o, "last_record_ts_us");
		c->last_record_ts = json_is_integer(v) ? json_integer_value(v) : CALENDAR_NONE;
		s = json_string_value(json_object_get(o, "last_record_id"));
		snprintf(c->last_record_id, sizeof c->last_record_id, "%s", s ? s : "");
	}
	outputs = json_object_get(j, "outputs");
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++)
		st->output_length[i] = get_u(json_object_get(outputs, output_paths[i]), "length");
	return 0;
}

static int load_one(const char *path, struct state *st, struct err *err)
{
	char *text;
	size_t len;
	json_error_t jerr;
	json_t *j;
	int rc;

	if (durable_read_all(path, &text, &len, err))
		return errno == ENOENT ? 0 : -1;
	j = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!j)
		return err_fail(err, "%s: damaged (%s at line %d)", path, jerr.text, jerr.line);
	rc = state_from_json(j, st, err);
	json_decref(j);
	if (rc)
		return err_fail(err, "%s: %s", path, err->msg);
	return 1;
}

int state_load(const char *dir, struct state *st, int *used_prev, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64], prev[FOLLOW_PATH_MAX + 64];
	struct err first;
	int rc;

	*used_prev = 0;
	snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
	snprintf(prev, sizeof prev, "%s/%s.prev", dir, STATE_FILE);
	rc = load_one(path, st, &first);
	if (rc != 0 && rc != -1)
		return rc;
	if (rc == -1 || access(path, F_OK) != 0) {
		int prc = load_one(prev, st, err);
		if (prc == 1) {
			*used_prev = 1;
			return 1;
		}
		if (rc == -1) {
			*err = first;
			return -1;
		}
		state_init(st);
		return 0;
	}
	state_init(st);
	return 0;
}

int state_save(const char *dir, const struct state *st, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64], prev[FOLLOW_PATH_MAX + 64];
	json_t *j = state_to_json(st);
	size_t len;
	char *text = jsontext_dump(j, JSONTEXT_PRETTY, &len);
	int rc;

	json_decref(j);
	if (!text)
		return err_fail(err, "out of memory");
	snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
	snprintf(prev, sizeof prev, "%s/%s.prev", dir, STATE_FILE);
	/* Keep the committed version as .prev before replacing it: a link,
	 * so there is no instant without a committed state file. */
	if (unlink(prev) != 0 && errno != ENOENT) {
		free(text);
		return err_fail(err, "%s: %s", prev, strerror(errno));
	}
	if (link(path, prev) != 0 && errno != ENOENT) {
		free(text);
		return err_fail(err, "%s: %s", prev, strerror(errno));
	}
	rc = durable_replace(path, text, len, err);
	free(text);
	return rc;
}
