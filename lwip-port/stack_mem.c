/* stack_mem: size-class free lists in front of malloc for lwIP (stack_mem.h).
 *
 * A block is a 16-byte header (its class) and the caller's bytes; malloc
 * aligns to 16, so the caller's pointer is 16-aligned too (lwIP asks for
 * MEM_ALIGNMENT 8). A block always has its class's full size, so any
 * cached block of the class fits any request of it. A free block links to
 * the next through its first caller bytes.
 *
 * Classes: 16, 32, 48, 64 bytes, then four per power of two, 2^k * 5/4,
 * 6/4, 7/4 and 8/4, up to 128 KiB (a 64 KiB packet and its pbuf). Bigger
 * blocks go straight to malloc and back.
 */
#include "lwip-port/stack_mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16u
#define SMALL_CLASSES 4
#define FIRST_POW 6 /* 2^6 = 64: the small classes end there */
#define LAST_POW 16 /* 2^16 < t <= 2^17: the last row of classes */
#define NCLASSES (SMALL_CLASSES + (LAST_POW - FIRST_POW + 1) * 4)
#define MAX_CLASS_SIZE ((size_t)1 << (LAST_POW + 1))
#define CLASS_NONE UINT32_MAX
#define MAGIC 0x73746d6du /* "stmm" */

#ifdef T2S_STACK_MEM_NO_CACHE
#define CACHE_MAX 0u
#else
#define CACHE_MAX STACK_MEM_CACHE_MAX
#endif

struct hdr {
	uint32_t cls;
	uint32_t magic;
	uint64_t pad;
};

struct free_block {
	struct free_block *next;
};

struct size_class {
	struct free_block *head;
	uint32_t len;
	uint32_t low; /* the fewest cached since the last decay */
};

/* Process-global: lwIP's hooks carry no context (stack_mem.h). */
static struct {
	struct size_class cls[NCLASSES];
	size_t cached;
} mem;

static unsigned floor_log2(size_t v)
{
	return (unsigned)(sizeof(unsigned long long) * 8 - 1) - (unsigned)__builtin_clzll(v);
}

/* The class of a block of t bytes (header included), t > 0. */
static uint32_t class_of(size_t t)
{
	unsigned k;
	size_t step, over;

	if (t > MAX_CLASS_SIZE)
		return CLASS_NONE;
	if (t <= 64)
		return (uint32_t)((t + 15) / 16 - 1);
	k = floor_log2(t - 1);
	step = (size_t)1 << (k - 2);
	over = t - ((size_t)1 << k);
	return (uint32_t)(SMALL_CLASSES + (k - FIRST_POW) * 4 + (over + step - 1) / step - 1);
}

static size_t class_size(uint32_t c)
{
	unsigned k, j;

	if (c < SMALL_CLASSES)
		return 16 * (size_t)(c + 1);
	k = FIRST_POW + (c - SMALL_CLASSES) / 4;
	j = (c - SMALL_CLASSES) % 4;
	return ((size_t)1 << k) + (size_t)(j + 1) * ((size_t)1 << (k - 2));
}

void *stack_mem_alloc(size_t size)
{
	size_t t = size + HDR;
	uint32_t c;
	struct hdr *h;

	if (t < size)
		return NULL;
	c = class_of(t);
	if (c != CLASS_NONE && mem.cls[c].head != NULL) {
		struct size_class *sc = &mem.cls[c];
		struct free_block *b = sc->head;

		sc->head = b->next;
		sc->len--;
		if (sc->len < sc->low)
			sc->low = sc->len;
		mem.cached -= class_size(c);
		return b;
	}
	h = malloc(c == CLASS_NONE ? t : class_size(c));
	if (h == NULL)
		return NULL;
	h->cls = c;
	h->magic = MAGIC;
	return (char *)h + HDR;
}

void stack_mem_free(void *p)
{
	struct hdr *h;
	size_t sz;

	if (p == NULL)
		return;
	h = (struct hdr *)((char *)p - HDR);
	if (h->magic != MAGIC || (h->cls >= NCLASSES && h->cls != CLASS_NONE)) {
		/* Not ours, or its header was overwritten: the heap is corrupt,
		 * and going on would hand the damage to the next caller. */
		fprintf(stderr, "stack_mem: bad block header at %p\n", p);
		abort();
	}
	sz = h->cls == CLASS_NONE ? 0 : class_size(h->cls);
	if (sz == 0 || mem.cached + sz > CACHE_MAX) {
		free(h);
		return;
	}
	struct size_class *sc = &mem.cls[h->cls];
	struct free_block *b = p;

	b->next = sc->head;
	sc->head = b;
	sc->len++;
	mem.cached += sz;
}

void *stack_mem_calloc(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	p = stack_mem_alloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

/* Frees up to n blocks of class c; returns their bytes. */
static size_t class_release(uint32_t c, uint32_t n)
{
	struct size_class *sc = &mem.cls[c];
	size_t sz = class_size(c), freed = 0;

	while (n-- > 0 && sc->head != NULL) {
		struct free_block *b = sc->head;

		sc->head = b->next;
		sc->len--;
		free((char *)b - HDR);
		freed += sz;
	}
	mem.cached -= freed;
	sc->low = sc->len;
	return freed;
}

size_t stack_mem_decay(void)
{
	size_t freed = 0;

	for (uint32_t c = 0; c < NCLASSES; c++)
		freed += class_release(c, mem.cls[c].low);
	return freed;
}

void stack_mem_drain(void)
{
	for (uint32_t c = 0; c < NCLASSES; c++)
		class_release(c, UINT32_MAX);
}

size_t stack_mem_cached(void)
{
	return mem.cached;
}

bool stack_mem_caching(void)
{
	return CACHE_MAX > 0;
}
