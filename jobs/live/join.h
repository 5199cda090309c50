/*
 * join — context rows attached to trades, whatever order the two files are
 * read in.
 *
 * A profile's context source (profile.h) holds rows whose mapped fields
 * (components, regime, sector, timeframe, confidence, score, side...)
 * belong to a trade of the attribution source. A trade (a close or a
 * partial close, completed from its open) waits in a queue until its
 * match is decided, then goes on, with its context's fields attached, to
 * be recorded and learned from. Trades leave the queue in the order they
 * arrived (the attribution file's order), so the order of learning is the
 * trade file's, never the interleaving of the two files.
 *
 * The match of a trade T (symbol s; time t = its entry time, else its
 * close time):
 *   - "key": the first context row, in the context file's order, whose key
 *     equals T's stable key;
 *   - "symbol_time": among the context rows of symbol s with |time − t| ≤
 *     window_s, the nearest (a tie: the earlier time, then the earlier
 *     row);
 * among rows that no earlier trade took (one row, one trade), and not
 * older than keep (JOIN_KEEP_S) before the latest time of a decided trade.
 *
 * T is decided, in queue order, when
 *   - its key's row has arrived (key), or
 *   - the context source has delivered a row dated after t + window_s (a
 *     bot writes its context file in time order: nothing that could match
 *     is still to come), or
 *   - the context source was read to its end in this batch, and the wall
 *     clock is past T's close time + window_s (a live bot that has not
 *     written the row by then has none for it; for history, whose close
 *     times are past, it is at once), or
 *   - more than JOIN_MAX_PENDING trades wait (the oldest goes unmatched).
 * Until the context source has delivered its first row, trades wait: the
 * context file may simply not be there yet.
 *
 * So for the same two complete files the decisions, the matches and the
 * order are the same whichever file is read first and however the batches
 * fell. The queue and the waiting context rows are part of the learned
 * state (join_save / join_load, in the learner generation), so a kill -9
 * restarts exactly: what was read and committed is there, what was not is
 * read again.
 *
 * A waiting trade or context row is kept as a copy of everything the job
 * uses of it (its fields, its row), the same copy whether it was just read
 * or reloaded after a restart, so both give bit-identical learning.
 */
#ifndef TRADELEARN_JOIN_H
#define TRADELEARN_JOIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/base/err.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"

#define JOIN_MAX_PENDING 100000	 /* trades waiting, at most */
#define JOIN_MAX_CONTEXTS 200000 /* context rows waiting, at most: the oldest goes */
#define JOIN_KEEP_S (7 * 86400)	 /* a context row this much older than a decided trade goes */

struct join;

/* Counts, for status. */
struct join_counts {
	uint64_t matched, unmatched; /* trades decided, with and without a context row */
	uint64_t pending;	     /* trades waiting */
	uint64_t contexts_waiting;   /* context rows not taken yet */
	uint64_t contexts_unused;    /* context rows let go without a trade */
};

/* The join of profile p (borrowed), or NULL with err ENOMEM. A profile
 * without a context source gives a join that is not active (join_active
 * 0): the job then applies trades at once. */
struct join *join_new(const struct profile *p, struct err *err);
void join_free(struct join *j);
int join_active(const struct join *j);

/* A context row (copied, as join_trade: r stays its owner's, which may be
 * a parse pool's arena). 0, or -1 with err ENOMEM. */
int join_context(struct join *j, const struct record *r, struct err *err);
/* A trade, completed from its open (copied: r may borrow from anything;
 * it is left as it was). now_us: the wall clock. 0, or -1 with err. */
int join_trade(struct join *j, const struct record *r, struct err *err);
/* The context source was read to its end in this batch. */
void join_caught_up(struct join *j);

/* The next decided trade, with its context's fields attached: 1 with *out
 * pointing at it (valid until join_done), 0 when the oldest waiting trade
 * is not decided yet (or none waits), -1 with err ENOMEM. now_us is the
 * wall clock. */
int join_next(struct join *j, int64_t now_us, struct record **out, struct err *err);
/* Lets the trade join_next gave go. */
void join_done(struct join *j);
/* Ends a batch: the "read to its end" of join_caught_up is forgotten. */
void join_end_batch(struct join *j);

void join_counts(const struct join *j, struct join_counts *c);

/* The queue, the waiting rows and the counts as JSON (a new reference, or
 * NULL on ENOMEM); loaded back (borrowed) into a fresh join: 0, or -1 with
 * err EINVAL "join: <problem>" or ENOMEM. */
json_t *join_save(const struct join *j);
int join_load(struct join *j, json_t *saved, struct err *err);

/* The counts of a saved join (join_save's "counts"), for status: 0, or -1
 * when saved holds none. */
int join_counts_of(json_t *saved, struct join_counts *c);

#endif
