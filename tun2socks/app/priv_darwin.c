/* priv: macOS creates utun devices (a PF_SYSTEM control socket) for root
 * only; there is no finer-grained privilege to grant. */
#include <unistd.h>

#include "tun2socks/app/priv.h"

int priv_tun_admin(void)
{
	return geteuid() == 0;
}

const char *priv_tun_hint(void)
{
	return "creating a utun device needs root: run tun2socks with sudo";
}
