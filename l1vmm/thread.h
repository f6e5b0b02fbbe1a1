/* SPDX-License-Identifier: MIT */
/*
 * DOC: starting a thread that leaves signals to main.
 *
 * l1vmm's signals (SIGINT, SIGTERM, ...) are main's; other threads block
 * them. A thread must never block the signals it raises on itself (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGSYS): the kernel forces such a fault with the
 * default action, and the process dies with no report (no crash line, no
 * sanitizer report).
 */
#ifndef L1VMM_THREAD_H
#define L1VMM_THREAD_H

#include <pthread.h>

/* pthread_create() of fn(arg) with every signal blocked in the new thread
 * but kick (0: none) and the ones it raises itself. pthread_create()'s result. */
int thread__create_quiet(pthread_t *t, void *(*fn)(void *), void *arg, int kick);

#endif
