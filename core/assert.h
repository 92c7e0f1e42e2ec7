// MEMD_ASSERT(cond): the allocator's preconditions, as the kernel states them
// with VM_BUG_ON and VM_WARN_ON (CONFIG_DEBUG_VM). On when NDEBUG is not
// defined (Debug builds, the sanitizer builds, the tests' default build) or
// when MEMD_ASSERTIONS is defined; then a failed condition prints
// "file:line: function: MEMD_ASSERT(cond) failed" and aborts. Off in Release:
// the condition is not evaluated and no code is emitted (it is still
// compiled, inside sizeof, so it cannot rot).
#pragma once

#if !defined(NDEBUG) || defined(MEMD_ASSERTIONS)

#include <cstdio>
#include <cstdlib>

namespace memd::detail {

[[noreturn, gnu::cold, gnu::noinline]] inline void assert_fail(const char* cond, const char* file,
                                                               int line, const char* func) {
  std::fprintf(stderr, "%s:%d: %s: MEMD_ASSERT(%s) failed\n", file, line, func, cond);
  std::abort();
}

}  // namespace memd::detail

#define MEMD_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::memd::detail::assert_fail(#cond, __FILE__, __LINE__, __func__))

#else

#define MEMD_ASSERT(cond) static_cast<void>(sizeof(!(cond)))

#endif
