/* NO_SYS=1: lwIP needs no semaphores, mailboxes or threads from us. */
#ifndef T2S_ARCH_SYS_ARCH_H
#define T2S_ARCH_SYS_ARCH_H
#endif
