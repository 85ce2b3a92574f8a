/* Unit tests for the intrusive list (tun2socks/base/list.h). */
#include "tun2socks/base/list.h"
#include "test.h"

struct item {
	int v;
	struct list_node link;
};

/* The values on the list, first to last, as digits ("" when empty); the
 * walk backwards must give the same in reverse. */
static const char *values(struct list_node *head, char out[16])
{
	struct list_node *n, *tmp;
	size_t k = 0, back;

	list_for_each_safe(n, tmp, head) {
		if (k < 15)
			out[k++] = (char)('0' + list_entry(n, struct item, link)->v);
	}
	out[k] = '\0';
	back = k;
	for (n = head->prev; n != head; n = n->prev)
		if (back == 0 || out[--back] != '0' + list_entry(n, struct item, link)->v)
			return "broken prev links";
	return back == 0 ? out : "broken prev links";
}

static void test_insert_remove(void)
{
	struct item it[5];
	struct list_node head;
	char buf[16];

	list_init(&head);
	T_CHECK(list_empty(&head));
	T_EQ_STR(values(&head, buf), "");
	for (int i = 0; i < 5; i++)
		it[i].v = i;
	list_insert_before(&head, &it[1].link); /* append */
	list_insert_before(&head, &it[2].link);
	list_insert_after(&head, &it[0].link); /* push front */
	list_insert_after(&it[2].link, &it[4].link);
	list_insert_before(&it[4].link, &it[3].link);
	T_CHECK(!list_empty(&head));
	T_EQ_STR(values(&head, buf), "01234");

	list_remove(&it[0].link); /* first */
	list_remove(&it[4].link); /* last */
	list_remove(&it[2].link); /* middle */
	T_EQ_STR(values(&head, buf), "13");
	/* A removed node points at itself: removing it again is harmless. */
	T_CHECK(it[2].link.next == &it[2].link && it[2].link.prev == &it[2].link);
	list_remove(&it[2].link);
	T_EQ_STR(values(&head, buf), "13");
	/* And it can go on a list again. */
	list_insert_before(&head, &it[2].link);
	T_EQ_STR(values(&head, buf), "132");
}

static void test_remove_while_walking(void)
{
	struct item it[6];
	struct list_node head, *n, *tmp;
	char buf[16];
	int seen = 0;

	list_init(&head);
	for (int i = 0; i < 6; i++) {
		it[i].v = i;
		list_insert_before(&head, &it[i].link);
	}
	/* Odd values go; every node is still visited once. */
	list_for_each_safe(n, tmp, &head) {
		struct item *x = list_entry(n, struct item, link);

		seen++;
		if (x->v % 2)
			list_remove(n);
	}
	T_EQ_INT(seen, 6);
	T_EQ_STR(values(&head, buf), "024");
	/* Everything goes. */
	list_for_each_safe(n, tmp, &head)
		list_remove(n);
	T_CHECK(list_empty(&head));
	T_EQ_STR(values(&head, buf), "");
}

int main(void)
{
	T_RUN(test_insert_remove);
	T_RUN(test_remove_while_walking);
	return test_summary();
}
