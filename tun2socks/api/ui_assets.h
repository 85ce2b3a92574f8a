/* ui_assets: the built-in dashboard's files (ui/ in the repository),
 * compiled into the binary by cmake/T2SEmbed.cmake (docs/design.md §20). */
#ifndef T2S_UI_ASSETS_H
#define T2S_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *name; /* "index.html" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The file of that name, or NULL. */
const struct ui_asset *ui_asset_find(const char *name);

#endif
