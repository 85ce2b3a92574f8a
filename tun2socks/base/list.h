/* list: an intrusive circular doubly linked list. A node is embedded in
 * each object; the list is a sentinel node of the same type, whose next
 * is the first element and prev the last, so inserting and removing have
 * no special case for the ends and need no pointer to the list.
 *
 *	struct flow { ...; struct list_node link; };
 *	struct list_node live;    list_init(&live);
 *	list_insert_before(&live, &f->link);           appends f
 *	list_for_each_safe(n, tmp, &live)
 *		close(list_entry(n, struct flow, link));   may remove n
 *
 * A node is on at most one list at a time. A removed node points at
 * itself, so removing it again does nothing.
 */
#ifndef T2S_LIST_H
#define T2S_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *prev, *next;
};

/* The object holding member `member` of type `type` at node n. */
/* (clang-format 14 takes the cast for a subtraction) */
/* clang-format off */
#define list_entry(n, type, member) ((type *)((char *)(n) - offsetof(type, member)))
/* clang-format on */

/* Every node of the list at head, first to last, as pos; tmp holds the
 * next one, so the loop body may remove (or free) pos. */
#define list_for_each_safe(pos, tmp, head)                               \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

/* An empty list, or a node on none. */
static inline void list_init(struct list_node *n)
{
	n->prev = n->next = n;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* Puts n (on no list) right after pos: after the head, it is first. */
static inline void list_insert_after(struct list_node *pos, struct list_node *n)
{
	n->prev = pos;
	n->next = pos->next;
	pos->next->prev = n;
	pos->next = n;
}

/* Puts n (on no list) right before pos: before the head, it is last. */
static inline void list_insert_before(struct list_node *pos, struct list_node *n)
{
	list_insert_after(pos->prev, n);
}

/* Takes n off its list; n then points at itself (list_init). */
static inline void list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

#endif
