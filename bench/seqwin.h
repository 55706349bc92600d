/* SPDX-License-Identifier: MIT */
/*
 * Per-publisher sequence tracking at one subscriber: tells a new message from a
 * duplicate and a late (reordered) first receipt, with a window of the last 1024
 * sequence numbers, in constant memory per publisher.
 */
#ifndef TB_SEQWIN_H
#define TB_SEQWIN_H

#include <stdint.h>

#define TB_SEQWIN_BITS 1024

/* Seen sequence numbers of one publisher at one subscriber; zero-initialised = none seen. */
struct tb_seqwin {
	uint32_t next; /* highest seen + 1 */
	uint64_t bits[TB_SEQWIN_BITS / 64];
};

enum tb_seq_kind {
	TB_SEQ_NEW,  /* above every number seen so far (numbers skipped may still arrive) */
	TB_SEQ_LATE, /* a first receipt below the highest seen: reordered */
	TB_SEQ_DUP,  /* seen before */
};

/*
 * tb_seqwin_receive - classify sequence number seq and remember it. *progress is set to
 * how far the highest number seen advanced (seq + 1 - old next for TB_SEQ_NEW, else 0):
 * a receipt of s counts every number up to s as done for the sender's window. A number
 * more than TB_SEQWIN_BITS below the highest cannot be told from a duplicate and is
 * reported as TB_SEQ_LATE. Never fails. Owning thread only.
 */
enum tb_seq_kind tb_seqwin_receive(struct tb_seqwin *w, uint32_t seq, uint64_t *progress);

#endif
