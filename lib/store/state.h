/*
 * state — state/learning_processing_state.json, the commit point.
 *
 * The state file holds, per source, where reading stands (the follower's
 * positions: path, device, inode, fingerprints, offset, rotated files still
 * to finish, recently finished ones), the per-source counters, the committed
 * lengths of the append-only outputs, and the name of the generation file
 * that holds the rest of the learned state. Renaming it into place is the
 * commit; the previous committed version is kept as
 * "learning_processing_state.json.prev" (a hard link made before the
 * rename), so a damaged file falls back to the one before.
 *
 * It also carries the keys that the original Python learners wrote
 * (last_processed_ts, total_trades_processed, total_exits_processed,
 * total_signals_processed, total_orders_processed) so their tools keep working.
 */
#ifndef TRADELEARN_STATE_H
#define TRADELEARN_STATE_H

#include <stdint.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/ingest/follow.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"

#define STATE_FORMAT 1
#define STATE_FILE "learning_processing_state.json"

#define STATE_MAX_UNMAPPED 32

/* Values of one field that its value map (or the side's spellings) did not
 * hold: "side", "regime", "categories.venue", "components.fee"... */
struct state_unmapped {
	char field[RECORD_UNMAPPED_NAME];
	uint64_t count;
};

struct state_counters {
	uint64_t read;		     /* lines read (complete lines, long ones included) */
	uint64_t learned;	     /* records applied */
	uint64_t trades;	     /* of those, closes and partial closes recorded as outcomes */
	uint64_t quarantined;	     /* not JSON, not an object, missing or bad field */
	uint64_t quarantine_dropped; /* of those, not kept: quarantine.jsonl was full */
	uint64_t skipped;	     /* ignored by the profile, duplicates, long lines, tails */
	uint64_t ignored, duplicates, long_lines, tails, sign_mismatch; /* skipped, by why */
	uint64_t features_skipped; /* values of components that are not numbers */
	size_t n_unmapped;	   /* by field, in the order first seen; the fields
				    * beyond STATE_MAX_UNMAPPED add to the last */
	struct state_unmapped unmapped[STATE_MAX_UNMAPPED];
	int64_t last_record_ts; /* CALENDAR_NONE before the first record */
	char last_record_id[160];
};

struct state_source {
	char file[256];
	struct follow_saved follow;
	struct state_counters count;
};

enum state_output_id {
	STATE_OUTPUT_OUTCOMES,
	STATE_OUTPUT_QUARANTINE,
	STATE_OUTPUT_TRADE_KEYS,
	STATE_OUTPUT_WEIGHT_LOG,
	STATE_OUTPUT_COUNT
};

struct state {
	uint64_t generation;  /* 0 before the first commit */
	int64_t committed_at; /* microseconds, UTC */
	char profile[64];
	char logs[FOLLOW_PATH_MAX];
	struct state_source source[PROFILE_SOURCE_COUNT];
	uint64_t output_length[STATE_OUTPUT_COUNT];
	char learner_file[64]; /* "learner.<generation>.json", or "" */
	/* The SHA-256 of learner_file's bytes as 64 hexadecimal digits, so the
	 * seal of this file covers the learned state it names (the learner,
	 * the positions, the trades and context rows waiting for their join);
	 * "" in a state of an earlier version (its generation is read as it
	 * is, and the next commit names one with its digest). */
	char learner_sha256[65];
};

/* Counts what record r had unmapped and skipped in c. */
void state_count_record(struct state_counters *c, const struct record *r);

/* Paths of the outputs, relative to the state folder. */
const char *state_output_path(enum state_output_id id);

void state_init(struct state *st);

/* Where state_load found the committed state. */
enum state_origin {
	STATE_NONE,    /* neither file exists: a first start, st is state_init's */
	STATE_MAIN,    /* learning_processing_state.json */
	STATE_PREV,    /* the main file is damaged or missing: its .prev was used */
	STATE_UNSEALED /* the main file, written by an earlier version without a
			* checksum (accepted once: the next commit seals it) */
};

