/*
 * registry — the model versions of a root, the deployed pointer, rollback
 * and retention.
 *
 * Files (models_dir is <root>/models, state_dir <root>/state):
 *
 *   models/model_YYYYMMDD_HHMMSS.tar.zst  one bundle per trained candidate
 *       (bundle.h): model.json, metrics.json, manifest.json
 *   models/registry.json  {"format": 1, "deployed": ID or null,
 *       "versions": [{"id", "bundle" (its file name, null once retention
 *        removed it), "trained_at", "data", "samples", "candidate",
 *        "metrics" (its hold-out figures, holdout.h), "status" ("deployed",
 *        "rejected", "archived", "rolled_back"), "reason", "decided_by"
 *        ("gate", "deploy by hand", "rollback"), "decision" (the gate's
 *        checks and reasons), "deployed_at" (its first deployment, or
 *        null), "ever_deployed"}, ...] (oldest first),
 *       "deployments": [{"version", "at", "by", "id"}, ...] (oldest first),
 *       "last_decision": the last retrain decision event, or null}
 *   models/current.json   the deployed version's model.json with "version"
 *       and "deployed_at" (its first deployment) added: what a bot loads. A
 *       rollback writes a version's file again byte for byte.
 *   models/.candidate     while a retrain records a candidate: its version,
 *       bundle and decision event
 *   models/.lock          held by whoever changes any of these
 *   state/baseline_performance.json  what the daily job's retrain triggers
 *       compare with: after a deployment, the deployed version's hold-out
 *       figures (win_rate, profit_factor and sharpe_7d of all the hold-out's
 *       trades, accuracy of the model), "version", "deployment" (an id of
 *       that deployment: a rollback or a new deployment changes it), and
 *       "last_retrain" (the day of the newest trained version)
 *   state/retrain_log.jsonl  one line per retrain decision (the event)
 *
 * Every file is replaced atomically (durable_replace), the log appended
 * with one write and fsync'd. The order of the writes of a retrain that
 * trained a candidate (registry_record), each durable before the next:
 *
 *   1. models/.candidate  ← {version, bundle, event}
 *   2. the bundle (temp file, fsync, rename)
 *   3. models/registry.json — the commit point: the version exists, with
 *      its status, and the deployed pointer moved when it was deployed
 *   4. models/current.json (when deployed), state/baseline_performance.json
 *   5. state/retrain_log.jsonl ← the event
 *   6. bundles that retention let go are removed
 *   7. models/.candidate removed
 *
 * A kill -9 before 3 leaves registry.json and current.json as they were
 * (the old files stand until each rename); after 3, the registry is the
 * new one and steps 4 to 7 are redone from it. So registry_open(), which
 * every command that writes here calls first, recovers: it removes temp
 * files of dead writers; with a .candidate the registry does not know, it
 * removes that bundle (a candidate half made: discarded); with one it
 * knows, it appends the event to the log unless the log's last line is
 * that event (finished); and always it makes current.json, the baseline
 * and the bundle files agree with the registry (current.json rewritten
 * from the deployed version's bundle when its version or deployed_at
 * differ, the baseline when its deployment or last_retrain differ, files
 * of removed bundles unlinked). A decision that trained nothing (too
 * little data) goes through the same steps without 2 and 6.
 * `models deploy` and `models rollback` write 3 and then 4: a crash between
 * them is finished the same way.
 *
 * Readers (status, `models list` while a retrain holds the lock) read
 * registry.json without the lock: it is always whole.
 */
#ifndef TRADELEARN_REGISTRY_H
#define TRADELEARN_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/base/err.h"
#include "lib/base/logline.h"

#define REGISTRY_FORMAT 1
#define REGISTRY_VERSION_MAX 40 /* "model_YYYYMMDD_HHMMSS" and its NUL, with room */
#define REGISTRY_BY_GATE "gate"
#define REGISTRY_BY_HAND "deploy by hand"
#define REGISTRY_BY_ROLLBACK "rollback"

struct registry_options {
	const char *models_dir;
	const char *state_dir;
	long keep_bundles; /* newest bundles kept beside every version ever deployed */
	logline_fn log;	   /* one line for the operator; may be NULL */
	void *log_ctx;
};

struct registry;

/* Takes models/.lock (creating models_dir when absent), reads
 * registry.json (absent: an empty registry) and recovers as described
 * above, saying through o->log what it finished or discarded. Returns the
 * open registry (registry_close() releases it), or NULL with err set:
 * EWOULDBLOCK when another process holds the lock ("... held by pid N"),
 * EBADMSG when registry.json is damaged (the message says which key and
 * what to do), the file system's errno, ENOMEM. */
struct registry *registry_open(const struct registry_options *o, struct err *err);

