/* mem_budget (tun2socks/base/mem_budget.c): levels and their hysteresis. */
#include "tun2socks/base/mem_budget.h"
#include "test.h"

#define MB (1024u * 1024u)

int main(void)
{
	struct mem_budget b;

	/* no budget: always ok */
	mem_budget_init(&b, 0);
	T_EQ_INT(mem_budget_update(&b, (size_t)-1), MEM_OK);

	mem_budget_init(&b, 100 * MB);
	T_EQ_INT(mem_budget_update(&b, 10 * MB), MEM_OK);
	T_EQ_INT(mem_budget_update(&b, 69 * MB), MEM_OK);
	T_EQ_INT(mem_budget_update(&b, 71 * MB), MEM_SHED_PENDING);
	T_EQ_INT(mem_budget_update(&b, 86 * MB), MEM_SHED_IDLE);
	/* straight to the top from anywhere */
	mem_budget_init(&b, 100 * MB);
	T_EQ_INT(mem_budget_update(&b, 200 * MB), MEM_REFUSE);
	/* down only 10 points below a level's start: 95 -> below 85 */
	T_EQ_INT(mem_budget_update(&b, 90 * MB), MEM_REFUSE);
	T_EQ_INT(mem_budget_update(&b, 86 * MB), MEM_REFUSE);
	T_EQ_INT(mem_budget_update(&b, 84 * MB), MEM_SHED_IDLE);
	/* 85 -> below 75; 70 -> below 60; several at once when it falls */
	T_EQ_INT(mem_budget_update(&b, 76 * MB), MEM_SHED_IDLE);
	T_EQ_INT(mem_budget_update(&b, 74 * MB), MEM_SHED_PENDING);
	T_EQ_INT(mem_budget_update(&b, 61 * MB), MEM_SHED_PENDING);
	T_EQ_INT(mem_budget_update(&b, 96 * MB), MEM_REFUSE);
	T_EQ_INT(mem_budget_update(&b, 5 * MB), MEM_OK);
	/* a tiny limit and huge sizes do not overflow */
	mem_budget_init(&b, 50);
	T_EQ_INT(mem_budget_update(&b, 0), MEM_OK);
	T_EQ_INT(mem_budget_update(&b, (size_t)-1), MEM_REFUSE);
	T_CHECK(mem_level_name(MEM_REFUSE)[0] != '?');
	return test_summary();
}
