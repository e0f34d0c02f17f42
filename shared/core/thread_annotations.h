#pragma once
// Clang's thread-safety attributes (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html),
// spelled as macros so GCC builds see nothing. The clang CI build compiles with
// -Wthread-safety -Werror: a member marked GUARDED_BY(mu_) read without mu_ held, or a
// function marked REQUIRES(mu_) called without it, does not compile there.
//
// Use core::Mutex / core::MutexLock (mutex.h): libstdc++'s std::mutex carries no capability
// attribute, so the analysis cannot see it.

#if defined(__clang__)
#define MANDRILL_THREAD_ATTRIBUTE(x) __attribute__((x))
#else
#define MANDRILL_THREAD_ATTRIBUTE(x)
#endif

#define CAPABILITY(x) MANDRILL_THREAD_ATTRIBUTE(capability(x))
#define SCOPED_CAPABILITY MANDRILL_THREAD_ATTRIBUTE(scoped_lockable)
#define GUARDED_BY(x) MANDRILL_THREAD_ATTRIBUTE(guarded_by(x))
#define PT_GUARDED_BY(x) MANDRILL_THREAD_ATTRIBUTE(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) MANDRILL_THREAD_ATTRIBUTE(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) MANDRILL_THREAD_ATTRIBUTE(acquired_after(__VA_ARGS__))
#define REQUIRES(...) MANDRILL_THREAD_ATTRIBUTE(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) MANDRILL_THREAD_ATTRIBUTE(acquire_capability(__VA_ARGS__))
#define RELEASE(...) MANDRILL_THREAD_ATTRIBUTE(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) MANDRILL_THREAD_ATTRIBUTE(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) MANDRILL_THREAD_ATTRIBUTE(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) MANDRILL_THREAD_ATTRIBUTE(assert_capability(x))
#define RETURN_CAPABILITY(x) MANDRILL_THREAD_ATTRIBUTE(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS MANDRILL_THREAD_ATTRIBUTE(no_thread_safety_analysis)
