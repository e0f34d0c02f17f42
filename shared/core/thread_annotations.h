#pragma once
// Clang's thread-safety attributes (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html),
// spelled as macros so GCC builds see nothing. The clang CI build compiles with
// -Wthread-safety -Werror: a member marked GUARDED_BY(mu_) read without mu_ held, or a
// function marked REQUIRES(mu_) called without it, does not compile there.
//
// Use core::Mutex / core::MutexLock (mutex.h): libstdc++'s std::mutex carries no capability
// attribute, so the analysis cannot see it.

// Abseil's legacy header (absl/base/internal/thread_annotations.h, pulled in by its containers)
// defines several of the same names with the same attributes; whichever comes first stands.
#if defined(__clang__)
#define MANDRILL_THREAD_ATTRIBUTE(x) __attribute__((x))
#else
#define MANDRILL_THREAD_ATTRIBUTE(x)
#endif

#ifndef CAPABILITY
#define CAPABILITY(x) MANDRILL_THREAD_ATTRIBUTE(capability(x))
#endif
#ifndef SCOPED_CAPABILITY
#define SCOPED_CAPABILITY MANDRILL_THREAD_ATTRIBUTE(scoped_lockable)
#endif
#ifndef GUARDED_BY
#define GUARDED_BY(x) MANDRILL_THREAD_ATTRIBUTE(guarded_by(x))
#endif
#ifndef PT_GUARDED_BY
#define PT_GUARDED_BY(x) MANDRILL_THREAD_ATTRIBUTE(pt_guarded_by(x))
#endif
#ifndef ACQUIRED_BEFORE
#define ACQUIRED_BEFORE(...) MANDRILL_THREAD_ATTRIBUTE(acquired_before(__VA_ARGS__))
#endif
#ifndef ACQUIRED_AFTER
#define ACQUIRED_AFTER(...) MANDRILL_THREAD_ATTRIBUTE(acquired_after(__VA_ARGS__))
#endif
#ifndef REQUIRES
#define REQUIRES(...) MANDRILL_THREAD_ATTRIBUTE(requires_capability(__VA_ARGS__))
#endif
#ifndef ACQUIRE
#define ACQUIRE(...) MANDRILL_THREAD_ATTRIBUTE(acquire_capability(__VA_ARGS__))
#endif
#ifndef RELEASE
#define RELEASE(...) MANDRILL_THREAD_ATTRIBUTE(release_capability(__VA_ARGS__))
#endif
#ifndef TRY_ACQUIRE
#define TRY_ACQUIRE(...) MANDRILL_THREAD_ATTRIBUTE(try_acquire_capability(__VA_ARGS__))
#endif
#ifndef EXCLUDES
#define EXCLUDES(...) MANDRILL_THREAD_ATTRIBUTE(locks_excluded(__VA_ARGS__))
#endif
#ifndef ASSERT_CAPABILITY
#define ASSERT_CAPABILITY(x) MANDRILL_THREAD_ATTRIBUTE(assert_capability(x))
#endif
#ifndef RETURN_CAPABILITY
#define RETURN_CAPABILITY(x) MANDRILL_THREAD_ATTRIBUTE(lock_returned(x))
#endif
#ifndef NO_THREAD_SAFETY_ANALYSIS
#define NO_THREAD_SAFETY_ANALYSIS MANDRILL_THREAD_ATTRIBUTE(no_thread_safety_analysis)
#endif
