#pragma once
// Every thread is named (net, loop, exec-N, journal) so `top -H` and gdb show whose is whose.
namespace mandrill::core {
// Truncated to the kernel's 15-character limit.
void SetThreadName(const char* name);
}  // namespace mandrill::core
