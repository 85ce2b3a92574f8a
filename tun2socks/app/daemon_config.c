/* daemon_config: the defaults documented in --help (daemon_config.h). */
#include "tun2socks/app/daemon_config.h"

#include <string.h>

void daemon_config_defaults(struct daemon_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tun.fd = -1;
	cfg->tun.framing = -1;
	cfg->tun.mtu = 8500;
	cfg->tun.has_addr4 = true;
	memcpy(cfg->tun.addr4, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	cfg->tun.prefix4 = 15;
	cfg->tun.has_addr6 = true;
	memcpy(cfg->tun.addr6,
	       (uint8_t[]){ 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 16);
	cfg->tun.prefix6 = 126;
	cfg->connect_timeout_s = 10;
	/* RFC 5382 REQ-5: an established TCP mapping lives >= 2 h 4 min. */
	cfg->idle_timeout_s = 7440;
	cfg->udp_timeout_s = 60;
	cfg->log_level = LOG_INFO;
	cfg->check_proxy = true;
	cfg->dns.mode = DNS_MODE_FAKE_IP;
	cfg->dns.has4 = true;
	memcpy(cfg->dns.net4, (uint8_t[]){ 198, 18, 0, 0 }, 4);
	cfg->dns.prefix4 = 15;
	cfg->dns.has6 = true;
	memcpy(cfg->dns.net6,
	       (uint8_t[]){ 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 }, 16);
	cfg->dns.prefix6 = 64;
}
