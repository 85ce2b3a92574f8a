/* rule_spec: see rule_spec.h. */
#include "config/rule_spec.h"

#include <stdlib.h>
#include <string.h>

void rule_spec_free(struct rule_spec *spec)
{
	if (!spec)
		return;
	for (size_t i = 0; i < spec->n_sub; i++)
		rule_spec_free(&spec->sub[i]);
	free(spec->sub);
	free(spec->str);
	free(spec->ranges);
	free(spec->target);
	free(spec->text);
	memset(spec, 0, sizeof(*spec));
}
