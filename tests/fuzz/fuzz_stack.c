/* Fuzz the packet input path: TUN bytes -> stack_input -> hooks -> lwIP.
 * The input is a sequence of packets, each prefixed by a 2-byte length.
 * Accepted connections echo what they receive and are closed at the end;
 * the stack is destroyed after every input, so state never accumulates
 * and leaks show up under LeakSanitizer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip-port/stack.h"

static int out_packets;
static struct stack *fz_stack;

static int fz_output(void *arg, struct pbuf *p)
{
	(void)arg;
	out_packets += p->tot_len > 0;
	return 0;
}

static err_t fz_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p == NULL) {
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_close(pcb);
		return ERR_OK;
	}
	tcp_recved(pcb, p->tot_len);
	if (p->len <= tcp_sndbuf(pcb))
		tcp_write(pcb, p->payload, p->len, TCP_WRITE_FLAG_COPY);
	pbuf_free(p);
	return ERR_OK;
}

static int fz_accept(void *arg, struct tcp_pcb *pcb)
{
	(void)arg;
	tcp_recv(pcb, fz_recv);
	return 0;
}

static void fz_udp(void *arg, const ip_addr_t *src, uint16_t sport, const ip_addr_t *dst,
		   uint16_t dport, struct pbuf *p)
{
	(void)arg;
	/* Answer from the destination, as the UDP relay does. */
	if (p->len > 0)
		stack_udp_send(fz_stack, dst, dport, src, sport, p->payload, p->len);
	pbuf_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct stack_cbs cbs = { .output = fz_output,
					      .tcp_accept = fz_accept,
					      .udp_input = fz_udp };
	struct stack *s;

	if (stack_create(1500, &cbs, NULL, &s) != 0)
		return 0;
	fz_stack = s;
	while (size >= 2) {
		size_t n = (size_t)(data[0] << 8 | data[1]);
		struct pbuf *p;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (n == 0)
			continue;
		p = stack_pbuf_alloc(n);
		if (p == NULL)
			break;
		memcpy(p->payload, data, n);
		stack_input(s, p); /* p passes to the stack */
		data += n;
		size -= n;
	}
	stack_destroy(s);
	return 0;
}
