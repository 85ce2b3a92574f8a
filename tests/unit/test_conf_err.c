/* Unit tests for config errors (config/conf_err.c): one error's format,
 * the list a load collects, the indentation-tab finder. */
#include "config/conf_err.h"
#include "test.h"

#include <errno.h>
#include <string.h>

static struct conf_err at(int line, int col, const char *msg)
{
	struct conf_err e;

	conf_err_set(&e, &(struct conf_pos){ "c.yaml", line, col }, "%s", msg);
	return e;
}

static void test_list_order(void)
{
	struct conf_err_list l;
	struct conf_err e;
	char buf[128];

	conf_err_list_clear(&l);
	T_EQ_INT(conf_err_list_lines(&l), 0);
	/* Reported out of order: kept in file order; ties in report order;
	 * no line after the rest. */
	e = at(0, 0, "whole file");
	conf_err_list_add(&l, &e);
	e = at(9, 1, "nine");
	conf_err_list_add(&l, &e);
	e = at(3, 7, "three-seven");
	conf_err_list_add(&l, &e);
	e = at(3, 2, "three-two");
	conf_err_list_add(&l, &e);
	e = at(3, 7, "three-seven again");
	conf_err_list_add(&l, &e);
	T_EQ_INT(l.n, 5);
	T_EQ_INT(l.total, 5);
	T_EQ_STR(l.v[0].msg, "three-two");
	T_EQ_STR(l.v[1].msg, "three-seven");
	T_EQ_STR(l.v[2].msg, "three-seven again");
	T_EQ_STR(l.v[3].msg, "nine");
	T_EQ_STR(l.v[4].msg, "whole file");
	T_EQ_INT(conf_err_list_lines(&l), 5);
	conf_err_list_line(&l, 0, buf, sizeof(buf));
	T_EQ_STR(buf, "c.yaml:3:2: three-two");
	conf_err_list_line(&l, 4, buf, sizeof(buf));
	T_EQ_STR(buf, "c.yaml: whole file");
	buf[0] = 'x';
	conf_err_list_line(&l, 5, buf, sizeof(buf)); /* past the end: empty */
	T_EQ_STR(buf, "");
	conf_err_list_line(&l, 0, buf, 0);
	conf_err_list_clear(&l);
	T_EQ_INT(l.n + l.total, 0);
}

static void test_list_limit(void)
{
	struct conf_err_list l;
	struct conf_err e;
	char buf[128];

	conf_err_list_clear(&l);
	for (int i = 0; i < CONF_ERR_LIST_MAX; i++) {
		e = at(100 + i, 1, "late");
		conf_err_list_add(&l, &e);
	}
	/* Full: a later error is only counted, an earlier one pushes out the
	 * last kept. */
	e = at(500, 1, "later");
	conf_err_list_add(&l, &e);
	T_EQ_INT(l.n, CONF_ERR_LIST_MAX);
	T_EQ_INT(l.v[CONF_ERR_LIST_MAX - 1].line, 100 + CONF_ERR_LIST_MAX - 1);
	e = at(1, 1, "early");
	conf_err_list_add(&l, &e);
	T_EQ_INT(l.n, CONF_ERR_LIST_MAX);
	T_EQ_INT(l.total, CONF_ERR_LIST_MAX + 2);
	T_EQ_STR(l.v[0].msg, "early");
	T_EQ_INT(l.v[CONF_ERR_LIST_MAX - 1].line, 100 + CONF_ERR_LIST_MAX - 2);
	e = at(0, 0, "no line");
	conf_err_list_add(&l, &e);
	T_EQ_INT(l.v[CONF_ERR_LIST_MAX - 1].line, 100 + CONF_ERR_LIST_MAX - 2);
	T_EQ_INT(conf_err_list_lines(&l), CONF_ERR_LIST_MAX + 1);
	conf_err_list_line(&l, CONF_ERR_LIST_MAX, buf, sizeof(buf));
	T_EQ_STR(buf, "and 3 more errors");
	l.total = l.n + 1;
	conf_err_list_line(&l, CONF_ERR_LIST_MAX, buf, sizeof(buf));
	T_EQ_STR(buf, "and 1 more error");
}

static void test_indent_tab(void)
{
	size_t off = 99;

	T_EQ_INT(conf_err_indent_tab("\tdevice: t0", 11, &off), 0);
	T_EQ_INT(off, 0);
	T_EQ_INT(conf_err_indent_tab("   \t x", 6, &off), 0);
	T_EQ_INT(off, 3);
	/* A tab after the indentation, or on the next line, is not one. */
	T_EQ_INT(conf_err_indent_tab("  a:\tb", 6, &off), -ENOENT);
	T_EQ_INT(off, 0);
	T_EQ_INT(conf_err_indent_tab("  a\n\tb", 6, &off), -ENOENT);
	T_EQ_INT(conf_err_indent_tab("  \r\tb", 5, &off), -ENOENT);
	T_EQ_INT(conf_err_indent_tab("\t", 0, &off), -ENOENT);
	T_EQ_INT(conf_err_indent_tab("", 0, &off), -ENOENT);
}

int main(void)
{
	T_RUN(test_list_order);
	T_RUN(test_list_limit);
	T_RUN(test_indent_tab);
	return test_summary();
}
