/* must_check: T2S_MUST_CHECK marks a function whose result must be looked
 * at. Setup functions (create, init, open, load) return 0 or -errno, and
 * a caller that drops the status goes on with a half-made object: the
 * --tun-fd crash of issue 14 was uv_poll_start() on a handle whose
 * uv_poll_init() had failed. The compiler then names every such caller.
 *
 * Only for results that are never right to ignore: GCC does not accept a
 * (void) cast as "ignored on purpose" (clang does), so a best-effort call
 * (addrmap_put) stays unmarked rather than grow a dummy variable.
 */
#ifndef T2S_MUST_CHECK_H
#define T2S_MUST_CHECK_H

#if defined(__GNUC__) || defined(__clang__)
#define T2S_MUST_CHECK __attribute__((warn_unused_result))
#else
#define T2S_MUST_CHECK
#endif

#endif
