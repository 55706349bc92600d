/* SPDX-License-Identifier: MIT */
/*
 * Sequence window: a ring of TB_SEQWIN_BITS bits indexed by sequence number modulo its
 * size holds which of the numbers [next - TB_SEQWIN_BITS, next) have arrived. Advancing
 * past a gap clears the bits of the skipped numbers, so they read as "not yet seen" and
 * a late arrival is told from a duplicate.
 */
#include <stdint.h>
#include <string.h>

#include "bench/seqwin.h"

static inline uint64_t *word_of(struct tb_seqwin *w, uint32_t s)
{
	return &w->bits[(s % TB_SEQWIN_BITS) / 64];
}

enum tb_seq_kind tb_seqwin_receive(struct tb_seqwin *w, uint32_t seq, uint64_t *progress)
{
	*progress = 0;
	if (seq >= w->next) {
		uint32_t gap = seq - w->next;
		if (gap >= TB_SEQWIN_BITS) {
			memset(w->bits, 0, sizeof(w->bits));
		} else {
			for (uint32_t s = w->next; s < seq; s++)
				*word_of(w, s) &= ~(1ull << (s % 64));
		}
		*word_of(w, seq) |= 1ull << (seq % 64);
		*progress = (uint64_t)gap + 1;
		w->next = seq + 1;
		return TB_SEQ_NEW;
	}
	if (w->next - seq > TB_SEQWIN_BITS)
		return TB_SEQ_LATE;
	uint64_t *word = word_of(w, seq);
	uint64_t bit = 1ull << (seq % 64);
	if (*word & bit)
		return TB_SEQ_DUP;
	*word |= bit;
	return TB_SEQ_LATE;
}
