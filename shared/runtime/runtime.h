// The whole public API of the coroutine runtime in one include. See docs/runtime.md.
#pragma once

#include "shared/runtime/cancel_scope.h"  // IWYU pragma: export
#include "shared/runtime/channel.h"       // IWYU pragma: export
#include "shared/core/clock.h"         // IWYU pragma: export
#include "shared/runtime/errors.h"        // IWYU pragma: export
#include "shared/runtime/executor.h"      // IWYU pragma: export
#include "shared/runtime/exit_stack.h"    // IWYU pragma: export
#include "shared/runtime/fd_watch.h"      // IWYU pragma: export
#include "shared/runtime/loop.h"          // IWYU pragma: export
#include "shared/runtime/select.h"        // IWYU pragma: export
#include "shared/runtime/signals.h"       // IWYU pragma: export
#include "shared/runtime/sleep.h"         // IWYU pragma: export
#include "shared/runtime/supervisor.h"    // IWYU pragma: export
#include "shared/runtime/task.h"          // IWYU pragma: export
#include "shared/runtime/task_handle.h"   // IWYU pragma: export
#include "shared/runtime/timeout.h"       // IWYU pragma: export
