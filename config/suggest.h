/* suggest: "did you mean ...?" for a misspelt name (a config key, a rule
 * type).
 *
 * Names are compared by optimal string alignment distance: the fewest
 * insertions, deletions, substitutions and swaps of two adjacent bytes
 * that turn one into the other, ASCII letters compared case-insensitively
 * (so "Server" is one step from nothing but still matches "server"). A
 * candidate is offered only within max(1, len / 3) edits of the word's
 * length len: "passwrd" -> "password", but "tls" is not offered for "tfo".
 * Pure; no allocation (words longer than SUGGEST_WORD_MAX get no
 * suggestion, which bounds the work).
 */
#ifndef T2S_SUGGEST_H
#define T2S_SUGGEST_H

#include <stddef.h>

enum { SUGGEST_WORD_MAX = 64 };

/* The closest candidate so far; fill with suggest_init(), feed with
 * suggest_add() (any number of candidate lists), read suggest_best(). */
struct suggest {
	const char *word;
	size_t len;
	const char *best; /* borrowed from the candidates */
	size_t best_dist;
};

/* word[0, len) need not be NUL-terminated; it is borrowed until the last
 * suggest_add(). */
void suggest_init(struct suggest *s, const char *word, size_t len);

/* Considers cand (NUL-terminated). On a tie the earlier candidate stays. */
void suggest_add(struct suggest *s, const char *cand);

/* Each of the n candidates in turn. */
void suggest_add_list(struct suggest *s, const char *const *cands, size_t n);

/* The closest candidate within the threshold, or NULL. */
const char *suggest_best(const struct suggest *s);

/* The distance between a[0, alen) and b[0, blen), or SUGGEST_WORD_MAX + 1
 * when either is longer than SUGGEST_WORD_MAX. */
size_t suggest_distance(const char *a, size_t alen, const char *b, size_t blen);

#endif