/* Reads the committed state from dir into st and returns 0, with *origin
 * saying from where; with STATE_PREV, err holds why the main file was passed
 * over ("<path>: damaged: outputs is missing"), for the caller to say once;
 * with STATE_UNSEALED, the note to say.
 *
 * The file's last key is its checksum (see state_save); one that does not
 * match is damage. A file without one is accepted (STATE_UNSEALED) only
 * when its .prev has none either: once a sealed commit exists, a missing
 * checksum is damage too.
 *
 * A file is used only when it is whole (state_from_json). Without a whole
 * .prev, returns -1 with err set and st state_init's: when the main file is
 * damaged (or missing beside a damaged .prev), EBADMSG and a message naming
 * the file, the reason and what to do (restore it from a backup, or remove it
 * to start over); when it cannot be read (permissions, I/O), the read's errno
 * and message. A damaged state is never read as a first start: the outputs
 * would be cut back to the zero lengths it would then say. */
int state_load(const char *dir, struct state *st, enum state_origin *origin, struct err *err);

/* Commits st: the file's last key is "checksum": "sha256:<64 hex digits>",
 * the SHA-256 of the file's bytes with those 64 digits as zeros. Writes the
 * temp file, fsyncs, keeps the current file as .prev,
 * renames, fsyncs the folder. Returns 0, or -1 with err set (the file system's
 * errno, or ENOMEM when state_to_json fails); the committed state is then the
 * one before. */
int state_save(const char *dir, const struct state *st, struct err *err);

/* The state as JSON (new reference), e.g. for status; NULL on ENOMEM (or a
 * path that is not UTF-8): never a document missing a key. */
json_t *state_to_json(const struct state *st);

/* Reads j (borrowed) into st, strictly: every key state_to_json writes that
 * the reader uses must be there with its type (a source without a file may be
 * left out; "growing" is written only when true). Returns 0, or -1 with err
 * set to EBADMSG and st state_init's. "unmapped" and "features_skipped",
 * which files written before them lack, read as none when absent, but
 * must be counts when present. Errors: "damaged: <key> is missing", "damaged:
 * <key> is not a count", ..., or "format N is newer than this program's". */
int state_from_json(json_t *j, struct state *st, struct err *err);

/* Called with one line to say (no newline). */
typedef void (*state_say_fn)(void *ctx, const char *line);

/* Checks the outputs in dir against st's committed lengths, and with cut
 * removes what was written after the last commit. Bytes are removed only
 * after a committed length that is a boundary of what the file holds: a
 * zstd frame boundary of an outcomes file that decodes up to it, the end of
 * a line, a whole number of keys. Each removal (or, without cut, each that
 * a start would make) is said as what it is ("a torn frame of 37 bytes
 * after the last commit"). Returns 0, or -1 with err set and nothing cut:
 * ERANGE for an output shorter than committed (or missing), EBADMSG for a
 * length that is not a boundary, ELOOP/EINVAL for a link or a non-regular
 * file, each with the path and what to do. */
/* The advice of a committed learner generation that cannot be used. */
#define STATE_LEARNER_ADVICE                                                                       \
	"restore it from a backup, or run `tradelearn backfill` to rebuild the learned state "     \
	"from the logs"

/* Reads st's learner generation in dir into *text (malloc'd, *len bytes;
 * NULL and 0 when st names none) and checks it against st's
 * learner_sha256 when st has one. Returns 0, or -1 with err set and *text
 * NULL: ENOENT "<path>: the committed generation is missing: <advice>",
 * EBADMSG "<path>: damaged: its SHA-256 is not the one the state file
 * names (edited or damaged): <advice>", or the read's errno. */
int state_read_learner(const char *dir, const struct state *st, char **text, size_t *len,
		       struct err *err);

/* st's learner generation in dir, read and checked as state_read_learner()
 * does, as a JSON document in *doc (the caller's reference; NULL when st
 * names none). Every reader of the learned state goes through it, so an
 * edited or damaged generation is refused by all of them alike. Returns 0,
 * or -1 with err set (as state_read_learner(), or EBADMSG "<path>: damaged
 * (<why> at line N): <advice>" for text that is not JSON) and *doc NULL. */
int state_load_learner(const char *dir, const struct state *st, json_t **doc, struct err *err);

int state_check_outputs(const char *dir, const struct state *st, state_say_fn say, void *ctx,
			int cut, struct err *err);

#endif