/* Releases the lock and frees r; NULL does nothing. */
void registry_close(struct registry *r);

/* The registry document (borrowed; valid until the next call that changes
 * r). */
json_t *registry_doc(const struct registry *r);

/* Reads models_dir/registry.json without the lock, checked as
 * registry_open() checks it: a new reference (an empty registry when the
 * file is absent), or NULL with err set (EBADMSG: damaged). */
json_t *registry_load(const char *models_dir, struct err *err);

/* The version object of id in doc (borrowed), or NULL. */
json_t *registry_version(json_t *doc, const char *id);

/* The model.json of version v (a version object of the registry, borrowed)
 * from its bundle in models_dir, every checksum verified: a new reference,
 * or NULL with err set (EINVAL: retention removed the bundle; the bundle's
 * failure, bundle.h; EBADMSG: model.json missing or not a JSON object). */
json_t *registry_model(const char *models_dir, json_t *v, struct err *err);

/* The deployed version's id in doc, or NULL. */
const char *registry_deployed(json_t *doc);

/* The last deployment of doc ({"version", "at", "by", "id"}; borrowed), or
 * NULL. */
json_t *registry_last_deployment(json_t *doc);

/* A new version id for a candidate trained at now_us: "model_" and the UTC
 * date and time "YYYYMMDD_HHMMSS", one second later while the id is taken
 * (in the registry, or a file of that name exists). */
void registry_new_id(const struct registry *r, int64_t now_us, char *id, size_t len);

/* The path of a version's bundle file: models_dir/<id>.tar.zst. */
void registry_bundle_path(const struct registry *r, const char *id, char *path, size_t len);

/* What registry_record() records. Everything is borrowed. */
struct registry_candidate {
	const char *id; /* from registry_new_id(); NULL: the decision trained nothing */
	/* The version's registry entry: trained_at, data, samples, candidate,
	 * metrics, decision, reason (status and the rest are set here). */
	json_t *entry;
	int deploy;    /* the gate passed it */
	json_t *event; /* the decision event: the line of state/retrain_log.jsonl */
	/* The bundle's members and manifest fields (bundle_write()). */
	const char *model_json, *metrics_json;
	size_t model_len, metrics_len;
	json_t *manifest;
	int64_t now_us;
};

/* Records a retrain's decision in the order above: the version (when c->id
 * is set) with status "deployed" (the deployed one before it "archived")
 * or "rejected", decided by the gate, its bundle, the last decision, the
 * log line, then current.json and the baseline, then retention. Returns 0,
 * or -1 with err set; the registry then is as before or as after (the
 * next registry_open() finishes it). */
int registry_record(struct registry *r, const struct registry_candidate *c, struct err *err);

/* Deploys version id by hand (the gate bypassed, and the registry says
 * so): it becomes "deployed", decided by "deploy by hand", the version
 * deployed before it "archived". Its bundle must read back whole (checksums
 * verified). Returns 0, or -1 with err set: EINVAL for an unknown id, one
 * already deployed, or one whose bundle retention removed; the bundle's
 * failure (EBADMSG damaged, ENOENT missing). */
int registry_deploy(struct registry *r, const char *id, int64_t now_us, struct err *err);

/* Rolls back to version id, or (id NULL) to the version deployed before
 * the one in use: the latest deployment of another version that was not
 * itself rolled back. The one in use becomes "rolled_back", the target
 * "deployed", both decided by "rollback"; current.json is the target's,
 * byte for byte as when it was deployed. *target (may be NULL, at least
 * REGISTRY_VERSION_MAX bytes) receives the version now deployed. Returns
 * 0, or -1 with err set (EINVAL: nothing deployed, no earlier version, id
 * unknown or never deployed; the bundle's failure). */
int registry_rollback(struct registry *r, const char *id, int64_t now_us, char *target,
		      struct err *err);

/* What the deploy hook receives for the last deployment of doc (by hand or
 * by a rollback): {"text", "version", "decision": "deploy", "decided_by",
 * "reasons": [its reason], "figures": its hold-out figures, "deployed_at",
 * "deployment"}. A new reference, or NULL when nothing was deployed (or on
 * ENOMEM). */
json_t *registry_deploy_event(json_t *doc);

/* The deployment id in state_dir/baseline_performance.json into id (len
 * bytes): "" when the file, or the key, is absent (no deployment yet).
 * Returns 0, or -1 with err set when the file exists but is not a JSON
 * object. */
int registry_baseline_deployment(const char *state_dir, char *id, size_t len, struct err *err);

/* The last line of state_dir/retrain_log.jsonl (a new reference), or NULL
 * when there is none. A torn last line (a crash in the middle of writing
 * it) is not a line. */
json_t *registry_last_logged(const char *state_dir);

#endif
