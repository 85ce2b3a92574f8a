/* mem: hand freed heap memory back to the OS. After a burst of flows
 * closes, the allocator keeps their pages; the daemon asks for them to be
 * released so RSS returns to its idle level. */
#ifndef T2S_MEM_H
#define T2S_MEM_H

void mem_release(void);

#endif
