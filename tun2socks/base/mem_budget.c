/* mem_budget: levels with hysteresis (mem_budget.h). */
#include "tun2socks/base/mem_budget.h"

/* Where each level begins, in percent of the limit. */
static const unsigned enter_pct[] = { 0, 70, 85, 95 };
enum { MEM_HYSTERESIS_PCT = 10 };

void mem_budget_init(struct mem_budget *b, size_t limit)
{
	b->limit = limit;
	b->level = MEM_OK;
}

enum mem_level mem_budget_update(struct mem_budget *b, size_t used)
{
	/* percent, without overflow for any size_t */
	unsigned long long pct;
	int l;

	if (b->limit == 0)
		return b->level = MEM_OK;
	pct = (unsigned long long)(used / (b->limit / 100 + 1));
	/* up at once to the highest level reached */
	for (l = MEM_REFUSE; l > MEM_OK && pct < enter_pct[l]; l--)
		;
	if (l >= (int)b->level)
		return b->level = (enum mem_level)l;
	/* down one level at a time, each 10 points below its start */
	while (b->level > MEM_OK && pct + MEM_HYSTERESIS_PCT < enter_pct[b->level])
		b->level--;
	return b->level;
}

const char *mem_level_name(enum mem_level l)
{
	switch (l) {
	case MEM_OK:
		return "within the budget";
	case MEM_SHED_PENDING:
		return "shedding half-open connections and pending DNS";
	case MEM_SHED_IDLE:
		return "shedding half-open, pending DNS and idle UDP sessions";
	case MEM_REFUSE:
		return "refusing new flows";
	}
	return "?";
}
