/* mem_budget: the memory budget's levels (--max-memory; docs/design.md
 * §12, "Memory"). Pure: the daemon measures what it uses and asks which
 * level that is; each level sheds more, in a stated order:
 *
 *   MEM_OK             nothing
 *   MEM_SHED_PENDING   (from 70%) half-open connections and queries
 *                      waiting upstream capped low; freed memory returned
 *   MEM_SHED_IDLE      (from 85%) also UDP sessions idle a second ended
 *   MEM_REFUSE         (from 95%) also new flows refused: TCP reset, UDP
 *                      sessions and DNS forwarding refused (SERVFAIL)
 *
 * A level is left only once use falls 10 points below where it begins,
 * so a daemon near a threshold does not flap. Never an abort: open flows
 * go on whatever the level.
 */
#ifndef T2S_MEM_BUDGET_H
#define T2S_MEM_BUDGET_H

#include <stddef.h>

enum mem_level { MEM_OK, MEM_SHED_PENDING, MEM_SHED_IDLE, MEM_REFUSE };

struct mem_budget {
	size_t limit; /* bytes; 0: no budget (always MEM_OK) */
	enum mem_level level;
};

void mem_budget_init(struct mem_budget *b, size_t limit);

/* The level for used bytes now, given the level before (b->level, which
 * it updates). */
enum mem_level mem_budget_update(struct mem_budget *b, size_t used);

/* "ok", "shedding pending state", ... for the log. */
const char *mem_level_name(enum mem_level l);

#endif
