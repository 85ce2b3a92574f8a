/* addr: lwIP addresses as text for logs. */
#ifndef T2S_ADDR_H
#define T2S_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"

/* "1.2.3.4:80" or "[2001:db8::1]:80" (lower case) into buf; returns buf. */
const char *addr_ep_str(const ip_addr_t *ip, uint16_t port, char *buf, size_t cap);

#endif
